"""Benchmark: 20 SavedModels built through a Dask cluster on loopback, against a local build.

The target (issue "Beyond one machine: conversions fan out over a Dask
cluster"): going through the cluster costs at most 100 ms per variant. A
variant's overhead is the build's time for it, as the build prints it
(``converted on the cluster by tcp://... in 1.43 s (1.31 s converting, ...)``:
from packing its inputs to restoring its artifact), minus the worker's own
conversion time; the median over every variant of every repetition must meet
the target.

Two paths, both cold (a fresh build folder and fresh caches in every
repetition), both ``python -m doit -n 2 convert`` (two tasks in flight) with
the conversion service off:

- cluster: a ``dask scheduler`` and two ``dask worker --nthreads 1``
  processes, each worker in an empty folder of its own, and nginx (WebDAV) as
  the shared cache, all on loopback and started as the cluster tests start
  them (tests/support/servers.py); ``TFLITE_BUILD_EXECUTOR=dask://127.0.0.1:PORT``.
  Fresh caches: nginx's store emptied, a new local cache, and the workers'
  own input stores and caches removed.
- local: no executor, a new local directory cache.

A Dask worker imports TensorFlow on its first task. So before the timed runs
an untimed cluster build of a throwaway project (two of the models, one
float16 variant each) warms the workers; it is repeated, up to three times,
until every worker has converted. Then each path runs --reps times, the
order rotated per repetition; wall clock of whole processes, spawn to exit;
medians.

Also reported: the bytes moved (the inputs each build sent, the sum of its
lines' "bytes of inputs sent"; its artifacts' bytes; what the shared cache
held after it) and whether every artifact the cluster built equals the local
build's byte for byte (a difference fails the run). Every process the
benchmark starts (scheduler, workers and their TensorFlow processes, nginx)
is stopped at the end, also after a failure; any still alive then is killed
by its pid and named in the results.

The project: bench/work/cluster/ (copies of convert_bench's SavedModels, made
under bench/work/models/ when missing, one ``float32: {}`` variant each);
the servers and caches: bench/work/cluster_run/, made anew by every run. Run
from the repository root::

    .venv/bin/python bench/cluster_bench.py [--reps N] [--models N]

It prints the results and writes this benchmark's section of bench/RESULTS.md
(other sections are kept); it exits non-zero when a target is missed. On 2
cores the default run takes about 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from common import (
    LOG_DIR,
    REPO,
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
    read_json,
    reproduce,
    run_timed,
    section,
    tail,
    timings_table,
    update_results,
    write_project,
)
from convert_bench import ensure_models, model_params

PROJECT = WORK / "cluster"
WARMUP = WORK / "cluster_warmup"
SCRATCH = WORK / "cluster_run"
PYPROJECT = '[tool.tflite-build]\nbuild_dir = "build"\n'  # the cache: TFLITE_BUILD_CACHE
VARIANT = "float32"
WARMUP_VARIANT = "warmup"  # the throwaway: float16, so no key of the timed builds
WARMUP_MODELS = 2
WARMUP_ATTEMPTS = 3
TARGET_OVERHEAD = 0.100  # seconds per variant, at most
# The parts of a cluster task that Dask's profiler tells apart: (file, function) by name.
PROFILED = {
    "waiting for the worker's TensorFlow process": ("converter/execution/worker.py", "convert"),
    "fetching and laying out the inputs": ("rules/execute/bundle.py", "unpack"),
    "storing the artifact and its record": ("rules/cache/artifacts.py", "store"),
}
ARMS = {
    "cluster": "cluster: cold `doit -n 2 convert`, 2 workers",
    "local": "local: cold `doit -n 2 convert`",
}
# Not anchored to lines: doit's two processes share stderr, and one's line can be written
# between another's text and its newline.
LINE = re.compile(
    r"(?P<task>[^\s:]+/[^\s:]+): converted on the cluster by (?P<worker>\S+) in "
    r"(?P<seconds>[0-9.]+) s \((?P<converting>[0-9.]+) s converting, "
    r"(?P<sent>[0-9,]+) bytes of inputs sent\)"
)


@dataclass(frozen=True)
class Remote:
    """One conversion on the cluster, as the build printed it."""

    task: str  # model/variant
    worker: str
    seconds: float  # the build's time for it
    converting: float  # the worker's own conversion
    sent: int  # bytes of inputs sent
    on_worker: float = float("nan")  # the Dask task's compute time (the scheduler's record)

    @property
    def overhead(self) -> float:
        return self.seconds - self.converting


def remotes(output: str) -> list[Remote]:
    return [
        Remote(
            m["task"],
            m["worker"],
            float(m["seconds"]),
            float(m["converting"]),
            int(m["sent"].replace(",", "")),
        )
        for m in LINE.finditer(output)
    ]


# --- the projects and the environment ------------------------------------------------------------


def manifest(variant: str, options: str) -> str:
    return f"source: {{saved_model: export}}\nvariants:\n  {variant}: {options}\n"


def ensure_project(root: Path, sources: Sequence[Path], variant: str, options: str) -> list[str]:
    """``root`` with a copy of each SavedModel of ``sources`` and one variant each; their names."""
    names = [source.name for source in sources]
    manifests = {name: manifest(variant, options) for name in names}
    write_project(root, "bench/cluster_bench.py", manifests, PYPROJECT)
    for source in sources:
        export = root / source.name / "export"
        recipe = (source / "recipe.json").read_text()
        if not (export / "recipe.json").is_file() or (export / "recipe.json").read_text() != recipe:
            shutil.rmtree(export, ignore_errors=True)
            shutil.copytree(source, export)
    for stale in root.glob("model_*"):
        if stale.name not in names:
            shutil.rmtree(stale)
    return names


def environment(cache: str, executor: str | None = None) -> dict[str, str]:
    """The builds' settings alone (none from this shell): the service off, ``cache``, and for
    the cluster its executor and a local cache in the scratch folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFLITE_BUILD_")}
    env.update(TFLITE_BUILD_CACHE=cache, TFLITE_BUILD_DAEMON="off")
    if executor is not None:
        env.update(TFLITE_BUILD_EXECUTOR=executor, TFLITE_BUILD_LOCAL_CACHE=str(LOCAL_CACHE))
    return env


LOCAL_CACHE = SCRATCH / "local-cache"  # the cluster builds' local cache, before the shared one
DIRECTORY_CACHE = SCRATCH / "directory-cache"  # the local builds' only cache


def emptied(folder: Path) -> Path:
    """``folder`` made empty (its contents removed, the folder kept: nginx serves it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return folder


def folder_bytes(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``."""
    sizes = [p.stat().st_size for p in folder.rglob("*") if p.is_file()]
    return len(sizes), sum(sizes)


# --- the servers, and every process they started ------------------------------------------------


@dataclass
class Servers:
    """The loopback cluster, the shared cache in front of it, and the bench's own client."""

    executor: str  # dask://127.0.0.1:PORT
    cache: str  # nginx's URL
    store: Path  # the folder behind it
    workers: list[Path]  # each worker's own folder
    client: Any  # distributed.Client: reads the scheduler's task stream

    def make_cold(self) -> int:
        """Empty the shared cache and the cluster build's local cache, and remove what each
        worker keeps between tasks (its input store and cache); how many worker folders."""
        emptied(self.store)
        shutil.rmtree(LOCAL_CACHE, ignore_errors=True)
        kept = [p for folder in self.workers for p in folder.rglob("tflite-build") if p.is_dir()]
        for path in kept:
            shutil.rmtree(path)
        return len(kept)

    def task_seconds(self, count: int) -> dict[str, float]:
        """The last ``count`` Dask tasks' compute time on their workers, by task key."""
        found = {}
        for record in self.client.get_task_stream(count=count):
            spans = [s for s in record["startstops"] if s["action"] == "compute"]
            found[str(record["key"])] = sum(s["stop"] - s["start"] for s in spans)
        return found

    def profile(self, since: float) -> dict[str, int]:
        """Dask's statistical profile of the workers' task threads since ``since`` (time.time()):
        the samples in all, and in each of PROFILED (a frame's samples include its callees')."""
        tree = self.client.profile(start=since)
        counts = {"all": int(tree["count"])}
        todo = [tree]
        while todo:
            node = todo.pop()
            about = node.get("description", {})
            place = (str(about.get("filename", "")), str(about.get("name", "")))
            named = [
                n
                for n, (file, name) in PROFILED.items()
                if place[0].endswith(file) and place[1] == name
            ]
            if named:
                counts[named[0]] = counts.get(named[0], 0) + int(node["count"])
            else:
                todo += node["children"].values()
        return counts


def descendants(root: int) -> dict[int, str]:
    """Every live descendant of process ``root`` (from /proc), with its command line."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = command_line(pid)
                todo.append(pid)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def stop_leftovers(started: dict[int, str], grace: float = 10.0) -> list[str]:
    """Kill each of ``started`` still alive after ``grace`` seconds (same pid, same command
    line: a process that exits on its own, as a worker's TensorFlow process does when its
    pipe closes, gets that long); what was killed."""

    def alive() -> dict[int, str]:
        return {p: c for p, c in started.items() if c and command_line(p) == c}

    deadline = time.monotonic() + grace
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    killed = []
    for pid, command in alive().items():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.append(f"{pid} ({command[:60]})")
    return killed


@contextmanager
def servers(leftovers: list[str]) -> Iterator[Servers]:
    """nginx and the cluster in SCRATCH, stopped on the way out, also after a failure: the
    fixtures stop what they started, then anything they left (``leftovers`` names it)."""
    sys.path.insert(0, str(REPO))  # the tests package: its servers
    from tests.support.servers import dask_cluster, nginx_webdav

    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    started: dict[int, str] = {}
    try:
        with (
            nginx_webdav(SCRATCH / "nginx") as (url, store),
            dask_cluster(SCRATCH / "dask") as cluster,
        ):
            from distributed import Client

            client: Any = Client(cluster.address, timeout=30, set_as_default=False)  # type: ignore[no-untyped-call]
            try:
                client.get_task_stream()  # the scheduler records tasks from now on
                yield Servers(cluster.url, url, store, cluster.folders, client)
            finally:
                client.close()
                started = descendants(os.getpid())
    finally:
        leftovers += stop_leftovers(started)


# --- the builds ----------------------------------------------------------------------------------


def build(root: Path, names: Sequence[str], variant: str, env: dict[str, str], log: str) -> Timed:
    """A cold ``doit -n 2 convert`` in ``root`` (its build folder removed), timed spawn to exit;
    RuntimeError unless it exits 0 having built every variant."""
    shutil.rmtree(root / "build", ignore_errors=True)
    run = run_timed([sys.executable, "-m", "doit", "-n", "2", "convert"], root, env)
    (LOG_DIR / log).write_text(run.output)
    executed, _ = doit_tasks(run.stdout)
    expected = [f"convert:{name}/{variant}" for name in names]
    count = len(names)
    on_cluster = "TFLITE_BUILD_EXECUTOR" in env
    built = f"{count} built ({count} on the cluster)" if on_cluster else f"{count} built"
    closing = f"{built}, 0 from cache"
    lines = remotes(run.output)
    wanted = sorted(f"{name}/{variant}" for name in names) if on_cluster else []
    if (
        run.returncode != 0
        or sorted(executed) != sorted(expected)
        or closing not in run.stdout
        or sorted(line.task for line in lines) != wanted
    ):
        raise RuntimeError(
            f"doit -n 2 convert in {root.name} ({'cluster' if on_cluster else 'local'}): status "
            f"{run.returncode}, {len(executed)} of {count} tasks executed, {len(lines)} converted "
            f"on the cluster ({len(wanted)} expected), no line '{closing}'; log {LOG_DIR / log}\n"
            f"{tail(run.output)}"
        )
    return run


def artifact(root: Path, name: str, variant: str = VARIANT) -> Path:
    return root / "build" / name / f"{variant}.tflite"


@dataclass
class Measurements:
    wall: dict[str, list[float]] = field(default_factory=lambda: {arm: [] for arm in ARMS})
    remote: list[list[Remote]] = field(default_factory=list)  # each cluster build's lines
    local_converting: list[float] = field(default_factory=list)  # the local sidecars' seconds
    doit_seconds: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in ARMS})
    artifact_bytes: dict[str, list[int]] = field(default_factory=lambda: {a: [] for a in ARMS})
    shared: list[dict[str, tuple[int, int]]] = field(default_factory=list)  # after each build
    cleared: list[int] = field(default_factory=list)  # worker folders removed before a build
    seen: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (arm, model) -> bytes
    problems: list[str] = field(default_factory=list)
    warmup: list[tuple[float, int]] = field(default_factory=list)  # seconds, workers so far
    profile: dict[str, int] = field(default_factory=dict)  # the workers' samples, by PROFILED
    load_before: float = field(default_factory=load_average)

    def record(self, arm: str, name: str, data: bytes) -> None:
        """Keep an artifact's bytes; other bytes than the path's earlier run are a problem."""
        if self.seen.setdefault((arm, name), data) != data:
            self.problems.append(f"{arm} {name}: other bytes than its earlier run")

    def compare(self) -> tuple[int, list[str]]:
        """How many models both paths built, and every difference (with the earlier ones)."""
        both = sorted(n for a, n in self.seen if a == "cluster" and ("local", n) in self.seen)
        differ = [f"cluster and local differ on {n}" for n in both if self.differ(n)]
        return len(both), self.problems + differ

    def differ(self, name: str) -> bool:
        return self.seen[("cluster", name)] != self.seen[("local", name)]

    @property
    def lines(self) -> list[Remote]:
        return [line for build in self.remote for line in build]


def warm_up(s: Servers, m: Measurements, workers: int, sources: Sequence[Path]) -> None:
    """Untimed cluster builds of the throwaway project until every worker has converted."""
    names = ensure_project(WARMUP, sources, WARMUP_VARIANT, "{quantize: float16}")
    converted: set[str] = set()
    for attempt in range(1, WARMUP_ATTEMPTS + 1):
        s.make_cold()
        env = environment(s.cache, s.executor)
        run = build(WARMUP, names, WARMUP_VARIANT, env, f"cluster-warmup-{attempt}.log")
        converted |= {line.worker for line in remotes(run.output)}
        m.warmup.append((run.seconds, len(converted)))
        print(
            f"warm-up {attempt}: {run.seconds:.2f} s, workers warm: {len(converted)} of {workers}",
            flush=True,
        )
        if len(converted) == workers:
            return
    raise RuntimeError(f"{WARMUP_ATTEMPTS} warm-up builds left a worker without a conversion")


def declared_key(name: str) -> str:
    """The variant's declared key, from its sidecar: the cluster's task key ends with it."""
    return str(read_json(artifact(PROJECT, name).with_suffix(".convert.json"))["declared"])


def on_workers(s: Servers, lines: Sequence[Remote]) -> list[Remote]:
    """``lines`` with each Dask task's compute time on its worker."""
    tasks = s.task_seconds(len(lines))
    keys = {
        line.task: f"tflite-build-convert-{declared_key(line.task.split('/')[0])}" for line in lines
    }
    return [replace(line, on_worker=tasks[keys[line.task]]) for line in lines]


def cold_build(s: Servers, m: Measurements, arm: str, names: Sequence[str], label: str) -> float:
    if arm == "cluster":
        m.cleared.append(s.make_cold())
        env = environment(s.cache, s.executor)
    else:
        env = environment(str(emptied(DIRECTORY_CACHE)))
    run = build(PROJECT, names, VARIANT, env, f"cluster-{label}-{arm}.log")
    sizes = []
    for name in names:
        data = artifact(PROJECT, name).read_bytes()
        m.record(arm, name, data)
        sizes.append(len(data))
    m.artifact_bytes[arm].append(sum(sizes))
    m.doit_seconds[arm] += [float(t) for t in re.findall(r": built in ([0-9.]+) s", run.output)]
    if arm == "cluster":
        m.remote.append(on_workers(s, remotes(run.output)))
        m.shared.append({p.name: folder_bytes(p) for p in sorted(s.store.iterdir())})
    else:
        sidecars = [artifact(PROJECT, n).with_suffix(".convert.json") for n in names]
        m.local_converting += [float(read_json(p)["seconds"]) for p in sidecars]
    return run.seconds


def measure(s: Servers, names: Sequence[str], sources: Sequence[Path], reps: int) -> Measurements:
    m = Measurements()
    warm_up(s, m, 2, sources[:WARMUP_MODELS])
    since = time.time()
    for rep in range(reps):
        order = list(ARMS) if rep % 2 == 0 else list(reversed(ARMS))
        for arm in order:
            seconds = cold_build(s, m, arm, names, f"rep{rep + 1}")
            m.wall[arm].append(seconds)
            print(f"rep {rep + 1}/{reps}: {ARMS[arm]}: {seconds:.2f} s", flush=True)
    m.profile = s.profile(since)
    return m


# --- reporting -----------------------------------------------------------------------------------


def overhead(m: Measurements) -> float:
    return median([line.overhead for line in m.lines])


def checks(m: Measurements) -> list[Check]:
    both, problems = m.compare()
    return [
        Check(
            "cluster overhead per variant (median)",
            f"{overhead(m) * 1000:.0f} ms",
            f"<= {TARGET_OVERHEAD * 1000:.0f} ms",
            overhead(m) <= TARGET_OVERHEAD,
        ),
        Check(
            "the cluster's artifacts equal the local build's",
            f"{both} models, {'differences' if problems else 'identical'}",
            "identical",
            both > 0 and not problems,
        ),
    ]


def spread(values: Sequence[float]) -> str:
    """Median, 90th percentile and maximum, in milliseconds."""
    p90 = (
        statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]
    )
    return f"median {median(values) * 1000:.0f}, 90th percentile {p90 * 1000:.0f}, max {max(values) * 1000:.0f} ms"


def profiled(counts: dict[str, int]) -> str:
    total = counts.get("all", 0)
    if not total:
        return "no samples"
    parts = [f"{what} {100 * counts.get(what, 0) / total:.0f}%" for what in PROFILED]
    rest = total - sum(counts.get(what, 0) for what in PROFILED)
    return f"{total} samples: " + ", ".join(parts) + f", the rest {100 * rest / total:.0f}%"


def same_or_each(values: Sequence[int]) -> str:
    return f"{values[0]:,}" if len(set(values)) == 1 else ", ".join(f"{v:,}" for v in values)


def facts(m: Measurements, leftovers: Sequence[str]) -> list[str]:
    """The lines below the tables, shared by the console output and RESULTS.md."""
    lines = m.lines
    both, problems = m.compare()
    ratio = median(m.wall["cluster"]) / median(m.wall["local"])
    splits = "; ".join(
        "/".join(str(n) for n in sorted(Counter(line.worker for line in b).values(), reverse=True))
        for b in m.remote
    )
    shared = "; ".join(
        ", ".join(f"{name}/ {files} files, {size:,} bytes" for name, (files, size) in s.items())
        for s in m.shared
    )
    return [
        f"cluster / local wall clock: {ratio:.2f}x (medians). The cluster's workers had "
        "TensorFlow imported already (the warm-up); each of the local build's two doit processes "
        "imports it. On a 2-core machine a loopback cluster adds correctness, not speed: the "
        "scheduler, the two workers, nginx and doit's processes share the same two cores",
        f"Per variant ({len(lines)} conversions on the cluster: {len(m.remote)} builds x "
        f"{len(lines) // max(len(m.remote), 1)}): the build's time for it (packing its inputs "
        f"to restoring its artifact) {spread([x.seconds for x in lines])}; the worker's own "
        f"conversion {spread([x.converting for x in lines])}; the overhead, their difference, "
        f"{spread([x.overhead for x in lines])}. The local builds' conversions, inside their "
        f"workers: median {median(m.local_converting) * 1000:.0f} ms",
        "Where the overhead goes, from the scheduler's task stream (each Dask task's compute "
        "time on its worker): in the build, outside the Dask task (packing and sending the "
        "inputs, submitting, the result's way back, restoring the artifact) "
        f"{spread([x.seconds - x.on_worker for x in lines])}; in the Dask task, outside the "
        "conversion (version check, fetching and laying out the inputs, the round trip to "
        "the worker's TensorFlow process, storing the artifact and its record) "
        f"{spread([x.on_worker - x.converting for x in lines])}",
        "Dask's profiler on the workers (samples of the timed cluster builds' task threads, "
        f"every 10 ms): {profiled(m.profile)}. The TensorFlow process collects garbage "
        "(about 0.2 s) after a second without requests, or every 8 requests "
        "(`converter/execution/worker.py`); a request that comes meanwhile waits for it. Until "
        "55262b4 it collected after 50 ms without one, which every cluster request waited "
        "for: 268 of 325 ms of overhead per variant in the first run",
        "doit's time per task (its reporter's `built in`; the first task of each of a "
        "cluster build's two doit processes also connects to the scheduler): cluster "
        f"{spread(m.doit_seconds['cluster'])}; local {spread(m.doit_seconds['local'])}",
        f"Conversions per worker in each cluster build: {splits}",
        f"Bytes moved per cluster build: inputs sent {same_or_each([sum(x.sent for x in b) for b in m.remote])} "
        f"(the SavedModels' files, by digest to the shared cache's CAS); artifacts "
        f"{same_or_each(m.artifact_bytes['cluster'])} (stored by the workers, restored by the "
        f"build); the shared cache after each build: {shared}",
        f"Bytes compared: {both} models, every repetition of both paths: "
        + (f"DIFFERENCES: {', '.join(problems)}" if problems else "all identical"),
        "Cold: before each cluster build nginx's store and the build's local cache were "
        "emptied and each worker's own store and cache removed "
        f"({same_or_each(m.cleared)} folders each time); each local build had a new directory "
        "cache; every build a new build folder",
        "Warm-up (untimed, before the timed builds): "
        + "; ".join(
            f"{seconds:.2f} s, then {workers} workers warm" for seconds, workers in m.warmup
        )
        + f" ({WARMUP_MODELS} models, a float16 variant each, `doit -n 2 convert` on the cluster)",
        "Processes: the scheduler, the workers and nginx stopped by their fixtures; "
        + (f"killed after them: {', '.join(leftovers)}" if leftovers else "none left after them"),
    ]


def render(
    m: Measurements, sources: Sequence[Path], reps: int, command: str, leftovers: Sequence[str]
) -> str:
    params = [model_params(source) for source in sources]
    body = [
        f"- Project: bench/work/cluster/, {len(sources)} of convert_bench's Keras 3 SavedModels "
        f"({min(params)}-{max(params)} parameters), one variant each (`{VARIANT}: {{}}`)",
        "- Cluster on loopback: `dask scheduler` and two `dask worker --nthreads 1`, each worker "
        "in its own empty folder; nginx (WebDAV) as the shared cache; "
        "`TFLITE_BUILD_EXECUTOR=dask://127.0.0.1:PORT`, `TFLITE_BUILD_CACHE=<nginx URL>`, "
        "`TFLITE_BUILD_LOCAL_CACHE` a scratch folder. Local: no executor, a directory cache. "
        "Both `TFLITE_BUILD_DAEMON=off`",
        f"- {plural(reps, 'repetition')} of each path, cold (fresh build folder and caches), "
        "order alternated per repetition; wall clock of whole `python -m doit -n 2 convert` "
        "processes (spawn to exit)",
        "",
        *timings_table("cold build", [(ARMS[a], m.wall[a]) for a in ARMS]),
        "",
        *checks_table("check", "value", checks(m)),
        "",
        *(f"- {line}" for line in facts(m, leftovers)),
    ]
    title = f"cluster_bench: {len(sources)} SavedModels through a Dask cluster on loopback"
    return section(title, command, m.load_before, body)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=positive_int, default=3, help="repetitions of each path")
    parser.add_argument("--models", type=positive_int, default=20, help="number of models")
    args = parser.parse_args(argv)
    # A SIGTERM unwinds like an exception, so the servers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    sources = ensure_models(args.models)
    names = ensure_project(PROJECT, sources, VARIANT, "{}")
    print(f"{len(names)} models, {args.reps} repetitions; logs in {LOG_DIR}", flush=True)
    leftovers: list[str] = []
    with servers(leftovers) as running:
        print(f"cluster {running.executor}, shared cache {running.cache}", flush=True)
        m = measure(running, names, sources, args.reps)
    print_timings("cold build", [(ARMS[a], m.wall[a]) for a in ARMS], 48)
    print_checks(checks(m))
    print_facts(facts(m, leftovers))
    command = reproduce(__file__, parser, args, "reps", "models")
    update_results("cluster_bench", render(m, sources, args.reps, command, leftovers))
    print(f"\nwrote {RESULTS}")
    failed = [c.what for c in checks(m) if not c.ok]
    if failed:
        print(f"FAILED: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
