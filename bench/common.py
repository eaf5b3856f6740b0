"""What every benchmark here shares: timing whole processes, describing the machine, RESULTS.md."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
RESULTS = BENCH / "RESULTS.md"
PYTHON = str(REPO / ".venv" / "bin" / "python")


@dataclass(frozen=True)
class Timed:
    seconds: float
    output: str
    returncode: int


def run_timed(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Timed:
    """Wall clock of a whole process, spawn to exit, with its combined output."""
    start = time.perf_counter()
    done = subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return Timed(time.perf_counter() - start, done.stdout + done.stderr, done.returncode)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def runs(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def load_average() -> float:
    return os.getloadavg()[0]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split()[:2])
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def git_commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "converter", "rules"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head + (" (converter/ or rules/ has uncommitted changes)" if dirty else "")


def machine_lines(before_load: float) -> list[str]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"- Date: {now}; commit {git_commit()}",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores (shared; 1-min load average "
        f"{before_load:.2f} before the runs, {load_average():.2f} after)",
        f"- Python {platform.python_version()}, TensorFlow {version('tensorflow')}, "
        f"doit {version('doit')}",
    ]


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
