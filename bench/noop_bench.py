"""Benchmark: a no-op ``doit convert`` of a 200-manifest project against doit's own floor.

The design target: a no-op ``doit convert`` of a generated project with 200
manifests (3 variants each, 600 tasks) takes at most 1.5x doit's floor, and
TensorFlow is never imported in a no-op run.

(A) ours: bench/work/noop/, folders ``m000``..``m199``, each with its own copy
    of one tiny SavedModel (a Keras 3 model of 212 parameters, exported once
    with ``model.export``), a ``model.yaml`` with the variants float32,
    dynamic and float16, the two-line ``dodo.py`` of the README and a
    ``pyproject.toml`` turning the artifact cache off (nothing is written
    outside bench/work/; a no-op never consults the cache).
(B) the floor: bench/work/noop_floor/dodo.py, generated: the same 600 task
    names (``convert:m000/float32`` ...) as subtasks of a ``convert`` task
    creator, each with ``file_dep`` = the files of that model's SavedModel in
    (A) (the files, not the directory), one target in the floor's own build
    dir and a trivial python-action writing it; the same sqlite3 backend.
    Like ours it also creates a ``report`` task per variant and a ``summary``
    task on every load (not run by ``doit convert``): the same task graph.

Timed: ``python -m doit convert`` in (A) and in (B), both no-ops, as whole
processes (spawn to exit), ``--reps`` times, interleaved (A B, B A, ...),
after one untimed warm-up run of each. Every run must execute nothing (doit
prints ``.  task`` for an executed task and ``-- task`` for an up-to-date
one) and report all 600 tasks up to date, or the benchmark stops with an
error. Then one more no-op of each runs through doit's API in a child process
(the dodo.py imported as doit imports it, ``DoitMain(ModuleTaskLoader(...))``)
that reports whether ``tensorflow`` is in ``sys.modules`` at the end, how many
files the digest memo hashed, and where the time went (rules' stages are
timed by wrapping ``find_manifests``, ``load_manifests``, the ``uptodate``
callable and the ``convert`` task creator). As context: the start-up time of
``python -c pass``, ``python -c "import doit"`` and ``python -c "import
rules"``. Timings are reported, never asserted.

Setup (not timed, under bench/work/): the tiny model and the folders are made
when missing; then ``doit -n 2 convert`` brings (A) up to date on every run:
600 small conversions (2-3 minutes on 2 cores) the first time or after a
change in rules/ changed the keys, a second otherwise. (B) is regenerated and
run once when its dodo.py is out of date.

Run from the repository root::

    .venv/bin/python bench/noop_bench.py [--reps N] [--profile]

``--profile`` also prints a cProfile of (A)'s in-process run. It prints a table
and writes this benchmark's section of bench/RESULTS.md (other sections are
kept). With the setup done, the default run takes under 10 seconds.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    CACHE_OFF_ENV,
    LOG_DIR,
    REPO,
    REPORT_DIR,
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
    plural,
    positive_int,
    print_checks,
    print_facts,
    print_timings,
    read_json,
    reproduce,
    run_logged,
    run_timed,
    saved_model_files,
    section,
    timed_function,
    timings_table,
    update_results,
    verdict,
    write_json,
    write_project,
)

OURS = WORK / "noop"  # project (A)
FLOOR = WORK / "noop_floor"  # project (B)
TEMPLATE = WORK / "noop_template" / "export"  # the one tiny SavedModel, copied into (A)

MODELS = [f"m{index:03d}" for index in range(200)]
VARIANTS = {"float32": "{}", "dynamic": "{quantize: dynamic}", "float16": "{quantize: float16}"}
TASK_NAMES = [f"convert:{model}/{variant}" for model in MODELS for variant in VARIANTS]
TASKS = len(TASK_NAMES)
SETUP_FORMAT = 1  # bump when the generated projects change
RECIPE = {"format": SETUP_FORMAT, "models": len(MODELS), "variants": list(VARIANTS)}
TARGET_RATIO = 1.5  # (A) / (B) at most this
ARMS = {"A": "(A) ours", "B": "(B) doit floor"}

MANIFEST = "source: {saved_model: export}\nvariants:\n" + "".join(
    f"  {name}: {options}\n" for name, options in VARIANTS.items()
)


# --- setup: the tiny model and project (A) ----------------------------------------------------


def ensure_ours() -> dict[str, Any]:
    """Project (A): generated where missing, then brought up to date by ``doit -n 2 convert``
    (the real build the first time or after a change in rules/ changed the keys; a no-op of a
    second otherwise); the stamp of its last real build."""
    if not (TEMPLATE / "saved_model.pb").is_file():
        print(f"setup: exporting the tiny model to {TEMPLATE} ...", flush=True)
        TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
        command = child_command(__file__, "export", TEMPLATE)
        run_logged(command, LOG_DIR / "noop-export.log", env=CACHE_OFF_ENV)
    write_project(
        OURS, "bench/noop_bench.py: a 200-manifest project", dict.fromkeys(MODELS, MANIFEST)
    )
    for model in MODELS:
        export = OURS / model / "export"
        if not (export / "saved_model.pb").is_file():
            shutil.rmtree(export, ignore_errors=True)
            shutil.copytree(TEMPLATE, export)
    print(
        f"setup: doit -n 2 convert in {OURS} (minutes if the {TASKS} variants need building) ...",
        flush=True,
    )
    log = LOG_DIR / "noop-build.log"
    command = [sys.executable, "-m", "doit", "-n", "2", "convert"]
    seconds = run_logged(command, log, cwd=OURS, env=CACHE_OFF_ENV)
    built = len(doit_tasks(log.read_text(errors="replace"))[0])
    outputs = (
        OURS / "build" / model / f"{variant}.tflite" for model in MODELS for variant in VARIANTS
    )
    missing = [p for p in outputs if not p.is_file()]
    if missing:
        raise RuntimeError(f"the build left {len(missing)} artifact(s) missing, e.g. {missing[0]}")
    facts = {"conversions": built, "build_seconds": round(seconds, 1)}
    stamp = build_stamp(OURS / "bench-setup.json", RECIPE, built > 0, facts)
    print(f"setup: {built} variant(s) built in {seconds:.1f} s", flush=True)
    return stamp


# --- setup: project (B), the floor -------------------------------------------------------------


def floor_dodo(inputs: dict[str, list[str]]) -> str:
    """The floor's dodo.py: the same task names and inputs (model -> files), trivial actions."""
    listing = "".join(f"    {name!r}: {files!r},\n" for name, files in inputs.items())
    return f'''"""Generated by bench/noop_bench.py: doit's floor for a 600-task no-op (do not edit).

The same task names as ../noop, each with file_dep = the files of that model's
SavedModel in ../noop, one target here and a trivial action.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "noop"
DOIT_CONFIG = {{
    "backend": "sqlite3",
    "dep_file": str(HERE / "doit.sqlite"),
    "default_tasks": ["convert"],
}}
VARIANTS = {list(VARIANTS)!r}
INPUTS = {{
{listing}}}


def write(targets):
    path = Path(targets[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("built\\n")


def task_convert():
    """Trivial stand-ins for the convert tasks"""
    yield {{"basename": "convert", "name": None, "doc": "Trivial stand-ins"}}
    for model, files in INPUTS.items():
        file_dep = [str(OURS / f) for f in files]
        for variant in VARIANTS:
            yield {{
                "name": f"{{model}}/{{variant}}",
                "actions": [write],
                "file_dep": file_dep,
                "targets": [str(HERE / "build" / model / f"{{variant}}.out")],
                "verbosity": 1,
            }}


def task_report():
    """Trivial stand-ins for the report tasks (created on every load, like ours)"""
    yield {{"basename": "report", "name": None, "doc": "Trivial stand-ins"}}
    for model in INPUTS:
        for variant in VARIANTS:
            yield {{
                "name": f"{{model}}/{{variant}}",
                "actions": [write],
                "task_dep": [f"convert:{{model}}/{{variant}}"],
                "targets": [str(HERE / "build" / model / f"{{variant}}.report")],
                "verbosity": 1,
            }}


def task_summary():
    """A trivial stand-in for the summary task"""
    return {{"actions": [write], "task_dep": ["report"], "targets": [str(HERE / "summary.out")]}}
'''


def ensure_floor() -> int:
    """Project (B), generated and run once unless bench/work/noop_floor/ is current; file_deps."""
    inputs = {
        model: [p.relative_to(OURS).as_posix() for p in saved_model_files(OURS / model / "export")]
        for model in MODELS
    }
    text = floor_dodo(inputs)
    stamp_path = FLOOR / "bench-setup.json"
    stamp = {"recipe": RECIPE, "dodo_chars": len(text)}
    complete = all(
        (FLOOR / "build" / model / f"{variant}.out").is_file()
        for model in MODELS
        for variant in VARIANTS
    )
    dodo = FLOOR / "dodo.py"
    current = dodo.is_file() and dodo.read_text() == text
    if read_json(stamp_path) != stamp or not current or not complete:
        print(f"setup: generating and populating the floor in {FLOOR} ...", flush=True)
        FLOOR.mkdir(parents=True, exist_ok=True)
        dodo.write_text(text)
        command = [sys.executable, "-m", "doit", "convert"]
        run_logged(command, LOG_DIR / "noop-floor.log", cwd=FLOOR, env=CACHE_OFF_ENV)
        write_json(stamp_path, stamp)
    return sum(len(files) for files in inputs.values())


# --- the in-process child: TensorFlow check and breakdown -----------------------------------------


def _timed_generator(spent: dict[str, float], label: str, creator: Any) -> Any:
    """A task creator adding the time spent producing its task dicts to ``spent[label]``."""

    @functools.wraps(creator)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.perf_counter()
        iterator = iter(creator(*args, **kwargs))
        spent[label] = spent.get(label, 0.0) + time.perf_counter() - started
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                spent[label] += time.perf_counter() - started
            yield item

    return wrapper


def child_inprocess(project: Path, report: Path, profile: Path | None) -> None:
    """Load ``project``'s dodo.py and run ``doit convert`` through doit's API; write a report
    (TensorFlow imported? files hashed? where the time went)."""
    start = time.perf_counter()
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain
    from doit.loader import get_module

    imported_doit = time.perf_counter()
    if "import rules" in (project / "dodo.py").read_text():
        import rules  # noqa: F401  (the dodo.py's first line, timed on its own)

    imported_rules = time.perf_counter()
    spent: dict[str, float] = {}
    # Instrument rules' stages where they exist under these names (rules/ may move on).
    loader = sys.modules.get("rules.loader")
    variants = sys.modules.get("rules.build.variants")
    for module, name in ((loader, "find_manifests"), (loader, "load_manifests")):
        if module is not None and hasattr(module, name):
            setattr(module, name, timed_function(spent, name, getattr(module, name)))
    check = getattr(variants, "ConvertUpToDate", None)
    if check is not None:  # the convert tasks' up-to-date check, called by doit per task
        check.__call__ = timed_function(spent, "uptodate", check.__call__)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    os.chdir(project)
    # Imported the way `python -m doit` imports it (runpy.run_path would skip the .pyc cache).
    namespace = vars(get_module(str(project / "dodo.py")))
    namespace["task_convert"] = _timed_generator(spent, "task_convert", namespace["task_convert"])
    loaded = time.perf_counter()
    code = DoitMain(ModuleTaskLoader(namespace)).run(["convert"])
    finished = time.perf_counter()
    if profiler:
        profiler.disable()
        assert profile is not None
        profiler.dump_stats(profile)
    report_data = {
        **doit_api_facts(code, namespace),
        "inside_seconds": finished - start,
        "import_doit_seconds": imported_doit - start,
        "import_rules_seconds": imported_rules - imported_doit,
        "dodo_seconds": loaded - imported_rules,
        "run_seconds": finished - loaded,
        "spent": spent,
    }
    write_json(report, report_data)


def child_main(argv: Sequence[str]) -> int:
    """``_child export DIR`` or ``_child inprocess PROJECT REPORT [PROFILE]``."""
    mode, *rest = argv
    if mode == "export":
        export_mlp(Path(rest[0]), units=(8, 16, 4), seed=7, name="tiny")
    else:
        child_inprocess(
            Path(rest[0]).resolve(),
            Path(rest[1]).resolve(),
            Path(rest[2]) if len(rest) > 2 else None,
        )
    return 0


# --- running and timing --------------------------------------------------------------------------


CONTEXT = {
    "python -c pass": "pass",
    'python -c "import doit"': "import doit",
    'python -c "import rules"': "import rules",
}


@dataclass
class Measurements:
    wall: dict[str, list[float]] = field(default_factory=lambda: {arm: [] for arm in ARMS})
    warmup: dict[str, float] = field(default_factory=dict)
    context: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in CONTEXT})
    inprocess: dict[str, Any] = field(default_factory=dict)  # (A)
    inprocess_floor: dict[str, Any] = field(default_factory=dict)  # (B)
    load_before: float = field(default_factory=load_average)


def compile_bytecode() -> None:
    """Compile rules/ and converter/ as an installed package is compiled (pip does it for doit).

    An editable install writes its bytecode on first import, unless the environment sets
    PYTHONDONTWRITEBYTECODE: then every run would compile our modules from source while
    doit's come compiled, and the benchmark would measure the compiler, not the build.
    """
    packages = [str(REPO / name) for name in ("rules", "converter")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)


def measure(reps: int, profile: Path | None) -> Measurements:
    m = Measurements()
    compile_bytecode()
    projects = {"A": OURS, "B": FLOOR}
    for arm, project in projects.items():
        m.warmup[arm] = doit_noop(project, TASK_NAMES).seconds
        print(f"warm-up {arm}: {m.warmup[arm]:.2f} s", flush=True)
    for rep in range(reps):
        for arm in ("A", "B") if rep % 2 == 0 else ("B", "A"):
            seconds = doit_noop(projects[arm], TASK_NAMES).seconds
            m.wall[arm].append(seconds)
            print(f"rep {rep + 1}/{reps}: {arm} {seconds:.2f} s", flush=True)
    for _ in range(reps):
        for label, code in CONTEXT.items():
            run = run_timed([sys.executable, "-c", code], REPO, CACHE_OFF_ENV, check=True)
            m.context[label].append(run.seconds)
    extra = [profile] if profile else []
    m.inprocess = inprocess_noop(__file__, OURS, TASK_NAMES, "noop-inprocess.json", *extra)
    m.inprocess_floor = inprocess_noop(__file__, FLOOR, TASK_NAMES, "noop_floor-inprocess.json")
    return m


# --- reporting -------------------------------------------------------------------------------------


def breakdown(ip: dict[str, Any], which: str) -> str:
    """Where an in-process run spent its time, stage by stage (n/a: not found to instrument)."""
    spent = ip["spent"]
    find, load = spent.get("find_manifests"), spent.get("load_manifests")
    creator, checks = spent.get("task_convert", 0.0), spent.get("uptodate")
    ours = which == "(A)"
    parts: list[tuple[str, float | None]] = [
        (
            "interpreter start, the child script's own imports, exit",
            ip["wall_seconds"] - ip["inside_seconds"],
        ),
        ("import doit", ip["import_doit_seconds"]),
    ]
    if ours:
        parts += [
            ("import rules", ip["import_rules_seconds"]),
            ("rest of dodo.py (doit_tasks)", ip["dodo_seconds"]),
            ("finding the manifests", find),
            ("reading and validating them", load),
            (f"making the {TASKS} task dicts", creator - (find or 0.0) - (load or 0.0)),
            (f"{TASKS} `uptodate` checks", checks),
        ]
    else:
        parts += [
            ("dodo.py", ip["import_rules_seconds"] + ip["dodo_seconds"]),
            (f"making the {TASKS} task dicts", creator),
        ]
    own = (
        "task objects, database, output"
        if ours
        else "task objects, file_dep checks, database, output"
    )
    parts.append((f"doit's own work ({own})", ip["run_seconds"] - creator - (checks or 0.0)))
    listed = "; ".join(f"{label} {'n/a' if v is None else f'{v:.3f} s'}" for label, v in parts)
    return (
        f"Where {which}'s time goes (one more no-op through doit's API in a child process, "
        f"instrumented; {ip['wall_seconds']:.2f} s spawn to exit): {listed}"
    )


def summary_lines(m: Measurements, stamp: dict[str, Any], file_deps: int) -> list[str]:
    """The facts below the tables, shared by the console output and RESULTS.md."""
    ip = m.inprocess
    context = ", ".join(f"`{label}` {median(values):.3f} s" for label, values in m.context.items())
    return [
        f"TensorFlow imported by a no-op run of (A) (doit's API in a child process, then "
        f"`'tensorflow' in sys.modules`): {'YES' if ip['tensorflow_imported'] else 'no'} "
        f"({verdict(not ip['tensorflow_imported'])}); files hashed by the digest memo in that "
        f"run: {ip['hashed']}",
        f"Every timed run executed nothing and reported all {TASKS} tasks up to date "
        "(no `.  task` lines)",
        breakdown(ip, "(A)"),
        breakdown(m.inprocess_floor, "(B)"),
        f"Context, medians of {len(next(iter(m.context.values())))} start-ups: {context}",
        "Bytecode: rules/ and converter/ compiled before the runs (`python -m compileall`), as "
        "an installed package is; doit's came compiled with its install",
        f"Warm-up runs (untimed, first after setup or a previous bench run): "
        f"(A) {m.warmup['A']:.2f} s, (B) {m.warmup['B']:.2f} s",
        f"(B) checks {file_deps * len(VARIANTS)} file_dep entries ({file_deps} distinct files, "
        f"{file_deps // len(MODELS)} per model); last real build of (A) (setup, `doit -n 2 "
        f"convert`, {stamp.get('conversions', '?')} conversions, {stamp.get('built', '?')}): "
        f"{stamp.get('build_seconds', '?')} s",
    ]


def timings(m: Measurements) -> list[tuple[str, list[float]]]:
    return [(name, m.wall[arm]) for arm, name in ARMS.items()]


def checks(m: Measurements) -> list[Check]:
    ratio = median(m.wall["A"]) / median(m.wall["B"])
    return [Check("A/B", f"{ratio:.2f}", f"<= {TARGET_RATIO:g}", ratio <= TARGET_RATIO)]


def render(m: Measurements, reps: int, command: str, stamp: dict[str, Any], file_deps: int) -> str:
    body = [
        f"- (A) ours: bench/work/noop/, {len(MODELS)} folders with a copy of one tiny Keras 3 "
        f"SavedModel and a model.yaml with {len(VARIANTS)} variants ({', '.join(VARIANTS)}); "
        "(B) doit's floor: bench/work/noop_floor/, the same task names with trivial actions, "
        "file_dep = the SavedModel files of (A), same sqlite3 backend",
        f"- `python -m doit convert` in each, {plural(reps, 'repetition')}, "
        "interleaved; wall clock of whole processes (spawn to exit)",
        "",
        *timings_table("project", timings(m)),
        "",
        *checks_table("ratio", "value", checks(m)),
        "",
        *(f"- {line}" for line in summary_lines(m, stamp, file_deps)),
    ]
    title = f"noop_bench: no-op `doit convert` of {len(MODELS)} manifests ({TASKS} tasks)"
    return section(title, command, m.load_before, body, sources=["rules", "converter"])


def print_report(m: Measurements, stamp: dict[str, Any], file_deps: int) -> None:
    print_timings("project", timings(m), 16)
    print_checks(checks(m))
    print_facts(summary_lines(m, stamp, file_deps))


def print_profile(profile: Path) -> None:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(str(profile), stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    print(f"\ncProfile of the in-process run (dodo.py load + DoitMain.run), saved in {profile}:")
    print(out.getvalue())


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "_child":
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=positive_int, default=5, help="repetitions of each run")
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of the in-process run"
    )
    args = parser.parse_args(argv)
    stamp = ensure_ours()
    file_deps = ensure_floor()
    print(f"{TASKS} tasks, {args.reps} repetitions; logs in {LOG_DIR}", flush=True)
    profile = REPORT_DIR / "noop-inprocess.prof" if args.profile else None
    m = measure(args.reps, profile)
    print_report(m, stamp, file_deps)
    if profile:
        print_profile(profile)
    command = reproduce(__file__, parser, args, "reps")
    update_results("noop_bench", render(m, args.reps, command, stamp, file_deps))
    print(f"\nwrote {RESULTS}")
    if m.inprocess["tensorflow_imported"]:
        print("FAILED: a no-op run imported TensorFlow", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
