"""Benchmark: ``doit ops`` of a 200-manifest project against a no-op ``doit convert``.

The target (issue "Deployment gates"): ``doit ops``, the fleet's op
inventory, takes at most 2x a no-op build of the same project, and never
imports TensorFlow.

The project is noop_bench's (A): bench/work/noop/, 200 manifests with 3
variants each (600 artifacts of one tiny Keras 3 model), made and brought up
to date by ``noop_bench.ensure_ours()`` (600 small conversions the first
time, 2-3 minutes on 2 cores; a second's no-op otherwise).

(A) ``python -m doit convert``: a no-op, nothing executed, all 600 tasks up
    to date.
(B) ``python -m doit ops``: the same no-op of the convert tasks (its
    ``task_dep``), then the ops task, which takes each artifact's ops from the
    build state's memo of the last inventory (keyed by the artifact's sha256)
    or reads its flatbuffer, and writes ``build/ops.json`` and
    ``build/register_ops.cc`` only when their text changed. Both are removed before the warm-up, so the warm-up
    writes them and the timed runs find them current: the steady state of a
    job that sees nothing new.

Timed: whole processes (spawn to exit), ``--reps`` times, interleaved (A B,
B A, ...), after one untimed warm-up of each. Every run is checked, or the
benchmark stops with an error: (A) executed nothing; (B) executed the ops
task alone, every convert task up to date (doit prints ``.  task`` for an
executed task, ``-- task`` for an up-to-date one); after each (B), ops.json
lists the 600 variants. Then one more ``doit ops`` runs through doit's API in
a child process (the dodo.py imported as doit imports it,
``DoitMain(ModuleTaskLoader(...))``), checked the same way, with the ops
action wrapped in a timer: it reports whether ``tensorflow`` is in
``sys.modules`` at the end, the ops action's own time and the modules the
action imported. And one ``doit ops`` with the memo emptied first (a fresh
clone's first run: every flatbuffer read), with where that time goes (its
imports, then ``VariantOps.read``, ``converter.tflite.runtimes.need_of`` and
``converter.tflite.modelinfo.op_versions``, each timed by a wrapper). Timings are reported, never asserted, except the target.

Run from the repository root::

    .venv/bin/python bench/ops_bench.py [--reps N]

It prints the results and writes this benchmark's section of
bench/RESULTS.md (other sections are kept); it exits non-zero when a target
is missed. With the setup done, the default run takes about 10 seconds.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
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
    Check,
    Timed,
    checks_table,
    child_command,
    doit_api_facts,
    doit_noop,
    doit_tasks,
    load_average,
    median,
    new_report,
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
    timed_function,
    timings_table,
    update_results,
    verdict,
    write_json,
)
from noop_bench import MODELS, OURS, TASK_NAMES, TASKS, VARIANTS, ensure_ours

TARGET_RATIO = 2.0  # (B) / (A) at most this
ARMS = {"A": "(A) no-op `doit convert`", "B": "(B) `doit ops`"}
INVENTORY = OURS / "build" / "ops.json"
REGISTRATION = OURS / "build" / "register_ops.cc"
VARIANT_NAMES = sorted(f"{model}/{variant}" for model in MODELS for variant in VARIANTS)


# --- the runs and their checks ---------------------------------------------------------------


def inventory_variants() -> list[str]:
    """The variants ops.json lists, sorted ([] when it is missing or unreadable)."""
    variants = read_json(INVENTORY).get("variants")
    return sorted(variants) if isinstance(variants, dict) else []


def doit_ops(command: Sequence[str] | None = None) -> Timed:
    """One whole ``python -m doit ops`` process (or ``command``) in the project, spawn to exit;
    RuntimeError unless it exited 0, executed the ops task alone with every convert task up to
    date, and left ops.json listing every variant."""
    run = run_timed(command or [sys.executable, "-m", "doit", "ops"], OURS, CACHE_OFF_ENV)
    executed, fresh = doit_tasks(run.stdout)
    if run.returncode != 0 or executed != ["ops"] or sorted(fresh) != sorted(TASK_NAMES):
        raise RuntimeError(
            f"doit ops in {OURS.name}: status {run.returncode}, executed {executed[:5]} "
            f"({len(executed)} in all, the ops task alone expected), {len(fresh)} of {TASKS} "
            f"convert tasks up to date\n{tail(run.output)}"
        )
    listed = inventory_variants()
    if listed != VARIANT_NAMES:
        raise RuntimeError(
            f"{INVENTORY} lists {len(listed)} variants after doit ops; expected {TASKS}"
        )
    return run


def ops_line(output: str) -> str:
    """The ops task's own line (``ops: 600 variants, ...``), or "" when it printed none."""
    found = [line.strip() for line in output.splitlines() if line.strip().startswith("ops: ")]
    return found[-1] if found else ""


# --- the in-process child: TensorFlow check and the ops action's time -------------------------


# The stages of the ops action timed on their own: (module, attribute of it, label).
STAGES = (
    ("rules.fleet.inventory", "VariantOps.read", "read"),
    ("converter.tflite.runtimes", "need_of", "need_of"),
    ("converter.tflite.modelinfo", "op_versions", "op_versions"),
)


def instrument(spent: dict[str, float]) -> None:
    """Import what the ops action reads artifacts with (timed as ``imports``: the action imports
    it first), then wrap each of STAGES to add its time to ``spent``."""
    started = time.perf_counter()
    owners = {module: importlib.import_module(module) for module, _, _ in STAGES}
    importlib.import_module("rules.fleet.registration")
    spent["imports"] = time.perf_counter() - started
    for module, path, label in STAGES:
        *parents, name = path.split(".")
        owner: Any = owners[module]
        for parent in parents:
            owner = getattr(owner, parent)
        # A classmethod read from its class is bound already: the wrapper is called on the class.
        setattr(owner, name, timed_function(spent, label, getattr(owner, name)))


def child_inprocess(project: Path, report: Path, cold: bool) -> None:
    """Load ``project``'s dodo.py and run ``doit ops`` through doit's API, the ops action
    timed; write a report (TensorFlow imported? the action's time, the modules it imported).

    ``cold``: the build state's memo of the last inventory emptied first, and the stages
    of reading the artifacts timed."""
    start = time.perf_counter()
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain
    from doit.loader import get_module

    os.chdir(project)
    # Imported the way `python -m doit` imports it (runpy.run_path would skip the .pyc cache).
    namespace = vars(get_module(str(project / "dodo.py")))
    # The action is looked up on its module when the ops task is made, so wrap it there.
    from rules.actions import ops as actions  # imported by the dodo.py already

    spent: dict[str, float] = {}
    modules: dict[str, list[str]] = {}
    action = actions.ops
    if cold:
        namespace["TFLITE_BUILD"].state.set_meta(actions.MEMO, "{}")

    @functools.wraps(action)  # doit reads the action's signature
    def ops_action(*args: Any, **kwargs: Any) -> Any:
        before = set(sys.modules)
        try:
            if cold:
                instrument(spent)
            return action(*args, **kwargs)
        finally:
            modules["new"] = sorted(set(sys.modules) - before)

    actions.ops = timed_function(spent, "ops", ops_action)
    loaded = time.perf_counter()
    code = DoitMain(ModuleTaskLoader(namespace)).run(["ops"])
    finished = time.perf_counter()
    write_json(
        report,
        {
            **doit_api_facts(code, namespace),
            "inside_seconds": finished - start,
            "load_seconds": loaded - start,
            "run_seconds": finished - loaded,
            "ops_seconds": spent.get("ops"),
            "stages": spent,
            "ops_imported": modules.get("new", []),
        },
    )


def inprocess_ops(cold: bool = False) -> dict[str, Any]:
    """One more ``doit ops``, by ``_child inprocess``, checked like the timed ones: the child's
    report, with the run's ``wall_seconds``."""
    report = new_report(f"ops-inprocess{'-cold' if cold else ''}.json")
    run = doit_ops(child_command(__file__, "inprocess", OURS, report, "cold" if cold else "warm"))
    facts = read_json(report)
    if facts.get("ops_seconds") is None:
        raise RuntimeError(f"the in-process doit ops ran no ops action; report {report}")
    return {**facts, "wall_seconds": run.seconds}


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Measurements:
    wall: dict[str, list[float]] = field(default_factory=lambda: {arm: [] for arm in ARMS})
    warmup: dict[str, float] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)  # the 1-min load after each repetition
    line: str = ""  # the ops task's line, from the last timed (B)
    inprocess: dict[str, Any] = field(default_factory=dict)
    cold: dict[str, Any] = field(default_factory=dict)  # the same, the memo emptied first
    load_before: float = field(default_factory=load_average)


def run_arm(arm: str) -> Timed:
    return doit_noop(OURS, TASK_NAMES) if arm == "A" else doit_ops()


def measure(reps: int) -> Measurements:
    m = Measurements()
    for path in (INVENTORY, REGISTRATION):
        path.unlink(missing_ok=True)  # the warm-up writes them, the timed runs find them current
    for arm in ARMS:
        m.warmup[arm] = run_arm(arm).seconds
        print(f"warm-up {arm}: {m.warmup[arm]:.2f} s", flush=True)
    if not REGISTRATION.is_file():
        raise RuntimeError(f"doit ops left no {REGISTRATION}")
    for rep in range(reps):
        for arm in ("A", "B") if rep % 2 == 0 else ("B", "A"):
            run = run_arm(arm)
            m.wall[arm].append(run.seconds)
            if arm == "B":
                m.line = ops_line(run.output)
            print(f"rep {rep + 1}/{reps}: {arm} {run.seconds:.2f} s", flush=True)
        m.loads.append(load_average())
    m.inprocess = inprocess_ops()
    m.cold = inprocess_ops(cold=True)
    return m


# --- reporting -------------------------------------------------------------------------------


def ratio(m: Measurements) -> float:
    return median(m.wall["B"]) / median(m.wall["A"])


def checks(m: Measurements) -> list[Check]:
    imported = bool(m.inprocess["tensorflow_imported"])
    return [
        Check("B/A", f"{ratio(m):.2f}", f"<= {TARGET_RATIO:g}", ratio(m) <= TARGET_RATIO),
        Check("TensorFlow imported by `doit ops`", "yes" if imported else "no", "no", not imported),
    ]


def timings(m: Measurements) -> list[tuple[str, list[float]]]:
    return [(name, m.wall[arm]) for arm, name in ARMS.items()]


def imported_packages(modules: Sequence[str]) -> str:
    """The top-level packages among ``modules``, with how many modules each."""
    counts: dict[str, int] = {}
    for name in modules:
        top = name.split(".")[0]
        counts[top] = counts.get(top, 0) + 1
    return ", ".join(f"{top} ({n})" for top, n in sorted(counts.items())) or "none"


def stages_line(ip: dict[str, Any]) -> str:
    """Where a cold ops action's time went, stage by stage (nested stages inside their callers)."""
    s = ip["stages"]
    read = s.get("read", 0.0)
    rest = ip["ops_seconds"] - s["imports"] - read
    return (
        f"A cold `doit ops` (the memo of the last inventory emptied first, as on a fresh clone): "
        f"the ops action {ip['ops_seconds']:.3f} s of {ip['wall_seconds']:.2f} s spawn to exit. "
        f"Its imports (rules.fleet.inventory, rules.fleet.registration, the flatbuffer schema and what they "
        f"import) {s['imports']:.3f} s; reading the {TASKS} artifacts (`VariantOps.read`) "
        f"{read:.3f} s, of which `converter.tflite.runtimes.need_of` {s.get('need_of', 0.0):.3f} s, of "
        f"which `converter.tflite.modelinfo.op_versions` {s.get('op_versions', 0.0):.3f} s; the rest (the "
        f"fleet, the text of ops.json and register_ops.cc, comparing it with the files) "
        f"{rest:.3f} s"
    )


def summary_lines(m: Measurements, stamp: dict[str, Any]) -> list[str]:
    """The facts below the tables, shared by the console output and RESULTS.md."""
    ip = m.inprocess
    difference = median(m.wall["B"]) - median(m.wall["A"])
    return [
        f"TensorFlow imported by `doit ops` (one more run through doit's API in a child process, "
        f"then `'tensorflow' in sys.modules`): {'YES' if ip['tensorflow_imported'] else 'no'} "
        f"({verdict(not ip['tensorflow_imported'])})",
        f"The ops action itself, in that run: {ip['ops_seconds']:.3f} s of {ip['wall_seconds']:.2f}"
        f" s spawn to exit (loading doit and the dodo.py {ip['load_seconds']:.3f} s; doit's run, "
        f"the no-op convert tasks included, {ip['run_seconds']:.3f} s); modules new in the "
        f"action: {imported_packages(ip['ops_imported'])}",
        stages_line(m.cold),
        f"Difference of the medians, B - A: {difference:.2f} s",
        f"Every timed run executed no conversion: (A) nothing executed, (B) the ops task alone, "
        f"all {TASKS} convert tasks up to date in both; after every (B) run ops.json listed all "
        f"{TASKS} variants",
        f"The ops task's line: `{m.line}`",
        f"1-min load average after each repetition: {', '.join(f'{v:.2f}' for v in m.loads)}",
        f"Warm-up runs (untimed; (B)'s wrote ops.json and register_ops.cc, removed before it): "
        f"(A) {m.warmup['A']:.2f} s, (B) {m.warmup['B']:.2f} s",
        f"Last real build of the project (noop_bench's setup, `doit -n 2 convert`, "
        f"{stamp.get('conversions', '?')} conversions, {stamp.get('built', '?')}): "
        f"{stamp.get('build_seconds', '?')} s",
    ]


def render(m: Measurements, reps: int, command: str, stamp: dict[str, Any]) -> str:
    body = [
        f"- Project: noop_bench's bench/work/noop/, {len(MODELS)} folders with a copy of one "
        f"tiny Keras 3 SavedModel and a model.yaml with {len(VARIANTS)} variants "
        f"({', '.join(VARIANTS)}), {TASKS} artifacts, cache off",
        f"- (A) `python -m doit convert`, a no-op; (B) `python -m doit ops` (the same no-op, then "
        f"the inventory of the {TASKS} artifacts); {plural(reps, 'repetition')}, interleaved; "
        "wall clock of whole processes (spawn to exit)",
        "",
        *timings_table("build", timings(m)),
        "",
        *checks_table("check", "value", checks(m)),
        "",
        *(f"- {line}" for line in summary_lines(m, stamp)),
    ]
    title = f"ops_bench: `doit ops` of {len(MODELS)} manifests ({TASKS} variants) against a no-op"
    return section(title, command, m.load_before, body, sources=["rules", "converter"])


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "_child":
        _, project, report, temperature = argv[1:]
        child_inprocess(Path(project).resolve(), Path(report).resolve(), temperature == "cold")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=positive_int, default=5, help="repetitions of each run")
    args = parser.parse_args(argv)
    stamp = ensure_ours()
    print(f"{TASKS} variants, {args.reps} repetitions; logs in {LOG_DIR}", flush=True)
    m = measure(args.reps)
    print_timings("build", timings(m), 28)
    print_checks(checks(m))
    print_facts(summary_lines(m, stamp))
    command = reproduce(__file__, parser, args, "reps")
    update_results("ops_bench", render(m, args.reps, command, stamp))
    print(f"\nwrote {RESULTS}")
    failed = [c.what for c in checks(m) if not c.ok]
    if failed:
        print(f"FAILED: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
