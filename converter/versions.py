"""Installed versions, read from package metadata: never by importing TensorFlow."""

from __future__ import annotations

PROJECT = "tflite-build"


def version(distribution: str) -> str:
    """An installed distribution's version ('' if absent)."""
    import importlib.metadata  # here: a no-op build that needs no version never pays for it

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


def tensorflow_version() -> str:
    return version("tensorflow") or version("tensorflow-cpu")
