"""Benchmark: the warm conversion service against fresh TensorFlow processes, on 20 SavedModels.

The targets (issue "A warm conversion service"):

(a) The edit loop. One model's manifest is edited (its one variant goes from
    ``float32: {}`` to ``{quantize: dynamic}`` and back, alternately, so every
    run really converts one variant) and ``python -m doit convert`` rebuilds
    it. With a warm service it must be at least 6x faster than converting that
    model with one ``tflite_convert`` process (TensorFlow's CLI, from the
    interpreter's bin folder). The same edit and rebuild with the service off
    is measured beside it.
(b) A cold build of all 20 (the build folder removed) with a warm service and
    ``doit -n 2``: at least 2x faster than the one-process floor, one Python
    process importing TensorFlow and converting the 20 models with TF's own
    converter in a loop (convert_bench's floor, run by convert_bench itself).
    The same cold build with the service off is measured beside it. doit's two
    processes must reach the service at once: in every build, two conversions
    must run in its workers at the same time (a conversion's span: its
    artifact's modification time, which the worker writes last, back by its
    ``seconds`` from the sidecar).

Identical bytes in every path: the service's artifacts equal the local
worker's byte for byte, and TensorFlow's own output (``tflite_convert``, the
floor) once our provenance entry is removed, for every model and options each
path converted, and every path gives the same bytes in every repetition.

The project: bench/work/daemon/, folders ``model_00``.. with a copy of
convert_bench's SavedModels (made under bench/work/models/ when missing), one
variant each, the artifact cache off (the work is conversion, not restoring)
and ``daemon_workers = 2``. The service lives in its own private folder,
bench/work/daemon_service/ (``TFLITE_BUILD_DAEMON_DIR``): the first build that
needs it starts it, with the setup build (untimed). Every path is measured
once untimed, then ``--reps`` times, order rotated per repetition; whole
processes, spawn to exit; medians. The service's counters, read between runs,
show which runs it served: a run that should have used it and did not (or the
other way round) stops the benchmark. The benchmark stops the service at the
end, also after a failure. Last, one TF process converts a few of the models
and times the clean-up a warm worker runs after each request: the time a
worker spends outside its conversions.

Run from the repository root::

    .venv/bin/python bench/daemon_bench.py [--reps N] [--models N]

It prints tables and writes this benchmark's section of bench/RESULTS.md
(other sections are kept); it exits non-zero when a target is missed. On 2
cores the default run takes about 6 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import convert_bench
from common import (
    CACHE_OFF_ENV,
    LOG_DIR,
    RESULTS,
    WORK,
    Check,
    Timed,
    checks_table,
    child_command,
    doit_tasks,
    load_average,
    median,
    new_report,
    plural,
    positive_int,
    print_checks,
    print_facts,
    print_timings,
    reproduce,
    run_logged,
    run_timed,
    section,
    tail,
    timings_table,
    update_results,
    write_json,
    write_project,
)
from convert_bench import ensure_models, model_params, tflite_convert_path

from converter.service import client
from converter.service.client import ServiceConfig
from converter.service.rendezvous import ServiceError
from converter.service.server import Status
from converter.tflite import modelinfo

PROJECT = WORK / "daemon"
SERVICE_DIR = WORK / "daemon_service"
OUT_DIR = WORK / "out" / "daemon"
WORKERS = 2
PYPROJECT = f'[tool.tflite-build]\ncache = "off"\ndaemon_workers = {WORKERS}\n'
OPTIONS = {"float32": "{}", "dynamic": "{quantize: dynamic}"}  # the edited variant's two states
VARIANT = "float32"  # every model's one variant (the edit changes its options, not its name)
TARGET_EDIT = 6.0  # (a) tflite_convert / warm service, at least
TARGET_COLD = 2.0  # (b) floor / warm service, at least
CLEAN_UP_MODELS = 6  # converted by the clean-up probe
CLOCK_SLACK = 0.01  # seconds: the file times against perf_counter's durations

EDIT_ARMS = {
    "warm": "(a) warm service: edit + `doit convert`",
    "local": "(a) no service: edit + `doit convert`",
    "tflite_convert": "(a) one `tflite_convert` process",
}
COLD_ARMS = {
    "warm": "(b) warm service: cold `doit -n 2 convert`",
    "floor": "(b) floor: one TF process, every model",
    "local": "(b) no service: cold `doit -n 2 convert`",
}


def manifest(options: str) -> str:
    return f"source: {{saved_model: export}}\nvariants:\n  {VARIANT}: {OPTIONS[options]}\n"


def env(daemon: str) -> dict[str, str]:
    """The builds' environment: cache off, the service on or off, in its private folder."""
    variables = {**CACHE_OFF_ENV, "TFLITE_BUILD_DAEMON": daemon}
    variables["TFLITE_BUILD_DAEMON_DIR"] = str(SERVICE_DIR)
    variables.pop("CI", None)
    return variables


# --- setup: the project and the service --------------------------------------------------------


def ensure_project(count: int) -> list[str]:
    """bench/work/daemon/ with a copy of convert_bench's first ``count`` models; their names."""
    sources = ensure_models(count)
    names = [d.name for d in sources]
    write_project(
        PROJECT,
        "bench/daemon_bench.py: SavedModels with one variant each",
        {name: manifest("float32") for name in names},
        PYPROJECT,
    )
    for source in sources:
        export = PROJECT / source.name / "export"
        recipe = (source / "recipe.json").read_text()
        if not (export / "recipe.json").is_file() or (export / "recipe.json").read_text() != recipe:
            shutil.rmtree(export, ignore_errors=True)
            shutil.copytree(source, export)
    for stale in PROJECT.glob("model_*"):
        if stale.name not in names:
            shutil.rmtree(stale)
    return names


def artifact(model: str) -> Path:
    return PROJECT / "build" / model / f"{VARIANT}.tflite"


class Service:
    """The bench's view of the service in SERVICE_DIR: its counters, and stopping it."""

    def __init__(self) -> None:
        self.config = ServiceConfig(directory=SERVICE_DIR, workers=WORKERS)
        self.pids: set[int] = set()  # every service seen: the bench's builds started them

    def status(self) -> Status | None:
        found = client.status(self.config)
        if found is not None:
            self.pids.add(found.pid)
        return found

    def stop(self) -> str:
        """Stop it (through the client; SIGTERM to the pids seen if that fails); what happened."""
        try:
            pid = client.stop(self.config)
        except ServiceError as e:
            alive = [p for p in self.pids if not client.process_gone(p)]
            for p in alive:
                os.kill(p, signal.SIGTERM)
            return f"the client could not stop it ({e}); sent SIGTERM to {alive}"
        return "no service was running" if pid is None else f"stopped (pid {pid})"


def served(before: Status | None, after: Status | None) -> int:
    """Conversions the service served between two readings of its status."""
    if after is None:
        return 0
    if before is not None and before.pid != after.pid:
        raise RuntimeError(
            f"the service was replaced during a run (pid {before.pid} -> {after.pid})"
        )
    return after.conversions_served - (before.conversions_served if before else 0)


def worker_split(before: Status, after: Status) -> list[int]:
    """Requests each Keras worker of the pool served between two readings."""
    old = [w.requests_served for w in before.workers if w.kind == "keras"]
    new = [w.requests_served for w in after.workers if w.kind == "keras"]
    old += [0] * (len(new) - len(old))
    return [n - o for n, o in zip(new, old, strict=False)]


def doit(
    service: Service, command: Sequence[str], daemon: str, expected: Sequence[str], log: str
) -> tuple[Timed, Status | None, Status | None]:
    """One timed ``python -m doit ...`` in the project (spawn to exit), which must exit 0 and
    execute exactly ``expected``; with the daemon on the service must have served each of
    them, with it off none. The run, and the service's status before and after."""
    before = service.status()
    run = run_timed([sys.executable, "-m", "doit", *command], PROJECT, env(daemon))
    after = service.status()
    (LOG_DIR / log).write_text(run.output)
    executed, _ = doit_tasks(run.stdout)
    count = served(before, after)
    wanted = len(expected) if daemon == "on" else 0
    if run.returncode != 0 or sorted(executed) != sorted(expected) or count != wanted:
        raise RuntimeError(
            f"doit {' '.join(command)} (daemon {daemon}): status {run.returncode}, executed "
            f"{len(executed)} of {len(expected)} expected task(s), the service served {count} "
            f"conversion(s), {wanted} expected\n{tail(run.output)}"
        )
    return run, before, after


# --- the bytes of every path -------------------------------------------------------------------


@dataclass
class Artifacts:
    """Every artifact each path wrote, by (path, model, options); differences found on the way."""

    seen: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def record(self, path: str, model: str, options: str, data: bytes) -> None:
        key = (path, model, options)
        if key in self.seen and self.seen[key] != data:
            self.problems.append(f"{path} {model} {options}: other bytes than its earlier run")
        self.seen.setdefault(key, data)

    def compare(self) -> tuple[list[str], list[str]]:
        """What was compared (a line per pair of paths), and every difference."""
        problems = list(self.problems)
        pairs = [("service", "local", False), ("service", "tflite_convert", True)]
        pairs += [("service", "floor", True), ("local", "tflite_convert", True)]
        pairs += [("local", "floor", True)]
        lines, counts = [], []
        for ours, theirs, strip in pairs:
            common = sorted(
                (m, o) for (p, m, o) in self.seen if p == ours and (theirs, m, o) in self.seen
            )
            for model, options in common:
                data = self.seen[(ours, model, options)]
                data = modelinfo.strip_provenance(data) if strip else data
                if data != self.seen[(theirs, model, options)]:
                    problems.append(f"{ours} and {theirs} differ on {model} {options}")
            kinds = Counter(options for _, options in common)
            lines.append(
                f"{ours} = {theirs}{' (provenance removed)' if strip else ''}: "
                f"{plural(len(common), 'artifact')}"
                + (
                    f" ({', '.join(f'{n} {o}' for o, n in sorted(kinds.items()))})"
                    if common
                    else ""
                )
            )
            counts.append(len(common))
        if not all(counts[:3]):  # the service against the local worker and TF's own
            problems.append("a pair of paths had no artifact in common to compare")
        return lines, problems


# --- (a) the edit loop -------------------------------------------------------------------------


@dataclass
class Measurements:
    edit: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in EDIT_ARMS})
    cold: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in COLD_ARMS})
    warmup: dict[str, float] = field(default_factory=dict)
    in_worker_edit: list[float] = field(default_factory=list)  # the warm edits' conversions
    # (b): per path, each task's time in doit and its conversion's time inside the worker
    task_seconds: dict[str, list[float]] = field(default_factory=lambda: {"warm": [], "local": []})
    in_worker_cold: dict[str, list[float]] = field(
        default_factory=lambda: {"warm": [], "local": []}
    )
    # (b) warm: seconds with two conversions at once, the build's seconds, requests per worker
    overlap: list[tuple[float, float, list[int]]] = field(default_factory=list)
    clean_up: dict[str, Any] = field(default_factory=dict)  # the clean-up probe's report
    floor_reports: list[dict[str, Any]] = field(default_factory=list)
    artifacts: Artifacts = field(default_factory=Artifacts)
    final_status: Status | None = None
    load_before: float = field(default_factory=load_average)


class EditLoop:
    """Edits the first model's manifest, alternating its options, and rebuilds or converts it."""

    def __init__(self, service: Service, m: Measurements, model: str) -> None:
        self.service, self.m, self.model = service, m, model
        self.options = "float32"  # as ensure_project wrote it
        self.task = f"convert:{model}/{VARIANT}"

    def edit(self) -> str:
        self.options = "dynamic" if self.options == "float32" else "float32"
        (PROJECT / self.model / "model.yaml").write_text(manifest(self.options))
        return self.options

    def run(self, arm: str, label: str) -> float:
        if arm == "tflite_convert":
            output = OUT_DIR / "tflite_convert.tflite"
            output.unlink(missing_ok=True)
            export = PROJECT / self.model / "export"
            command = [tflite_convert_path(), "--saved_model_dir", str(export)]
            command += ["--output_file", str(output)]
            seconds = run_timed(command, PROJECT, CACHE_OFF_ENV, check=True).seconds
            self.m.artifacts.record(arm, self.model, "float32", output.read_bytes())
            return seconds
        options = self.edit()
        daemon = "on" if arm == "warm" else "off"
        run, _, _ = doit(self.service, ["convert"], daemon, [self.task], f"daemon-{label}.log")
        path = "service" if arm == "warm" else "local"
        self.m.artifacts.record(path, self.model, options, artifact(self.model).read_bytes())
        if arm == "warm" and label.startswith("edit-rep"):
            self.m.in_worker_edit.append(sidecar_seconds(self.model))
        return run.seconds


def sidecar_seconds(model: str) -> float:
    """The conversion's seconds inside its worker, from the variant's sidecar."""
    sidecar = artifact(model).with_suffix(".convert.json")
    return float(json.loads(sidecar.read_text())["seconds"])


def conversion_span(model: str) -> tuple[float, float]:
    """When the model's conversion ran in its worker: the worker writes the artifact as its
    last step (renamed into place, which keeps the time), ``seconds`` before that it began."""
    end = artifact(model).stat().st_mtime
    return end - sidecar_seconds(model), end


def seconds_together(spans: Sequence[tuple[float, float]]) -> float:
    """How long at least two of these intervals ran at once (ends trimmed by the clocks'
    disagreement, so that back-to-back conversions never count)."""
    events = sorted(
        [(start + CLOCK_SLACK, 1) for start, _ in spans]
        + [(end - CLOCK_SLACK, -1) for _, end in spans]
    )
    together, running, since = 0.0, 0, 0.0
    for moment, step in events:
        if running >= 2:
            together += moment - since
        running, since = running + step, moment
    return together


def task_seconds(output: str) -> list[float]:
    """Each executed task's time as doit's reporter prints it (``   task: built in 1.5 s``)."""
    return [float(match) for match in re.findall(r": built in ([0-9.]+) s", output)]


def rotated(arms: Sequence[str], rep: int) -> list[str]:
    shift = rep % len(arms)
    return [*arms[shift:], *arms[:shift]]


def measure_edits(loop: EditLoop, reps: int) -> None:
    m = loop.m
    for arm in EDIT_ARMS:
        m.warmup[f"a-{arm}"] = loop.run(arm, f"edit-warmup-{arm}")
        print(f"warm-up {EDIT_ARMS[arm]}: {m.warmup[f'a-{arm}']:.2f} s", flush=True)
    for rep in range(reps):
        for arm in rotated(list(EDIT_ARMS), rep):
            seconds = loop.run(arm, f"edit-rep{rep + 1}-{arm}")
            m.edit[arm].append(seconds)
            print(f"rep {rep + 1}/{reps}: {EDIT_ARMS[arm]}: {seconds:.2f} s", flush=True)


# --- (b) the cold build ------------------------------------------------------------------------


def cold_build(
    service: Service, m: Measurements, arm: str, names: Sequence[str], label: str
) -> float:
    """A cold ``doit -n 2 convert`` (build folder removed) or the floor; its seconds."""
    if arm == "floor":
        out = OUT_DIR / "floor"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        report = new_report(f"daemon-{label}.json")
        # The originals the project's copies were made from: the floor names its outputs
        # after the SavedModel folders.
        models = [convert_bench.MODELS_DIR / name for name in names]
        command = child_command(convert_bench.__file__, "floor", out, report, *models)
        seconds = run_logged(command, LOG_DIR / f"daemon-{label}.log")
        if label.startswith("cold-rep"):
            m.floor_reports.append(json.loads(report.read_text()))
        for name in names:
            m.artifacts.record("floor", name, "float32", (out / f"{name}.tflite").read_bytes())
        return seconds
    shutil.rmtree(PROJECT / "build", ignore_errors=True)
    tasks = [f"convert:{name}/{VARIANT}" for name in names]
    daemon = "on" if arm == "warm" else "off"
    log = f"daemon-{label}.log"
    run, before, after = doit(service, ["-n", "2", "convert"], daemon, tasks, log)
    path = "service" if arm == "warm" else "local"
    for name in names:
        m.artifacts.record(path, name, "float32", artifact(name).read_bytes())
    if label.startswith("cold-rep"):
        m.task_seconds[arm] += task_seconds(run.output)
        m.in_worker_cold[arm] += [sidecar_seconds(name) for name in names]
    if arm == "warm" and label.startswith("cold-rep"):
        assert before is not None and after is not None  # doit() saw it serve every task
        together = seconds_together([conversion_span(name) for name in names])
        m.overlap.append((together, run.seconds, worker_split(before, after)))
    return run.seconds


def measure_cold(service: Service, m: Measurements, names: Sequence[str], reps: int) -> None:
    for arm in COLD_ARMS:
        m.warmup[f"b-{arm}"] = cold_build(service, m, arm, names, f"cold-warmup-{arm}")
        print(f"warm-up {COLD_ARMS[arm]}: {m.warmup[f'b-{arm}']:.2f} s", flush=True)
    for rep in range(reps):
        for arm in rotated(list(COLD_ARMS), rep):
            seconds = cold_build(service, m, arm, names, f"cold-rep{rep + 1}-{arm}")
            m.cold[arm].append(seconds)
            print(f"rep {rep + 1}/{reps}: {COLD_ARMS[arm]}: {seconds:.2f} s", flush=True)


def measure(service: Service, names: Sequence[str], reps: int) -> Measurements:
    m = Measurements()
    print("setup: stopping any service left in the bench's folder ...", flush=True)
    print(f"setup: {service.stop()}", flush=True)
    print(f"setup: doit -n 2 convert in {PROJECT} (starts the service) ...", flush=True)
    shutil.rmtree(PROJECT / "build", ignore_errors=True)
    tasks = [f"convert:{name}/{VARIANT}" for name in names]
    setup, _, _ = doit(service, ["-n", "2", "convert"], "on", tasks, "daemon-setup.log")
    m.warmup["setup"] = setup.seconds
    loop = EditLoop(service, m, names[0])
    measure_edits(loop, reps)
    if loop.options != "float32":  # (b) converts every model as the floor does: float32
        loop.edit()
    measure_cold(service, m, names, reps)
    m.final_status = service.status()
    measure_clean_up(m, names)
    return m


# --- reporting -------------------------------------------------------------------------------------


def ratio(m: Measurements, table: str, slow: str, fast: str) -> float:
    values = m.edit if table == "edit" else m.cold
    return median(values[slow]) / median(values[fast])


def checks(m: Measurements) -> list[Check]:
    edit = ratio(m, "edit", "tflite_convert", "warm")
    cold = ratio(m, "cold", "floor", "warm")
    together = sum(seconds > 0 for seconds, _, _ in m.overlap)
    _, problems = m.artifacts.compare()
    return [
        Check(
            "(a) tflite_convert / warm service",
            f"{edit:.2f}x",
            f">= {TARGET_EDIT:g}x",
            edit >= TARGET_EDIT,
        ),
        Check(
            "(b) floor / warm service `-n 2`",
            f"{cold:.2f}x",
            f">= {TARGET_COLD:g}x",
            cold >= TARGET_COLD,
        ),
        Check(
            "(b) the service converted two requests at once",
            f"{together} of {len(m.overlap)} builds",
            "every build",
            bool(m.overlap) and together == len(m.overlap),
        ),
        Check("identical bytes in every path", "no" if problems else "yes", "yes", not problems),
    ]


def facts(m: Measurements, reps: int) -> list[str]:
    """The lines below the tables, shared by the console output and RESULTS.md."""
    compared, problems = m.artifacts.compare()
    lines = [
        f"Informative: (a) no service / warm service {ratio(m, 'edit', 'local', 'warm'):.2f}x; "
        f"(b) no service / warm service {ratio(m, 'cold', 'local', 'warm'):.2f}x, "
        f"floor / no service {ratio(m, 'cold', 'floor', 'local'):.2f}x",
        "Bytes compared (every repetition's artifacts): "
        + "; ".join(compared)
        + (f"; DIFFERENCES: {', '.join(problems)}" if problems else "; all identical"),
    ]
    if m.in_worker_edit:
        lines.append(
            f"(a) the warm service's conversion of the edited model, inside its worker: median "
            f"{median(m.in_worker_edit):.2f} s; the rest of the warm edit loop "
            f"({median(m.edit['warm']) - median(m.in_worker_edit):.2f} s) is doit's process, "
            "loading the tasks and the round trip"
        )
    if m.overlap:
        builds = "; ".join(
            f"{together:.2f} s of {wall:.2f} s (requests per worker {'/'.join(map(str, split))})"
            for together, wall, split in m.overlap
        )
        lines.append(
            "(b) the warm service's cold builds: time with two conversions running at once "
            f"in its workers (from each artifact's time and its conversion's seconds), of the "
            f"build's wall clock: {builds}"
        )
    if m.task_seconds["warm"] and m.in_worker_cold["warm"]:
        per_path = "; ".join(
            f"{path}: {median(m.task_seconds[arm]):.2f} s per task in doit, "
            f"{median(m.in_worker_cold[arm]):.2f} s inside the worker"
            for arm, path in (("warm", "warm service"), ("local", "no service"))
            if m.task_seconds[arm]
        )
        lines.append(f"(b) medians over the cold builds' tasks: {per_path}")
    if m.floor_reports:
        imports = median([r["import_seconds"] for r in m.floor_reports])
        converts = median([sum(r["per_model_seconds"]) for r in m.floor_reports])
        lines.append(
            f"(b) the floor: TF import {imports:.2f} s, conversions {converts:.2f} s (medians)"
        )
    if m.clean_up:
        c = m.clean_up
        lines.append(
            "Where a warm worker's other time goes (one TF process converting "
            f"{len(c['convert_seconds'])} of the models with TF's converter, then the worker's "
            "per-request clean-up, `converter.execution.isolation.clean_up`, after each): conversion "
            f"{median(c['convert_seconds']):.2f} s, clean-up {median(c['clean_up_seconds']):.2f} s "
            f"(medians); a bare `gc.collect()` after it {median(c['gc_seconds']):.2f} s"
        )
    cold = ratio(m, "cold", "floor", "warm") if m.cold["warm"] else TARGET_COLD
    if cold < TARGET_COLD and m.clean_up and m.in_worker_cold["warm"] and m.floor_reports:
        clean_up = median(m.clean_up["clean_up_seconds"])
        inside = median(m.in_worker_cold["warm"])
        floor = median([r["inside_seconds"] for r in m.floor_reports])
        models = len(m.floor_reports[0]["per_model_seconds"])
        lines.append(
            f"Why (b) is short of {TARGET_COLD:g}x: besides each {inside:.2f} s conversion a "
            f"worker spends about {clean_up:.2f} s in its clean-up, so {WORKERS} workers finish "
            f"a task every {(inside + clean_up) / WORKERS:.2f} s at best, against the floor's "
            f"{floor / models:.2f} s per model, its TF import included"
        )
    s = m.final_status
    if s is not None:
        workers = ", ".join(
            f"{w.kind} {w.requests_served} requests in {w.processes_started} process(es), "
            f"{w.rss_mb:.0f} MB"
            for w in s.workers
        )
        lines.append(
            f"The service at the end: pid {s.pid}, up {s.uptime:.0f} s, "
            f"{s.conversions_served} conversions served, {s.memory_mb:.0f} MB in all "
            f"(the service itself {s.rss_mb:.0f} MB; workers: {workers})"
        )
    warm = ", ".join(f"{k} {v:.2f} s" for k, v in m.warmup.items())
    lines.append(
        f"Untimed runs (the setup build starting the service, and a warm-up of each path): {warm}"
    )
    return lines


def render(m: Measurements, names: Sequence[str], reps: int, command: str, stopped: str) -> str:
    params = [model_params(convert_bench.MODELS_DIR / name) for name in names]
    body = [
        f"- Project: bench/work/daemon/, {len(names)} of convert_bench's Keras 3 SavedModels "
        f"({min(params)}-{max(params)} parameters), one variant each (`float32: {{}}`), "
        f"cache off; the service in its own private folder with {WORKERS} workers "
        f"(`daemon_workers = {WORKERS}`), started by the untimed setup build",
        f"- {plural(reps, 'repetition')} of each path, order rotated per repetition, after one "
        "untimed run of each; wall clock of whole processes (spawn to exit). (a) edits "
        f"{names[0]}'s manifest before each `doit convert` (`float32: {{}}` <-> "
        "`{quantize: dynamic}`, so each run converts one variant); `tflite_convert` converts "
        "that model (float32)",
        "",
        *timings_table("(a) edit loop", [(EDIT_ARMS[a], m.edit[a]) for a in EDIT_ARMS]),
        "",
        *timings_table("(b) cold build", [(COLD_ARMS[a], m.cold[a]) for a in COLD_ARMS]),
        "",
        *checks_table("check", "value", checks(m)),
        "",
        *(f"- {line}" for line in facts(m, reps)),
        f"- The service at the end of the benchmark: {stopped}",
    ]
    title = f"daemon_bench: the warm conversion service, {len(names)} SavedModels"
    return section(title, command, m.load_before, body)


def print_report(m: Measurements, reps: int) -> None:
    print_timings("(a) edit loop", [(EDIT_ARMS[a], m.edit[a]) for a in EDIT_ARMS], 44)
    print_timings("(b) cold build", [(COLD_ARMS[a], m.cold[a]) for a in COLD_ARMS], 44)
    print_checks(checks(m))
    print_facts(facts(m, reps))


def child_clean_up(report: Path, models: Sequence[Path]) -> None:
    """Convert each model with TF's converter, then time a warm worker's clean-up after it."""
    import gc

    import tensorflow as tf

    from converter.execution import isolation

    base = isolation.baseline()
    timings: dict[str, list[float]] = {"convert_seconds": [], "clean_up_seconds": []}
    timings["gc_seconds"] = []
    for directory in models:
        start = time.perf_counter()
        tf.lite.TFLiteConverter.from_saved_model(str(directory)).convert()
        converted = time.perf_counter()
        isolation.clean_up(base)
        cleaned = time.perf_counter()
        gc.collect()
        timings["convert_seconds"].append(converted - start)
        timings["clean_up_seconds"].append(cleaned - converted)
        timings["gc_seconds"].append(time.perf_counter() - cleaned)
    write_json(report, timings)


def measure_clean_up(m: Measurements, names: Sequence[str]) -> None:
    """The clean-up probe, once, in a child process (untimed: it explains, it is no path)."""
    report = new_report("daemon-clean-up.json")
    models = [convert_bench.MODELS_DIR / name for name in names[:CLEAN_UP_MODELS]]
    run_logged(
        child_command(__file__, "clean_up", report, *models), LOG_DIR / "daemon-clean-up.log"
    )
    m.clean_up = json.loads(report.read_text())


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "_child":
        mode, report, *models = argv[1:]
        assert mode == "clean_up"
        child_clean_up(Path(report), [Path(p) for p in models])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=positive_int, default=7, help="repetitions of each path")
    parser.add_argument("--models", type=positive_int, default=20, help="number of models")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    names = ensure_project(args.models)
    print(f"{len(names)} models, {args.reps} repetitions; logs in {LOG_DIR}", flush=True)
    service = Service()
    try:
        m = measure(service, names, args.reps)
    finally:
        stopped = service.stop()
        print(f"the service: {stopped}", flush=True)
    print_report(m, args.reps)
    command = reproduce(__file__, parser, args, "reps", "models")
    update_results("daemon_bench", render(m, names, args.reps, command, stopped))
    print(f"\nwrote {RESULTS}")
    failed = [c.what for c in checks(m) if not c.ok]
    if failed:
        print(f"FAILED: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
