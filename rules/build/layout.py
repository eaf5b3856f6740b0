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
SHADOW = "shadow"  # a second toolchain's build: its artifacts under build/shadow/
OPS = "ops"

SUMMARY_FILES = ("summary.json", "summary.md", "summary.html")
INVENTORY = "ops.json"
REGISTRATION = "register_ops.cc"


def task_name(kind: str, variant: str) -> str:
    """``convert:digits/int8``: a task of ``kind`` for ``<model>/<variant>``."""
    return f"{kind}:{variant}"


# A variant's files: its stem plus one of these. Strings, not paths: the tasks of a
# big monorepo are made on every load, and pathlib's parsing would dominate a no-op.
ARTIFACT = ".tflite"
SIDECAR = ".convert.json"  # the conversion's record, written last: it marks the variant complete
LOG = ".convert.log"  # what TensorFlow printed while converting
REPORT_FILE = ".report.json"


def stem(build_dir: Path | str, model: str, variant: str) -> str:
    """``<build_dir>/<model>/<variant>``: every file of a variant is this plus a suffix."""
    return f"{build_dir}/{model}/{variant}"


def artifact(build_dir: Path | str, model: str, variant: str) -> Path:
    return Path(stem(build_dir, model, variant) + ARTIFACT)


def beside(artifact: Path, suffix: str) -> Path:
    """Another file of the artifact's variant: ``beside(a, SIDECAR)``."""
    return artifact.with_suffix(suffix)
