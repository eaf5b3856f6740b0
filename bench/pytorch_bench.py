"""Benchmark: 20 small PyTorch models, one litert-torch script process per model against
``doit convert`` through the warm PyTorch toolchain worker.

The target (issue 23, toolchain sources): 20 small PyTorch models converted

(a) by one process per model running a team's conversion script, as teams do
    today: the PyTorch toolchain's interpreter imports torch and litert-torch,
    imports the model's ``net.py``, seeds torch, calls ``make()`` and writes
    what ``litert_torch.convert`` returns; 20 such processes one after another;
(b) by ``python -m doit -n 2 convert`` through the warm conversion service, whose
    two PyTorch workers (``daemon_workers = 2``: one per core) have imported torch
    and litert-torch already;

must take at least 5x longer in (a) than in (b), with the same bytes: (b)'s
artifact without our provenance entry equals (a)'s output serialized as the
build serializes every artifact (our provenance entry is stamped by unpacking
and packing the flatbuffer through TFLite's schema, which lays litert-torch's
tables out anew: the same tables and buffers, other offsets), for every model;
(b) equals the other builds' artifacts byte for byte, and every path gives the
same bytes in every repetition. Whether (a)'s raw bytes equal the stripped
artifact is reported too. Beside them, informative: (b1) the same cold build
through the service one conversion at a time (``doit convert``, one PyTorch
worker busy), and (c) with the service off, one doit process starting its own
PyTorch worker (torch imported once per build).

The project: bench/work/pytorch/, folders ``model_00``.. each with a ``net.py``
whose ``make()`` returns ``(module, example_args)`` (small CNNs on 1x1x16x16
images and MLPs on 1x32 vectors, their channels, widths and depths varied by
index; our loader seeds torch before ``make()``, as the script does) and a
manifest with one variant (``float32: {}``); the artifact cache off (the work
is conversion, not restoring) and ``daemon_workers = 2``. The team's script is
written to bench/work/pytorch_script/. The service lives in a private folder of
its own, made for the run under the system's temporary folder (a Unix socket's
path is short) and removed at the end.

Untimed first: one script process (the first model), the setup build that
starts the service and its PyTorch worker, and one build with the service off.
Then ``--reps`` repetitions of each path, order rotated per repetition; whole
processes, spawn to exit ((a): the sum of its processes); medians. Before each
build the build folder is removed, so every model is converted. The service's
counters, read around each build, must show its PyTorch worker serving every
conversion of each warm build and none of the others: else the benchmark stops.
It stops the service at the end, also after a failure.

The PyTorch toolchain is the default one, made under the user cache (made on
first use when missing: a large download). Run from the repository root::

    .venv/bin/python bench/pytorch_bench.py [--reps N] [--models N] [--no-write]

It prints tables and writes this benchmark's section of bench/RESULTS.md (other
sections are kept; not with ``--no-write``); it exits non-zero when a target is
missed. On 2 cores the default run takes about 10 minutes, most of it in (a).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    CACHE_OFF_ENV,
    LOG_DIR,
    REPORT_DIR,
    RESULTS,
    WORK,
    Check,
    Timed,
    checks_table,
    doit_tasks,
    load_average,
    median,
    plural,
    positive_int,
    print_checks,
    print_facts,
    print_timings,
    reproduce,
    run_timed,
    section,
    tail,
    timings_table,
    update_results,
    write_if_changed,
    write_project,
)

from converter.service import client, rendezvous
from converter.service.client import ServiceConfig
from converter.service.rendezvous import ServiceError
from converter.service.server import Status
from converter.tflite import modelinfo
from converter.toolchains import defaults, environments
from converter.toolchains.environments import Environment

PROJECT = WORK / "pytorch"
SCRIPT = WORK / "pytorch_script" / "convert_model.py"
OUT_DIR = WORK / "out" / "pytorch"
PYPROJECT = '[tool.tflite-build]\ncache = "off"\ndaemon_workers = 2\n'
VARIANT = "float32"
TARGET = 5.0  # (a) one script process per model / (b) the warm service, at least
SIDE = 16  # the CNNs' input: 1x1xSIDExSIDE
FEATURES = 32  # the MLPs' input: 1xFEATURES
KIND = "pytorch"  # the service's worker kind for the PyTorch toolchain
VERSIONS = ("torch", "litert-torch", "litert-converter", "ai-edge-quantizer", "ai-edge-litert")

ARMS = {
    "script": "(a) one litert-torch script process per model",
    "warm": "(b) warm service: cold `doit -n 2 convert`",
    "serial": "(b1) warm service: cold `doit convert`",
    "local": "(c) no service: cold `doit convert`",
}
JOBS = {"warm": ["-n", "2"]}  # doit's processes, where more than one

# --- the models and the team's script ----------------------------------------------------------

CNN = '''"""{name}: a small CNN on 1x1x{side}x{side} images (generated by bench/pytorch_bench.py)."""

import torch
from torch import nn

CHANNELS = {channels}
CLASSES = {classes}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        width = 1
        for channels in CHANNELS:
            layers += [nn.Conv2d(width, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            width = channels
        self.features = nn.Sequential(*layers)
        side = {side} // 2 ** len(CHANNELS)
        self.head = nn.Linear(width * side * side, CLASSES)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


def make():
    return Net(), (torch.zeros(1, 1, {side}, {side}),)
'''

MLP = '''"""{name}: a small MLP on 1x{features} vectors (generated by bench/pytorch_bench.py)."""

import torch
from torch import nn

HIDDEN = {widths}
CLASSES = {classes}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        width = {features}
        for hidden in HIDDEN:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, CLASSES))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def make():
    return Net(), (torch.zeros(1, {features}),)
'''

# What a team's conversion script does, run by the toolchain's interpreter. It also prints
# how long its imports and its conversion took (JSON, its last line), for the report.
TEAM_SCRIPT = '''"""A team's conversion script: python convert_model.py MODEL_FOLDER OUTPUT.tflite

Generated by bench/pytorch_bench.py (do not edit).
"""

import time

started = time.perf_counter()

import importlib
import json
import sys
from pathlib import Path

import litert_torch
import torch

imported = time.perf_counter()
folder, output = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
sys.path.insert(0, str(folder))
# Imported under its stem, "net": litert-torch writes the module's name into the bytes.
net = importlib.import_module("net")
torch.manual_seed(0)
module, args = net.make()
converted = litert_torch.convert(module.eval(), args)
content = converted.model_content  # a method or a property, by version
output.write_bytes(bytes(content() if callable(content) else content))
done = time.perf_counter()
print(json.dumps({"import_seconds": imported - started, "convert_seconds": done - imported}))
'''


@dataclass(frozen=True)
class Spec:
    """One model: a CNN (``widths``: its convolutions' channels) or an MLP (its hidden widths)."""

    kind: str  # "cnn" or "mlp"
    widths: tuple[int, ...]
    classes: int

    def source(self, name: str) -> str:
        if self.kind == "cnn":
            return CNN.format(name=name, side=SIDE, channels=self.widths, classes=self.classes)
        return MLP.format(name=name, features=FEATURES, widths=self.widths, classes=self.classes)

    def parameters(self) -> int:
        if self.kind == "cnn":
            sizes = [1, *self.widths]
            convs = sum((a * 9 + 1) * b for a, b in itertools.pairwise(sizes))
            side: int = SIDE // 2 ** len(self.widths)
            return convs + (self.widths[-1] * side * side + 1) * self.classes
        sizes = [FEATURES, *self.widths, self.classes]
        return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def spec(index: int) -> Spec:
    """Every fourth model an MLP of 1-3 hidden layers, the others CNNs of 1-3 convolutions."""
    classes = 4 + index % 7
    if index % 4 == 3:
        depth = 1 + (index // 4) % 3
        return Spec("mlp", tuple(64 + 16 * ((index // 4 + j) % 4) for j in range(depth)), classes)
    depth, base = 1 + index % 3, 4 + 2 * (index % 5)
    return Spec("cnn", tuple(base * 2**j for j in range(depth)), classes)


def manifest(name: str) -> str:
    return f"name: {name}\nsource: {{pytorch: net.py:make}}\nvariants:\n  {VARIANT}: {{}}\n"


def ensure_project(count: int) -> list[str]:
    """bench/work/pytorch/ with ``count`` models, and the team's script; the models' names."""
    names = [f"model_{i:02d}" for i in range(count)]
    write_project(
        PROJECT,
        "bench/pytorch_bench.py: small PyTorch models with one variant each",
        {name: manifest(name) for name in names},
        PYPROJECT,
    )
    for index, name in enumerate(names):
        write_if_changed(PROJECT / name / "net.py", spec(index).source(name))
    for stale in PROJECT.glob("model_*"):
        if stale.name not in names:
            shutil.rmtree(stale)
    write_if_changed(SCRIPT, TEAM_SCRIPT)
    return names


def artifact(model: str) -> Path:
    return PROJECT / "build" / model / f"{VARIANT}.tflite"


def sidecar_seconds(model: str) -> float:
    """The conversion's seconds inside its worker, from the variant's sidecar."""
    sidecar = artifact(model).with_suffix(".convert.json")
    return float(json.loads(sidecar.read_text())["seconds"])


# --- the service -------------------------------------------------------------------------------


def env(daemon: str, directory: Path) -> dict[str, str]:
    """The builds' environment: cache off, the service on or off, in its private folder."""
    variables = {**CACHE_OFF_ENV, "TFLITE_BUILD_DAEMON": daemon}
    variables["TFLITE_BUILD_DAEMON_DIR"] = str(directory)
    variables.pop("CI", None)
    return variables


class Service:
    """The bench's service, in a private folder of its own: its counters, and stopping it."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="tfb-pytorch-bench-"))
        self.config = ServiceConfig(directory=self.directory)
        self.pids: set[int] = set()  # every service seen there: the bench's builds started them
        # The service's identity includes a digest of the tool's source, which this process
        # computes once: an edit during the run would send the builds to another service.
        self.source = rendezvous.source_digest()

    def status(self) -> Status | None:
        found = client.status(self.config)
        if found is not None:
            self.pids.add(found.pid)
        return found

    def check_source(self) -> None:
        if rendezvous.source_digest() != self.source:
            raise RuntimeError(
                "the tool's source (converter/ or rules/) changed during the run: the builds "
                "went to a new service and ran other code; rerun once the source is settled"
            )

    def stop(self) -> str:
        """Stop every service in the folder (this identity's through the client, any other's
        by asking it to retire, as a build of a newer source would), kill those still alive
        after a while, remove the folder; what happened."""
        with contextlib.suppress(ServiceError):
            self.status()
        try:
            pid = client.stop(self.config)
            said = "no service was running" if pid is None else f"stopped (pid {pid})"
        except ServiceError as e:
            said = f"the client could not stop it ({e})"
        try:
            retired = client.retire_others(self.config.place())
        except ServiceError as e:
            retired, said = [], f"{said}; could not ask others to stop ({e})"
        if retired:
            self.pids.update(retired)
            said += (
                f"; asked another identity's service to stop (pid {', '.join(map(str, retired))})"
            )
        deadline = time.monotonic() + client.STOP_TIMEOUT
        while time.monotonic() < deadline and not all(map(client.process_gone, self.pids)):
            time.sleep(0.1)
        alive = [p for p in sorted(self.pids) if not client.process_gone(p)]
        for p in alive:
            os.kill(p, signal.SIGKILL)
        if alive:
            said += f"; killed pid {', '.join(map(str, alive))}"
        shutil.rmtree(self.directory, ignore_errors=True)
        return said


def torch_worker(status: Status | None) -> tuple[int, int, int | None]:
    """(conversions served, processes started, pid) of the service's PyTorch workers."""
    workers = [w for w in status.workers if w.kind == KIND] if status is not None else []
    pid = workers[0].pid if len(workers) == 1 else None
    return (
        sum(w.conversions_served for w in workers),
        sum(w.processes_started for w in workers),
        pid,
    )


def served(before: Status | None, after: Status | None) -> tuple[int, int, int]:
    """Conversions the service served between two readings of its status: in all, by its
    PyTorch workers, and PyTorch worker processes started."""
    if after is None:
        return 0, 0, 0
    if before is not None and before.pid != after.pid:
        raise RuntimeError(
            f"the service was replaced during a run (pid {before.pid} -> {after.pid})"
        )
    total = after.conversions_served - (before.conversions_served if before else 0)
    old, new = torch_worker(before), torch_worker(after)
    return total, new[0] - old[0], new[1] - old[1]


# --- the measurements --------------------------------------------------------------------------


@dataclass
class Artifacts:
    """Every output each path wrote, by (path, model); differences found on the way."""

    seen: dict[tuple[str, str], bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def record(self, path: str, model: str, data: bytes) -> None:
        key = (path, model)
        if key in self.seen and self.seen[key] != data:
            self.problems.append(
                f"{ARMS[path].split()[0]} {model}: other bytes than its earlier run"
            )
        self.seen.setdefault(key, data)

    def data(self, path: str, model: str, strip: bool = False) -> bytes:
        """What ``path`` wrote for ``model``; with ``strip``, without our provenance entry."""
        data = self.seen[(path, model)]
        return modelinfo.strip_provenance(data) if strip else data

    def serialized(self, model: str) -> bytes:
        """The script's output serialized as the build serializes every artifact: stamped
        with an (empty) provenance entry, which packs the flatbuffer anew, and stripped."""
        return modelinfo.strip_provenance(
            modelinfo.stamp_provenance(self.data("script", model), {})
        )

    def compare(self, names: Sequence[str]) -> tuple[list[str], list[str]]:
        """What was compared (a line per pair of paths), and every difference."""
        problems = list(self.problems)
        lines = []
        pairs = [("warm", "script"), ("serial", "warm"), ("local", "warm")]
        for ours, theirs in pairs:
            common = [n for n in names if (ours, n) in self.seen and (theirs, n) in self.seen]
            if theirs == "script":
                differ = [n for n in common if self.data(ours, n, True) != self.serialized(n)]
                how = " (provenance removed; the script's output serialized alike)"
            else:
                differ = [n for n in common if self.data(ours, n) != self.data(theirs, n)]
                how = ""
            if differ:
                shown = ", ".join(differ[:3]) + (", ..." if len(differ) > 3 else "")
                problems.append(
                    f"{ARMS[ours].split()[0]} and {ARMS[theirs].split()[0]} differ on "
                    f"{len(differ)} of {len(common)} models ({shown})"
                )
            lines.append(
                f"{ARMS[ours].split()[0]} = {ARMS[theirs].split()[0]}{how}: "
                f"{plural(len(common), 'model')}"
            )
            if len(common) != len(names):
                problems.append(
                    f"{ARMS[ours].split()[0]} and {ARMS[theirs].split()[0]}: {len(common)} of "
                    f"{len(names)} models compared"
                )
        return lines, problems

    def raw(self, names: Sequence[str]) -> list[str]:
        """The models whose script output, as written, equals (b)'s artifact stripped."""
        return [
            n
            for n in names
            if ("script", n) in self.seen
            and ("warm", n) in self.seen
            and self.data("script", n) == self.data("warm", n, strip=True)
        ]


@dataclass
class Measurements:
    toolchain: Environment
    names: list[str]
    runs: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in ARMS})
    warmup: dict[str, float] = field(default_factory=dict)
    # (a): each timed process's seconds, and its own imports' and conversion's seconds
    process_seconds: list[float] = field(default_factory=list)
    import_seconds: list[float] = field(default_factory=list)
    convert_seconds: list[float] = field(default_factory=list)
    # (b), (c): each model's conversion inside the worker, and their sum per build
    in_worker: dict[str, list[float]] = field(
        default_factory=lambda: {"warm": [], "serial": [], "local": []}
    )
    in_worker_build: dict[str, list[float]] = field(
        default_factory=lambda: {"warm": [], "serial": [], "local": []}
    )
    # The timed warm builds during which the PyTorch worker's process was started again
    restarts: list[str] = field(default_factory=list)
    artifacts: Artifacts = field(default_factory=Artifacts)
    final_status: Status | None = None
    load_before: float = field(default_factory=load_average)


def script_run(m: Measurements, name: str, label: str, timed: bool) -> float:
    """One process of the team's script converting ``name``; its seconds."""
    output = OUT_DIR / f"{name}.tflite"
    output.unlink(missing_ok=True)
    command = [str(m.toolchain.python), str(SCRIPT), str(PROJECT / name), str(output)]
    run = run_timed(command, OUT_DIR, check=True)
    with open(LOG_DIR / f"pytorch-{label}.log", "a") as log:
        log.write(f"--- {name}: {run.seconds:.2f} s\n{run.output}")
    m.artifacts.record("script", name, output.read_bytes())
    if timed:
        report = json.loads([ln for ln in run.stdout.splitlines() if ln.startswith("{")][-1])
        m.process_seconds.append(run.seconds)
        m.import_seconds.append(float(report["import_seconds"]))
        m.convert_seconds.append(float(report["convert_seconds"]))
    return run.seconds


def scripts(m: Measurements, names: Sequence[str], label: str, timed: bool) -> float:
    """(a): one script process per model, one after another; the sum of their seconds."""
    (LOG_DIR / f"pytorch-{label}.log").unlink(missing_ok=True)
    return sum(script_run(m, name, label, timed) for name in names)


def build(service: Service, m: Measurements, arm: str, label: str, timed: bool) -> Timed:
    """A cold ``python -m doit convert`` (build folder removed), which must exit 0 and convert
    every model; with the service on its PyTorch worker must have served each conversion,
    with it off the service none."""
    shutil.rmtree(PROJECT / "build", ignore_errors=True)
    daemon = "off" if arm == "local" else "on"
    before = service.status()
    command = [sys.executable, "-m", "doit", *JOBS.get(arm, []), "convert"]
    run = run_timed(command, PROJECT, env(daemon, service.directory))
    after = service.status()
    service.check_source()
    (LOG_DIR / f"pytorch-{label}.log").write_text(run.output)
    executed, _ = doit_tasks(run.stdout)
    expected = [f"convert:{name}/{VARIANT}" for name in m.names]
    total, by_torch, started = served(before, after)
    wanted = len(expected) if daemon == "on" else 0
    if (
        run.returncode != 0
        or sorted(executed) != sorted(expected)
        or (total, by_torch) != (wanted, wanted)
    ):
        raise RuntimeError(
            f"doit convert (daemon {daemon}): status {run.returncode}, executed "
            f"{len(executed)} of {len(expected)} expected task(s); the service served "
            f"{total} conversion(s), its PyTorch worker {by_torch}, {wanted} expected\n"
            f"{tail(run.output)}"
        )
    for name in m.names:
        m.artifacts.record(arm, name, artifact(name).read_bytes())
    if timed:
        seconds = [sidecar_seconds(name) for name in m.names]
        m.in_worker[arm] += seconds
        m.in_worker_build[arm].append(sum(seconds))
        if daemon == "on":
            m.restarts += [label] * started
    return run


def run_arm(service: Service, m: Measurements, arm: str, label: str, timed: bool) -> float:
    if arm == "script":
        return scripts(m, m.names, label, timed)
    return build(service, m, arm, label, timed).seconds


def rotated(arms: Sequence[str], rep: int) -> list[str]:
    shift = rep % len(arms)
    return [*arms[shift:], *arms[:shift]]


def measure(service: Service, toolchain: Environment, names: list[str], reps: int) -> Measurements:
    m = Measurements(toolchain, names)
    print(f"warm-up: the team's script on {names[0]} (one process) ...", flush=True)
    m.warmup["(a) one process"] = scripts(m, names[:1], "warmup-script", False)
    print(f"setup: doit convert in {PROJECT} (starts the service) ...", flush=True)
    m.warmup["(b) setup build"] = run_arm(service, m, "warm", "setup", False)
    print(f"warm-up: {ARMS['local']} ...", flush=True)
    m.warmup["(c)"] = run_arm(service, m, "local", "warmup-local", False)
    for label, seconds in m.warmup.items():
        print(f"untimed {label}: {seconds:.2f} s", flush=True)
    for rep in range(reps):
        for arm in rotated(list(ARMS), rep):
            seconds = run_arm(service, m, arm, f"rep{rep + 1}-{arm}", True)
            m.runs[arm].append(seconds)
            print(f"rep {rep + 1}/{reps}: {ARMS[arm]}: {seconds:.2f} s", flush=True)
    m.final_status = service.status()
    return m


# --- reporting ---------------------------------------------------------------------------------


def ratio(m: Measurements, slow: str, fast: str) -> float:
    return median(m.runs[slow]) / median(m.runs[fast])


def checks(m: Measurements) -> list[Check]:
    speedup = ratio(m, "script", "warm")
    _, problems = m.artifacts.compare(m.names)
    return [
        Check(
            "(a) script processes / (b) warm service",
            f"{speedup:.2f}x",
            f">= {TARGET:g}x",
            speedup >= TARGET,
        ),
        Check("the same bytes in every path", "no" if problems else "yes", "yes", not problems),
    ]


def facts(m: Measurements) -> list[str]:
    """The lines below the tables, shared by the console output and RESULTS.md."""
    compared, problems = m.artifacts.compare(m.names)
    count = len(m.names)
    lines = [
        f"Informative: (a) / (b1) {ratio(m, 'script', 'serial'):.2f}x (one conversion at a "
        f"time through the warm service); (a) / (c) {ratio(m, 'script', 'local'):.2f}x; "
        f"(b1) / (b) {ratio(m, 'serial', 'warm'):.2f}x",
        "Bytes compared (every repetition's outputs): "
        + "; ".join(compared)
        + (f"; DIFFERENCES: {', '.join(problems)}" if problems else "; all the same"),
        f"The script's raw output equals (b)'s artifact without its provenance for "
        f"{len(m.artifacts.raw(m.names))} of {count} models: litert-torch lays its tables out "
        "in another order than TFLite's schema packs them, and stamping the provenance entry "
        "packs the model anew (the same tables, fields and buffers; other offsets)",
    ]
    if m.process_seconds:
        process, imports = median(m.process_seconds), median(m.import_seconds)
        converts = median(m.convert_seconds)
        lines.append(
            f"(a) per process (medians over {len(m.process_seconds)}): {process:.2f} s in all, "
            f"of which importing torch and litert-torch {imports:.2f} s, loading and "
            f"converting the model {converts:.2f} s; the rest "
            f"({process - imports - converts:.2f} s) starts and ends the interpreter"
        )
    for arm in ("warm", "serial", "local"):
        if not m.in_worker[arm]:
            continue
        inside, wall = median(m.in_worker_build[arm]), median(m.runs[arm])
        line = (
            f"{ARMS[arm].split()[0]} conversions inside the workers (the sidecars' seconds): "
            f"median {median(m.in_worker[arm]):.2f} s per model, {inside:.2f} s per build of "
            f"{count}"
        )
        if arm == "warm":
            line += f", two at a time: {inside / wall:.2f} conversions under way on average"
        elif arm == "serial":
            line += (
                f"; the rest of the build ({wall - inside:.2f} s) is doit's process, loading "
                "the tasks and the round trips to the service"
            )
        else:
            line += (
                " (its first conversion imports torch and litert-torch); the rest of the "
                f"build ({wall - inside:.2f} s) is doit's process, loading the tasks and "
                "starting the worker"
            )
        lines.append(line)
    if m.restarts:
        lines.append(
            f"The PyTorch worker's process was started again {plural(len(m.restarts), 'time')} "
            f"during the timed warm builds ({', '.join(m.restarts)}): the service retires a "
            "worker process after a number of conversions, or when it has grown, and the next "
            "request waits for a new one to import torch and litert-torch"
        )
    if m.process_seconds and m.in_worker["serial"]:
        process, inside = median(m.process_seconds), median(m.in_worker["serial"])
        lines.append(
            f"One conversion at a time, the ceiling is (a)'s process over the warm worker's "
            f"conversion alone: {process:.2f} s / {inside:.2f} s = {process / inside:.2f}x, "
            "even if doit and the round trips cost nothing: litert-torch's own conversion is "
            "most of what is left, and the two workers of (b) share it between the cores"
        )
    s = m.final_status
    if s is not None:
        workers = ", ".join(
            f"{w.kind} {w.conversions_served} conversions in {w.processes_started} process(es), "
            f"{w.rss_mb:.0f} MB"
            for w in s.workers
        )
        lines.append(
            f"The service at the end: pid {s.pid}, up {s.uptime:.0f} s, "
            f"{s.conversions_served} conversions served, {s.memory_mb:.0f} MB in all "
            f"(the service itself {s.rss_mb:.0f} MB; workers: {workers})"
        )
    warm = ", ".join(f"{k} {v:.2f} s" for k, v in m.warmup.items())
    lines.append(f"Untimed runs: {warm}")
    return lines


def describe(m: Measurements) -> list[str]:
    specs = [spec(i) for i in range(len(m.names))]
    cnns = sum(s.kind == "cnn" for s in specs)
    params = [s.parameters() for s in specs]
    sizes = [len(data) for (path, _), data in m.artifacts.seen.items() if path == "script"]
    size = f", .tflite files of {min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} KB" if sizes else ""
    versions = ", ".join(f"{p} {m.toolchain.version(p) or '?'}" for p in VERSIONS)
    return [
        f"- Project: bench/work/pytorch/, {len(m.names)} small PyTorch modules ({cnns} CNNs on "
        f"1x1x{SIDE}x{SIDE}, {len(specs) - cnns} MLPs on 1x{FEATURES}; {min(params)}-"
        f"{max(params)} parameters{size}), one variant each (`{VARIANT}: {{}}`), cache off; "
        "the service in its own private folder (`daemon_workers = 2`), its two PyTorch "
        "workers started by the untimed setup build (`doit -n 2`)",
        f"- The PyTorch toolchain (the default one, in the user cache): Python "
        f"{m.toolchain.python_version}, {versions}",
    ]


def render(m: Measurements, reps: int, command: str, stopped: str) -> str:
    count = len(m.names)
    body = [
        *describe(m),
        f"- {plural(reps, 'repetition')} of each path, order rotated per repetition, after "
        "untimed runs (one script process, the setup build, one build with the service off); "
        f"wall clock of whole processes, spawn to exit: (a) the sum of its {count} processes, "
        "(b), (b1) and (c) one doit process each, the build folder removed before",
        "",
        *timings_table(f"cold conversion of {count} models", [(ARMS[a], m.runs[a]) for a in ARMS]),
        "",
        *checks_table("check", "value", checks(m)),
        "",
        *(f"- {line}" for line in facts(m)),
        f"- The service at the end of the benchmark: {stopped}",
    ]
    title = f"pytorch_bench: {count} PyTorch models, script processes against the warm worker"
    return section(title, command, m.load_before, body, packages=("doit",))


def print_report(m: Measurements) -> None:
    print_timings(
        f"cold conversion of {len(m.names)} models", [(ARMS[a], m.runs[a]) for a in ARMS], 48
    )
    print_checks(checks(m))
    print_facts(describe(m))
    print_facts(facts(m))


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=positive_int, default=3, help="repetitions of each path")
    parser.add_argument("--models", type=positive_int, default=20, help="number of models")
    parser.add_argument(
        "--no-write", action="store_true", help="print the results only; leave RESULTS.md alone"
    )
    args = parser.parse_args(argv)
    for folder in (WORK, OUT_DIR, LOG_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    toolchain = environments.ensure(defaults.PYTORCH)
    names = ensure_project(args.models)
    print(f"{len(names)} models, {args.reps} repetitions; logs in {LOG_DIR}", flush=True)
    service = Service()
    try:
        m = measure(service, toolchain, names, args.reps)
    finally:
        stopped = service.stop()
        print(f"the service: {stopped}", flush=True)
    print_report(m)
    command = reproduce(__file__, parser, args, "reps", "models")
    rendered = render(m, args.reps, command, stopped)
    if args.no_write:
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        (REPORT_DIR / "pytorch_bench.md").write_text(rendered + "\n")
        print(f"\n--no-write: {RESULTS} left alone; the section is in {REPORT_DIR}")
    else:
        update_results("pytorch_bench", rendered)
        print(f"\nwrote {RESULTS}")
    failed = [c.what for c in checks(m) if not c.ok]
    if failed:
        print(f"FAILED: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
