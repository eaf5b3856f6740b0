"""Every name a build gives, stated once: task names and the files a variant produces.

``<build_dir>/<model>/<variant>.tflite`` is the artifact; beside it its
conversion's record (``.convert.json``) and log (``.convert.log``), and its
report (``.report.json``). Tasks are ``convert:<model>/<variant>``,
``report:<model>/<variant>`` and the private ``_source:<model>/<variant>``.
"""

from __future__ import annotations

from pathlib import Path

CONVERT = "convert"
REPORT = "report"
SOURCE = "_source"  # the gate that runs a user's task making a source, when a report needs it
SUMMARY = "summary"
OPS = "ops"

SUMMARY_FILES = ("summary.json", "summary.md", "summary.html")
INVENTORY = "ops.json"
REGISTRATION = "register_ops.cc"


def task_name(kind: str, variant: str) -> str:
    """``convert:digits/int8``: a task of ``kind`` for ``<model>/<variant>``."""
    return f"{kind}:{variant}"


def artifact(build_dir: Path | str, model: str, variant: str) -> Path:
    return Path(f"{build_dir}/{model}/{variant}.tflite")


def sidecar(artifact: Path) -> Path:
    """The conversion's record, written last: it marks the variant complete."""
    return artifact.with_suffix(".convert.json")


def log(artifact: Path) -> Path:
    """What TensorFlow printed while converting."""
    return artifact.with_suffix(".convert.log")


def report(artifact: Path) -> Path:
    return artifact.with_suffix(".report.json")
