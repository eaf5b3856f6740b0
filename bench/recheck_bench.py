"""Benchmark: re-checking a 1 GB SavedModel whose mtimes changed but whose bytes did not.

The design target: after a checkout or a cache restore gives every input file
a new mtime (same bytes), the first ``doit convert`` executes nothing and
hashes the files once at >= 1 GB/s; the next one is stat-only (hashes nothing).

Setup (not timed, under bench/work/recheck/): a project with one manifest,
``big/model.yaml``, whose source is a SavedModel of about 1 GB (a Keras 3
MLP, Input(4096) -> Dense(16384) -> Dense(4096) -> Dense(10): 134M float32
parameters, 537 MB, exported with ``model.export`` when missing; Keras 3's
export writes every variable twice into the checkpoint, under ``variables``
and ``_all_variables``, so the SavedModel holds 1.07 GB) and a single float32
variant, and a ``pyproject.toml`` turning the artifact cache off (the
artifact is not copied outside bench/work/). Every run first brings it up to
date with ``doit convert``: the cold build (about a minute and several GB of
RAM; its time is recorded as context) the first time or after a change in
rules/ changed the key, a no-op otherwise.

Timed, as whole processes (spawn to exit), ``--reps`` cycles of:

(a) ``python -m doit convert``: a no-op, stat-only (the baseline);
(b) new mtimes on every file of the SavedModel (``os.utime``, bytes untouched),
    then ``python -m doit convert``: must execute nothing, hashes ~1 GB;
(c) ``python -m doit convert`` again: must be stat-only.

Hashing throughput = bytes of the SavedModel / (median (b) - median (a)), in
decimal GB/s; also measured directly in this process with
``converter.digest.file_digest`` and ``rules.project.state.BuildState`` (fresh
state) on the same files. The files are in the page cache for all of these
(``fincore`` shows how much; it is reported); an informative cold-cache figure
comes from dropping this benchmark's own files from the cache with
``posix_fadvise(POSIX_FADV_DONTNEED)`` (no root needed) before hashing them.

How "(c) hashes nothing" is verified: the build state counts the files it
actually hashes (``BuildState.hashed``), which a ``python -m doit`` process
cannot report. So after every timed (b) the state's digests table
(build/.tflite-build/state.sqlite) must hold each SavedModel file's current
stat signature (size, mtime, inode): the condition under which the next check
is stat-only. And before the timed cycles, one untimed (b)+(c) cycle runs
doit through its API in child processes (one per step, like the CLI: a fresh
state each) that report ``TFLITE_BUILD.state.hashed``: (b) must hash
every SavedModel file, (c) none. That cycle also absorbs one-off work (right
after a build, the artifact's digest is not in the memo yet), so the timed
cycles are alike. Timings are reported, never asserted.

Run from the repository root::

    .venv/bin/python bench/recheck_bench.py [--reps N]

It prints a table and writes this benchmark's section of bench/RESULTS.md
(other sections are kept). With the setup done the default run takes about
15 seconds. A run stops with an error if (a), (b) or (c) executes a task.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    CACHE_OFF_ENV,
    LOG_DIR,
    RESULTS,
    WORK,
    Check,
    build_stamp,
    checks_table,
    child_command,
    doit_api_facts,
    doit_noop,
    doit_tasks,
    export_mlp,
    inprocess_noop,
    load_average,
    median,
    new_report,
    plural,
    positive_int,
    print_facts,
    print_timings,
    read_json,
    reproduce,
    run_logged,
    saved_model_files,
    section,
    timings_table,
    update_results,
    verdict,
    write_json,
    write_project,
)

PROJECT = WORK / "recheck"
MODEL = "big"
EXPORT = PROJECT / MODEL / "export"
OUTPUT = PROJECT / "build" / MODEL / "float32.tflite"
TASK_NAMES = [f"convert:{MODEL}/float32"]
MEMO_DB = PROJECT / "build" / ".tflite-build" / "state.sqlite"
SCRATCH = WORK / "recheck_scratch"  # fresh digest memos for the in-process throughput

# Input width, then the Dense layers: 134M parameters, 537 MB of float32, which Keras 3's
# export writes twice (variables/ and _all_variables/): a 1.07 GB SavedModel.
UNITS = (4096, 16384, 4096, 10)
SETUP_FORMAT = 1  # bump when the generated project changes
RECIPE = {"format": SETUP_FORMAT, "units": list(UNITS)}
TARGET_GBPS = 1.0  # hashing throughput at least this (decimal GB/s)
GB = 1e9
SHA_PROBE_BYTES = 256 << 20
MANIFEST = "source: {saved_model: export}\nvariants:\n  float32: {}\n"


# --- setup ---------------------------------------------------------------------------------------


def parameter_count() -> int:
    return sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(UNITS))


def ensure_project() -> dict[str, Any]:
    """The project: exported where missing, then brought up to date by ``doit convert`` (the
    real, cold build the first time or after a change in rules/ changed the key; a no-op
    otherwise); the stamp of its last real build."""
    write_project(PROJECT, "bench/recheck_bench.py: one ~1 GB SavedModel", {MODEL: MANIFEST})
    export_stamp = PROJECT / "export-recipe.json"
    if read_json(export_stamp) != RECIPE or not (EXPORT / "saved_model.pb").is_file():
        print(f"setup: exporting a {parameter_count():,}-parameter model ...", flush=True)
        command = child_command(__file__, "export", EXPORT)
        seconds = run_logged(command, LOG_DIR / "recheck-export.log", env=CACHE_OFF_ENV)
        print(f"setup: exported in {seconds:.0f} s", flush=True)
        write_json(export_stamp, RECIPE)
    print("setup: doit convert (minutes and several GB of RAM if it must build) ...", flush=True)
    report = new_report("recheck-build.json")
    log = LOG_DIR / "recheck-build.log"
    command = child_command(__file__, "build", PROJECT, report)
    seconds = run_logged(command, log, cwd=PROJECT, env=CACHE_OFF_ENV)
    built = bool(doit_tasks(log.read_text(errors="replace"))[0])
    if not OUTPUT.is_file():
        raise RuntimeError(f"the build did not write {OUTPUT}")
    facts = {
        "build_seconds": round(seconds, 1),
        "conversion_seconds": read_json(OUTPUT.with_suffix(".convert.json")).get("seconds"),
        "output_bytes": OUTPUT.stat().st_size,
        "peak_rss_mb": read_json(report).get("peak_rss_mb"),
    }
    stamp = build_stamp(PROJECT / "bench-setup.json", RECIPE, built, facts)
    print(f"setup: {'built' if built else 'up to date'} in {seconds:.1f} s", flush=True)
    return stamp


# --- the child processes --------------------------------------------------------------------------


def child_inprocess(project: Path, report: Path) -> None:
    """Run ``doit convert`` for ``project`` through doit's API; report files hashed and TF."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain
    from doit.loader import get_module

    os.chdir(project)
    namespace = vars(get_module(str(project / "dodo.py")))  # as `python -m doit` imports it
    code = DoitMain(ModuleTaskLoader(namespace)).run(["convert"])
    write_json(report, doit_api_facts(code, namespace))


def child_build(project: Path, report: Path) -> int:
    """The setup build: ``python -m doit convert`` in ``project``; reports its peak memory.

    A child of its own so that RUSAGE_CHILDREN covers exactly the doit process and,
    through it, its conversion worker (reaped when the engine closes at exit).
    """
    import resource

    code = subprocess.run([sys.executable, "-m", "doit", "convert"], cwd=project).returncode
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    write_json(report, {"exit_code": code, "peak_rss_mb": round(peak_kb / 1024)})
    return code


def child_main(argv: Sequence[str]) -> int:
    """``_child export DIR``, ``_child build PROJECT REPORT`` or ``_child inprocess PROJECT
    REPORT``."""
    mode, *rest = argv
    if mode == "export":
        export_mlp(Path(rest[0]), UNITS, seed=11, name=MODEL)
    elif mode == "build":
        return child_build(Path(rest[0]), Path(rest[1]))
    else:
        child_inprocess(Path(rest[0]), Path(rest[1]))
    return 0


# --- running, timing, checking -------------------------------------------------------------------


def doit_convert() -> float:
    """Seconds of one whole ``doit convert`` in the project (RuntimeError unless a no-op)."""
    return doit_noop(PROJECT, TASK_NAMES).seconds


def touch_all(files: Sequence[Path]) -> None:
    """New mtimes (now) on every file, bytes untouched; checks that every mtime changed."""
    before = {p: p.stat().st_mtime_ns for p in files}
    now = time.time_ns()
    for path in files:
        os.utime(path, ns=(now, now))
    unchanged = [p for p in files if p.stat().st_mtime_ns == before[p]]
    if unchanged:
        raise RuntimeError(f"os.utime left the mtime of {unchanged[0]} unchanged")


def memo_matches_stat(files: Sequence[Path]) -> bool | None:
    """Whether the digest memo's table holds each file's current (size, mtime_ns, inode);
    None if the table cannot be read (its layout changed)."""
    db = sqlite3.connect(MEMO_DB, timeout=30)
    try:
        rows = {
            path: (size, mtime, inode)
            for path, size, mtime, inode in db.execute(
                "SELECT path, size, mtime_ns, inode FROM digests"
            )
        }
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return all(
        rows.get(str(p)) == (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino) for p in files
    )


def resident_fraction(files: Sequence[Path]) -> float | None:
    """Share of the files' bytes in the page cache (``fincore``), or None if unavailable."""
    if shutil.which("fincore") is None:
        return None
    proc = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE", *map(str, files)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return None
    resident = size = 0
    for line in proc.stdout.split("\n"):
        if line.strip():
            res, total = line.split()
            resident, size = resident + int(res), size + int(total)
    return resident / size if size else None


def drop_from_cache(files: Sequence[Path]) -> None:
    """Ask the kernel to drop these files' clean pages from the page cache (no root needed)."""
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def digest_all(files: Sequence[Path]) -> float:
    """Seconds to hash the files with ``converter.digest.file_digest``."""
    from converter.digest import file_digest

    start = time.perf_counter()
    for path in files:
        file_digest(path)
    return time.perf_counter() - start


def sha256_in_memory() -> float:
    """GB/s of hashlib's sha256 over bytes already in memory (best of three)."""
    data = bytes(SHA_PROBE_BYTES)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        hashlib.sha256(data).hexdigest()
        best = min(best, time.perf_counter() - start)
    return len(data) / best / GB


def memo_all(files: Sequence[Path]) -> tuple[float, int]:
    """Seconds to hash the files through a fresh build state (as a first check does), and how
    many files it hashed."""
    from rules.project.state import BuildState

    shutil.rmtree(SCRATCH, ignore_errors=True)
    start = time.perf_counter()
    memo = BuildState(SCRATCH)
    memo.begin_run()
    for path in files:
        memo.digest(path)
    seconds = time.perf_counter() - start
    shutil.rmtree(SCRATCH, ignore_errors=True)
    return seconds, memo.hashed


@dataclass
class Measurements:
    files: list[Path]
    wall: dict[str, list[float]] = field(default_factory=lambda: {"a": [], "b": [], "c": []})
    resident_before_b: list[float | None] = field(default_factory=list)
    memo_recorded: list[bool | None] = field(default_factory=list)  # after each (b)
    digest_seconds: list[float] = field(default_factory=list)  # file_digest, warm cache
    memo_seconds: list[float] = field(default_factory=list)  # fresh BuildState, warm cache
    memo_hashed: list[int] = field(default_factory=list)
    cold_seconds: float = float("nan")
    sha256_gbps: float = float("nan")  # hashlib over bytes in memory: the ceiling
    resident_after_drop: float | None = None
    verify_b: dict[str, Any] = field(default_factory=dict)
    verify_c: dict[str, Any] = field(default_factory=dict)
    b_runs: int = 0  # runs of (b) checked to execute nothing (doit_noop raises otherwise)
    load_before: float = field(default_factory=load_average)

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files)

    def median(self, step: str) -> float:
        return median(self.wall[step])

    def gbps(self, seconds: float) -> float:
        return self.size / seconds / GB if seconds > 0 else float("inf")

    @property
    def throughput(self) -> float:
        """GB/s of the first check after the touch: bytes / ((b) - (a)), medians."""
        return self.gbps(self.median("b") - self.median("a"))

    @property
    def b_hashed_all(self) -> bool:
        """The verification's (b) hashed every SavedModel file (else its (c) proves nothing)."""
        return int(self.verify_b["hashed"]) >= len(self.files)

    @property
    def c_hashed(self) -> int:
        return int(self.verify_c["hashed"])


def measure(reps: int) -> Measurements:
    m = Measurements(saved_model_files(EXPORT))
    doit_convert()  # warm-up
    # The verification cycle comes first: its (b) also absorbs any one-off work (right after
    # a build, the artifact's own digest is not in the memo yet), so the timed cycles after
    # it are alike. Its steps run doit through its API in child processes.
    touch_all(m.files)
    m.verify_b = inprocess_noop(__file__, PROJECT, TASK_NAMES, "recheck-b.json")
    m.b_runs += 1
    m.verify_c = inprocess_noop(__file__, PROJECT, TASK_NAMES, "recheck-c.json")
    print(
        f"verification through doit's API: (b) hashed {m.verify_b['hashed']} file(s), "
        f"(c) hashed {m.verify_c['hashed']}",
        flush=True,
    )
    for rep in range(reps):
        m.wall["a"].append(doit_convert())
        touch_all(m.files)
        m.resident_before_b.append(resident_fraction(m.files))
        m.wall["b"].append(doit_convert())
        m.b_runs += 1
        m.memo_recorded.append(memo_matches_stat(m.files))
        m.wall["c"].append(doit_convert())
        a, b, c = (m.wall[s][-1] for s in "abc")
        print(
            f"cycle {rep + 1}/{reps}: (a) {a:.2f} s  (b) {b:.2f} s  (c) {c:.2f} s  "
            f"-> {m.gbps(b - a):.2f} GB/s",
            flush=True,
        )
    for _ in range(reps):
        m.digest_seconds.append(digest_all(m.files))
        seconds, hashed = memo_all(m.files)
        m.memo_seconds.append(seconds)
        m.memo_hashed.append(hashed)
    m.sha256_gbps = sha256_in_memory()
    drop_from_cache(m.files)
    m.resident_after_drop = resident_fraction(m.files)
    m.cold_seconds = digest_all(m.files)  # reads them back into the cache
    return m


# --- reporting -------------------------------------------------------------------------------------


def percent(fraction: float | None) -> str:
    return "unknown (no fincore)" if fraction is None else f"{100 * fraction:.0f}%"


def checks(m: Measurements) -> list[Check]:
    """The three targets."""
    return [
        Check(
            "hashing throughput of (b), bytes / ((b) - (a))",
            f"{m.throughput:.2f} GB/s",
            f">= {TARGET_GBPS:g} GB/s",
            m.throughput >= TARGET_GBPS,
        ),
        Check("files hashed by (c)", f"{m.c_hashed}", "0", m.c_hashed == 0 and m.b_hashed_all),
        Check("tasks executed by (b)", f"0 (in {m.b_runs} runs)", "0", m.b_runs > 0),
    ]


def facts(m: Measurements, stamp: dict[str, Any]) -> list[str]:
    """The lines below the tables, shared by the console output and RESULTS.md."""
    digest = median(m.digest_seconds)
    memo = median(m.memo_seconds)
    resident = [r for r in m.resident_before_b if r is not None]
    recorded = (
        "unknown (table not readable)"
        if None in m.memo_recorded
        else "yes"
        if all(m.memo_recorded)
        else "NO"
    )
    more = int(m.verify_b["hashed"]) - len(m.files)
    extra = (
        " (the one more: the artifact, whose digest a build does not put in the memo)"
        if more == 1
        else f" ({more} more)"
        if more > 1
        else ""
    )
    return [
        f"The ceiling: sha256 of {SHA_PROBE_BYTES >> 20} MiB already in memory (hashlib) ran at "
        f"{m.sha256_gbps:.2f} GB/s",
        f"Hashed directly in the benchmark's process, medians of {len(m.digest_seconds)}: "
        f"`converter.digest.file_digest` {digest:.2f} s ({m.gbps(digest):.2f} GB/s); a fresh "
        f"`rules.project.state.BuildState` {memo:.2f} s ({m.gbps(memo):.2f} GB/s, "
        f"{median(m.memo_hashed)} files hashed)",
        "Page cache: the SavedModel's bytes resident before each (b): "
        + (", ".join(percent(r) for r in resident) if resident else percent(None))
        + (
            " (warm: the figures above hash from memory, not from disk)"
            if resident and min(resident) >= 0.99
            else " (mostly warm)"
        ),
        f"Informative, cold cache: after `posix_fadvise(DONTNEED)` on the files "
        f"({percent(m.resident_after_drop)} still resident), `file_digest` took "
        f"{m.cold_seconds:.2f} s ({m.gbps(m.cold_seconds):.2f} GB/s; on a virtual machine "
        "the host may still cache the disk, so this varies from run to run)",
        "(c) stat-only: after every timed (b) the memo's table held each file's new stat "
        f"signature: {recorded}; an untimed cycle through doit's API before the timed ones "
        f"(child processes reading `TFLITE_BUILD.state.hashed`): (b) hashed "
        f"{m.verify_b['hashed']} files for {len(m.files)} in the SavedModel{extra}, (c) hashed "
        f"{m.verify_c['hashed']}; TensorFlow imported: "
        f"{'YES' if m.verify_b['tensorflow_imported'] else 'no'}",
        f"(c) - (a) = {m.median('c') - m.median('a'):+.2f} s (medians)",
        f"Cold build (setup, {stamp.get('built', '?')}): `doit convert` "
        f"{stamp.get('build_seconds', '?')} s, of which the conversion "
        f"{stamp.get('conversion_seconds', '?')} s; artifact "
        f"{stamp.get('output_bytes', 0) / GB:.2f} GB; peak RSS of the largest process (the "
        f"conversion worker) {stamp.get('peak_rss_mb', '?')} MB",
    ]


def render(m: Measurements, reps: int, command: str, stamp: dict[str, Any]) -> str:
    names = {"a": "(a) no-op (baseline)", "b": "(b) after new mtimes", "c": "(c) again"}
    body = [
        f"- Model: Keras 3 MLP {' -> '.join(map(str, UNITS))}, {parameter_count():,} float32 "
        f"parameters exported with `model.export`: {len(m.files)} files, {m.size:,} bytes; one "
        "manifest, one float32 variant",
        f"- {plural(reps, 'cycle')} of (a), (b), (c); `python -m doit convert` "
        "timed as whole processes (spawn to exit); every run executed nothing",
        "",
        *timings_table("step", ((names[s], m.wall[s]) for s in "abc")),
        "",
        *checks_table("check", "measured", checks(m)),
        "",
        *(f"- {line}" for line in facts(m, stamp)),
    ]
    title = f"recheck_bench: re-checking a {m.size / GB:.2f} GB SavedModel after new mtimes"
    return section(title, command, m.load_before, body, sources=["rules", "converter"])


def print_report(m: Measurements, stamp: dict[str, Any]) -> None:
    names = {"a": "(a) no-op", "b": "(b) new mtimes", "c": "(c) again"}
    print_timings("step", ((names[s], m.wall[s]) for s in "abc"), 22)
    print()
    for c in checks(m):
        print(f"{c.what}: {c.value}: {verdict(c.ok)}")
    print_facts(facts(m, stamp))


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "_child":
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=positive_int, default=3, help="cycles of (a), (b), (c)")
    args = parser.parse_args(argv)
    stamp = ensure_project()
    print(f"{args.reps} cycles; logs in {LOG_DIR}", flush=True)
    m = measure(args.reps)
    print_report(m, stamp)
    command = reproduce(__file__, parser, args, "reps")
    update_results("recheck_bench", render(m, args.reps, command, stamp))
    print(f"\nwrote {RESULTS}")
    return 0 if all(c.ok for c in checks(m)) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
