"""The versions that matter, read from package metadata (never by importing TensorFlow), in one recipe.

Every cache key, every check that two processes can share work, and every
provenance stamp takes its versions from here, so they cannot disagree:

- ``conversion``: what a conversion's bytes depend on: TensorFlow, Keras (it
  loads every Keras source and builds many Python entries' models), tf-keras
  where a legacy model loads, and this project.
- ``measurement``: what a report's figures depend on besides: the interpreter
  that runs the artifact (ai-edge-litert).
- ``environment``: all of them, for a warm service or a cluster worker, which
  must run exactly the build's environment to share its work.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path

PROJECT = "tflite-build"
# The folder that holds our own packages: a worker puts it on its path, the warm service
# digests their files for its identity, and the worker never takes them for user code.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGES = ("converter", "rules")
TENSORFLOW = ("tensorflow", "tensorflow-cpu")  # either distribution provides the package
KERAS = "keras"
LEGACY_KERAS = "tf-keras"
INTERPRETER = "ai-edge-litert"


def version(distribution: str) -> str:
    """An installed distribution's version ('' if absent)."""
    found = _installed().get(_normalized(distribution))
    if found:
        return found
    import importlib.metadata  # here: the rare install without a well-formed .dist-info folder

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@functools.cache
def _installed() -> dict[str, str]:
    """Normalized name -> version of every distribution with a ``.dist-info`` folder on ``sys.path``.

    An installer names the folder ``{name}-{version}.dist-info``, so one listing
    of each path entry answers every lookup: a no-op build reads its versions in
    a fraction of a millisecond instead of parsing each one's METADATA. As
    ``importlib.metadata`` does, the first entry on the path that has a
    distribution wins; where that is an ``.egg-info`` folder (a development
    install) or an odd name, the version is '' here and read from its metadata.
    """
    return installed_in(sys.path)


def installed_in(folders: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``_installed`` over these folders instead of ``sys.path`` (the first that has one wins)."""
    found: dict[str, str] = {}
    for entry in folders:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                dist, dash, found_version = name[: -len(".dist-info")].partition("-")
                if not dash or not found_version or "-" in found_version:
                    found_version = ""  # not an installer's name: ask the metadata
                found.setdefault(_normalized(dist), found_version)
            elif name.endswith(".egg-info"):  # a development install's: its name has no version
                found.setdefault(_normalized(name[: -len(".egg-info")].partition("-")[0]), "")
    return found


def site_packages() -> tuple[str, ...]:
    """This environment's own package folders (not the rest of ``sys.path``)."""
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def installed() -> dict[str, str]:
    """Normalized name -> version of every distribution in this environment's own package
    folders ('' where the folder's name gives none): the same in any process of it."""
    return dict(sorted(installed_in(site_packages()).items()))


def normalized(name: str) -> str:
    """A distribution's name as ``installed`` keys it."""
    return _normalized(name)


def tensorflow_version() -> str:
    return next((v for v in map(version, TENSORFLOW) if v), "")


@functools.cache
def conversion(legacy_keras: bool = False) -> dict[str, str]:
    """Name -> version of what a conversion's bytes depend on (tf-keras only for a legacy model)."""
    found = {"tensorflow": tensorflow_version(), KERAS: version(KERAS), PROJECT: version(PROJECT)}
    if legacy_keras:
        found[LEGACY_KERAS] = version(LEGACY_KERAS)
    return found


def own() -> dict[str, str]:
    """This project's version: part of every key, whatever converts."""
    return {PROJECT: version(PROJECT)}


@functools.cache
def measurement() -> dict[str, str]:
    """Name -> version of what a report's measurements depend on: a conversion's, and the interpreter."""
    return {**conversion(), INTERPRETER: version(INTERPRETER)}


@functools.cache
def environment() -> dict[str, str]:
    """Every version above: what a warm service or a cluster worker must share with the build."""
    return {**conversion(legacy_keras=True), INTERPRETER: version(INTERPRETER)}


def forget() -> None:
    """Read the versions afresh (after an install in this process; tests)."""
    for recipe in (conversion, measurement, environment):
        recipe.cache_clear()
    _installed.cache_clear()
