"""doit run for real, in this process, on a project in a temp dir: what it executed, printed, converted.

Runs use doit's own entry point (DoitMain) in the test process, so one engine
serves them all and its counters (requests answered by its workers or by the
warm service) prove when nothing was converted.
"""

from __future__ import annotations

import io
import runpy
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from converter.api import default_engine


@dataclass
class Run:
    code: int
    executed: set[str]
    output: str
    conversions: int
    hashed: int  # files this run read to hash them
    references: int = 0  # source models run in TensorFlow for reports
    layer_runs: int = 0  # int8 variants' per-layer measurements (TensorFlow too)


def references() -> int:
    engine = default_engine()
    return engine.requests_served - engine.conversions_served - engine.layer_runs


def layer_runs() -> int:
    return default_engine().layer_runs


def conversions() -> int:
    return default_engine().conversions_served


COMMANDS = {"clean", "list", "info", "forget", "ignore", "help"}


def doit(root: Path, *args: str) -> Run:
    """Run doit in this process on the project at ``root`` (its own dodo.py)."""
    namespace = runpy.run_path(str(root / "dodo.py"))
    report = root / "build" / "doit-report.txt"
    if (
        args and args[0] not in COMMANDS
    ):  # doit's reporter prints to the stdout it was imported with
        args = ("run", "-o", str(report), *args)
    report.unlink(missing_ok=True)
    out, err = io.StringIO(), io.StringIO()
    before, referenced, layered = conversions(), references(), layer_runs()
    with redirect_stdout(out), redirect_stderr(err):
        code = DoitMain(ModuleTaskLoader(namespace)).run(list(args))
    reported = report.read_text() if report.exists() else ""
    executed = {line[3:].strip() for line in reported.splitlines() if line.startswith(".  ")}
    output = reported + out.getvalue() + err.getvalue()
    build = namespace.get("TFLITE_BUILD")
    hashed = build.state.hashed if build is not None else 0
    return Run(
        code,
        executed,
        output,
        conversions() - before,
        hashed,
        references() - referenced,
        layer_runs() - layered,
    )


def converted(run: Run) -> set[str]:
    return {name for name in run.executed if name.startswith("convert:")}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
