"""What every benchmark here shares: running and timing processes, the generated projects and
child processes of the doit benchmarks, describing the machine, and RESULTS.md.

Imported by the benchmarks' in-process children too, before noop_bench's child starts its
clock: keep the imports at the top to the standard modules the benchmarks import anyway
(``importlib.metadata``, which doit loads, is imported where it is used).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
LOG_DIR = WORK / "logs"
REPORT_DIR = WORK / "reports"
RESULTS = BENCH / "RESULTS.md"
PYTHON = str(REPO / ".venv" / "bin" / "python")

# The projects generated under bench/work/ keep the artifact cache off: their builds write
# nothing outside bench/work/, and a no-op or a re-check never consults the cache anyway.
CACHE_OFF_PYPROJECT = '[tool.tflite-build]\ncache = "off"\n'
CACHE_OFF_ENV = {**os.environ, "TFLITE_BUILD_CACHE": "off"}  # the variable overrides pyproject


# --- running processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    seconds: float
    output: str  # stdout, then stderr
    returncode: int
    stdout: str = ""


def tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run_timed(
    command: Sequence[str], cwd: Path, env: dict[str, str] | None = None, *, check: bool = False
) -> Timed:
    """Wall clock of a whole process, spawn to exit, with its output (stdin: /dev/null);
    with ``check``, RuntimeError with the output's tail unless it exits 0."""
    start = time.perf_counter()
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    output = done.stdout + done.stderr
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} in {cwd}: status {done.returncode}\n{tail(output)}"
        )
    return Timed(seconds, output, done.returncode, done.stdout)


def run_logged(
    command: Sequence[str],
    log: Path,
    *,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    append: bool = False,
) -> float:
    """Run ``command`` with its output in ``log``; its wall-clock seconds. RuntimeError with the
    log's tail on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab" if append else "wb") as out:
        start = time.perf_counter()
        code = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
        ).returncode
        seconds = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} ... exited with status {code}; log {log}:\n"
            f"{tail(log.read_text(errors='replace'))}"
        )
    return seconds


def child_command(script: str, *args: object) -> list[str]:
    """``python SCRIPT _child ARGS...``: a benchmark running part of itself in a fresh process."""
    return [sys.executable, str(Path(script).resolve()), "_child", *map(str, args)]


def new_report(name: str) -> Path:
    """bench/work/reports/NAME for a child process to write: its folder made, any old one gone."""
    report = REPORT_DIR / name
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    return report


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; {} if it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (keeps mtimes of unchanged files)."""
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# --- doit projects and their runs ----------------------------------------------------------------


def doit_tasks(stdout: str) -> tuple[list[str], list[str]]:
    """The tasks a doit run executed (it prints ``.  task``) and found up to date (``-- task``)."""
    lines = stdout.splitlines()
    return (
        [line[3:] for line in lines if line.startswith(". ")],
        [line[3:] for line in lines if line.startswith("-- ")],
    )


def doit_noop(project: Path, tasks: Collection[str], command: Sequence[str] | None = None) -> Timed:
    """One whole ``python -m doit convert`` process (or ``command``) in ``project``, spawn to
    exit, cache off; RuntimeError unless it exited 0, executed nothing and reported exactly
    ``tasks`` up to date."""
    run = run_timed(command or [sys.executable, "-m", "doit", "convert"], project, CACHE_OFF_ENV)
    executed, fresh = doit_tasks(run.stdout)
    if run.returncode != 0 or executed or sorted(fresh) != sorted(tasks):
        raise RuntimeError(
            f"not a no-op in {project.name}: status {run.returncode}, {len(executed)} task(s) "
            f"executed, {len(fresh)} of {len(tasks)} up to date\n{tail(run.output)}"
        )
    return run


def inprocess_noop(
    script: str, project: Path, tasks: Collection[str], report_name: str, *extra: object
) -> dict[str, Any]:
    """One more no-op of ``project``, by ``script``'s ``_child inprocess PROJECT REPORT
    [EXTRA...]`` (doit run through its API in a child process), checked like any other: the
    child's report, with the run's ``wall_seconds``."""
    report = new_report(report_name)
    run = doit_noop(project, tasks, child_command(script, "inprocess", project, report, *extra))
    return {**json.loads(report.read_text()), "wall_seconds": run.seconds}


def timed_function(spent: dict[str, float], label: str, function: Callable[..., Any]) -> Any:
    """``function`` adding its run time to ``spent[label]`` (signature kept: doit inspects a
    python-action's parameters to pass it targets and the like)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

    return wrapper


def doit_api_facts(exit_code: int, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """What a child that ran doit through its API reports at the end: the exit code, whether
    TensorFlow got imported, and how many files the build state hashed (``namespace``: the
    dodo.py's, which holds the build as ``TFLITE_BUILD``; None for a project of plain doit)."""
    build = namespace.get("TFLITE_BUILD")
    return {
        "exit_code": exit_code,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "hashed": build.state.hashed if build is not None else None,
    }


def write_project(
    root: Path,
    generated_by: str,
    manifests: Mapping[str, str],
    pyproject: str = CACHE_OFF_PYPROJECT,
) -> None:
    """A rules project: the README's two-line dodo.py, a pyproject.toml (by default turning the
    artifact cache off) and ``manifests`` (folder -> model.yaml); unchanged files are left alone."""
    dodo = f'"""Generated by {generated_by} (do not edit)."""\n\nimport rules\n\n'
    write_if_changed(root / "dodo.py", dodo + "globals().update(rules.doit_tasks(__file__))\n")
    write_if_changed(root / "pyproject.toml", pyproject)
    for folder, manifest in manifests.items():
        write_if_changed(root / folder / "model.yaml", manifest)


def build_stamp(
    path: Path, recipe: Mapping[str, Any], built: bool, facts: Mapping[str, Any]
) -> dict[str, Any]:
    """The record of a project's last real build, kept in ``path``: rewritten with ``facts``
    and the date when the setup just built for real or the recipe changed, else as stored."""
    stamp = read_json(path)
    if built or stamp.get("recipe") != recipe:
        stamp = {"recipe": recipe, **facts, "built": now_utc()}
        write_json(path, stamp)
    return stamp


def saved_model_files(directory: Path) -> list[Path]:
    """The regular files of a SavedModel directory, sorted."""
    return sorted(p for p in directory.rglob("*") if p.is_file())


def export_keras(model: Any, directory: Path, files: Mapping[str, str] | None = None) -> None:
    """``model.export`` into ``directory``, with ``files`` (name -> text) beside it, through a
    staging folder renamed into place (not tf.saved_model.save: broken models with Keras 3)."""
    staging = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.export(str(staging))
    for name, text in (files or {}).items():
        (staging / name).write_text(text)
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)


def export_mlp(directory: Path, units: Sequence[int], seed: int, name: str) -> None:
    """Build and export a Keras 3 MLP: Input(units[0]), a relu Dense layer per middle entry, a
    linear Dense(units[-1]) (run it in a child process: it imports Keras/TF)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((units[0],), name="features")
    x = inputs
    for width in units[1:-1]:
        x = keras.layers.Dense(width, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(units[-1])(x), name=name)
    export_keras(model, directory)
    print(f"exported {model.count_params()} parameters to {directory}")


# --- figures -------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def runs(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class Check:
    """A target: what is measured, the measured value, the target, and whether it is met."""

    what: str
    value: str
    target: str
    ok: bool


# --- the machine ---------------------------------------------------------------------------------


def load_average() -> float:
    """The 1-minute load average (other work on a shared machine shows up here)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split()[:2])
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(*names: str) -> str:
    """The version of the first of these distributions that is installed, or "?"."""
    import importlib.metadata  # not at the top: noop_bench's child times doit's imports

    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?"


def git_commit(sources: Sequence[str] = ("converter", "rules")) -> str:
    """HEAD's short hash, noting uncommitted changes in ``sources`` (folders of the repo)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *sources],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    folders = " or ".join(f"{source}/" for source in sources)
    return head.stdout.strip() + (f" ({folders} has uncommitted changes)" if dirty else "")


def now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


# Named in a section's Python line -> the distributions that may provide it, first found wins.
PACKAGES = {"TensorFlow": ("tensorflow", "tensorflow-cpu"), "doit": ("doit",)}


def machine_lines(
    before_load: float,
    *,
    packages: Sequence[str] = ("TensorFlow", "doit"),
    sources: Sequence[str] = ("converter", "rules"),
) -> list[str]:
    """The Date (with the commit; uncommitted changes in ``sources`` noted), Machine and Python
    (with the versions of ``packages``) lines of a results section."""
    versions = "".join(f", {name} {version(*PACKAGES[name])}" for name in packages)
    return [
        f"- Date: {now_utc()}; commit {git_commit(sources)}",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores (shared; 1-min load average "
        f"{before_load:.2f} before the runs, {load_average():.2f} after)",
        f"- Python {platform.python_version()}{versions}",
    ]


# --- reporting -----------------------------------------------------------------------------------


def section(
    title: str,
    command: str,
    before_load: float,
    body: Iterable[str],
    *,
    packages: Sequence[str] = ("TensorFlow", "doit"),
    sources: Sequence[str] = ("converter", "rules"),
) -> str:
    """A results section: its title, how to reproduce it, the machine, then ``body``."""
    return "\n".join(
        [
            f"## {title}",
            "",
            f"Reproduce from the repository root: `{command}`",
            "",
            *machine_lines(before_load, packages=packages, sources=sources),
            *body,
        ]
    )


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table, its second column (the figure) right-aligned."""
    return [
        f"| {' | '.join(header)} |",
        "| --- | ---: |" + " --- |" * (len(header) - 2),
        *(f"| {' | '.join(row)} |" for row in rows),
    ]


def timings_table(what: str, rows: Iterable[tuple[str, Sequence[float]]]) -> list[str]:
    """The table of (name, runs in seconds): median and runs."""
    return table(
        (what, "median (s)", "runs (s)"),
        ((name, f"{median(values):.2f}", runs(values)) for name, values in rows),
    )


def checks_table(what: str, value: str, checks: Iterable[Check]) -> list[str]:
    return table(
        (what, value, "target", "result"),
        ((c.what, c.value, c.target, verdict(c.ok)) for c in checks),
    )


def print_timings(what: str, rows: Iterable[tuple[str, Sequence[float]]], width: int) -> None:
    """The console's table of (name, runs in seconds), after a blank line."""
    print(f"\n{what:<{width}} {'median (s)':>10}   runs (s)")
    for name, values in rows:
        print(f"{name:<{width}} {median(values):>10.2f}   {runs(values)}")


def print_checks(checks: Iterable[Check]) -> None:
    print()
    for c in checks:
        print(f"{c.what} = {c.value} (target {c.target}): {verdict(c.ok)}")


def print_facts(lines: Iterable[str]) -> None:
    """Lines of a results section, on the console (without Markdown's backticks)."""
    for line in lines:
        print(line.replace("`", ""))


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text}")
    return value


def reproduce(
    script: str, parser: argparse.ArgumentParser, args: argparse.Namespace, *flags: str
) -> str:
    """The command that reruns ``script`` as run: each of ``flags`` given if not its default."""
    return f".venv/bin/python bench/{Path(script).name}" + "".join(
        f" --{flag} {getattr(args, flag)}"
        for flag in flags
        if getattr(args, flag) != parser.get_default(flag)
    )


def update_results(name: str, section: str) -> None:
    """Replace this benchmark's section of RESULTS.md (between its markers), keeping the rest."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{section.strip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
