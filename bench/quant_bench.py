"""Benchmark: the quantization doctor on a model that int8 breaks: keep_float: auto against int8.

The model is example_project/outlier's digits MLP (its train.py, run here on a
copy): one weight outlier on an always-blank pixel makes its first layer's int8
scale useless, so plain int8 drops to chance while float is untouched. Four
variants: float32, float16, int8, and ``auto`` (int8 with ``keep_float: auto``
and the budget ``max_accuracy_drop: 0.02``). The targets (issue "The
quantization doctor"):

- auto meets its budget: accuracy drop at most 0.02 (from its report);
- auto stays small: at most 1.5x plain int8's size, and smaller than float16's;
- the search is bounded: its conversions at most 2 + ceil(log2(layers)) + the
  number of layers it kept in float (``converter.quantization.search.bound``);
- a second ``doit convert`` converts nothing, and a fresh build folder with the
  warm cache restores all four variants without any conversion or search.

A failed target is a non-zero exit. After one untimed cold ``doit convert``
(TensorFlow's first start reads its libraries from disk), each of --reps cold
builds starts from a fresh build folder and a fresh cache, with the conversion
service off, as a user runs them: ``doit convert:outlier/int8`` and ``doit
convert:outlier/auto`` (each a whole process, spawn to exit, their order
rotated per repetition), then ``doit convert`` (the two float variants) and
``doit report``. Sizes, accuracy and latency come from the reports; the
layers kept and the search's conversions and seconds from
``build/outlier/auto.convert.json``. The warm checks run after the last
repetition, in its build folder and cache.

The project: bench/work/quant/ (a pyproject.toml, the two-line dodo.py, and
outlier/ with the copy of train.py, its model and data, and the manifest); the
cache: bench/work/quant_cache/ (``TFLITE_BUILD_CACHE``). Run from the
repository root::

    .venv/bin/python bench/quant_bench.py [--reps N]

It prints the results and writes this benchmark's section of bench/RESULTS.md
(other sections are kept). On 2 cores the default run takes about 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
    table,
    tail,
    timings_table,
    update_results,
    write_if_changed,
    write_project,
)

from converter.quantization.search import bound

PROJECT = WORK / "quant"
CACHE = WORK / "quant_cache"
MODEL = "outlier"
TRAIN = REPO / "example_project" / MODEL / "train.py"
TRAINED = ("model.keras", "data/calib.npz", "data/test.npz")  # what train.py writes
BUILD = PROJECT / "build" / MODEL
VARIANTS = ("float32", "float16", "int8", "auto")
MAX_DROP = 0.02  # auto's budget: max_accuracy_drop
MAX_VS_INT8 = 1.5  # auto's size against plain int8's, at most
MANIFEST = f"""\
# Written by bench/quant_bench.py: example_project/outlier's model, four variants.
source:
  keras: model.keras
defaults:
  representative: {{data: data/calib.npz, samples: 100}}
variants:
  float32: {{representative: null}}
  float16: {{quantize: float16, representative: null}}
  int8: {{quantize: int8}}
  auto: {{quantize: int8, keep_float: auto}}
evaluate:
  data: data/test.npz
budgets:
  auto: {{max_accuracy_drop: {MAX_DROP}}}
"""
PYPROJECT = '[tool.tflite-build]\nbuild_dir = "build"\n'
TIMED = {
    "int8": "`doit convert:outlier/int8` (whole process)",
    "auto": "`doit convert:outlier/auto` (whole process)",
    "int8_worker": "int8's conversion (in the worker)",
    "auto_worker": "auto's conversion (in the worker)",
    "search": "auto's search (in the worker)",
    "rest": "`doit convert` (float32, float16)",
    "report": "`doit report` (4 reports)",
}


def task(variant: str) -> str:
    return f"convert:{MODEL}/{variant}"


def environment() -> dict[str, str]:
    """A private cache, the conversion service off, no other setting from this shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFLITE_BUILD_")}
    return {**env, "TFLITE_BUILD_CACHE": str(CACHE), "TFLITE_BUILD_DAEMON": "off"}


def ensure_project() -> float | None:
    """Write the project; train the model when it or train.py's copy is new. Training's seconds."""
    write_project(PROJECT, "bench/quant_bench.py", {MODEL: MANIFEST}, PYPROJECT)
    script = PROJECT / MODEL / "train.py"
    fresh = script.is_file() and script.read_text() == TRAIN.read_text()
    if fresh and all((PROJECT / MODEL / name).is_file() for name in TRAINED):
        return None
    write_if_changed(script, TRAIN.read_text())
    run = run_timed([sys.executable, str(script)], PROJECT, check=True)
    (LOG_DIR / "quant-train.log").write_text(run.output)
    return run.seconds


def doit(command: Sequence[str], log: str, expected: Sequence[str], fresh: int = 0) -> Timed:
    """One ``python -m doit COMMAND`` in the project, which must exit 0, execute exactly
    ``expected`` and find ``fresh`` tasks up to date; its output in bench/work/logs/LOG."""
    run = run_timed([sys.executable, "-m", "doit", *command], PROJECT, environment())
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / log).write_text(run.output)
    executed, uptodate = doit_tasks(run.stdout)
    if run.returncode != 0 or sorted(executed) != sorted(expected) or len(uptodate) != fresh:
        raise SystemExit(
            f"doit {' '.join(command)}: status {run.returncode}, executed {executed} "
            f"(expected {list(expected)}), {len(uptodate)} up to date (expected {fresh})\n"
            f"{tail(run.output)}"
        )
    return run


def artifacts() -> dict[str, bytes]:
    return {v: (BUILD / f"{v}.tflite").read_bytes() for v in VARIANTS}


def sidecar(variant: str) -> dict[str, Any]:
    return read_json(BUILD / f"{variant}.convert.json")


# --- the cold builds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One variant's report: size, accuracy, and latency on this host."""

    size: int
    accuracy: float
    reference: float  # the source model's accuracy, in TensorFlow
    drop: float
    latency_ms: float

    @classmethod
    def of(cls, variant: str) -> Figures:
        report = read_json(BUILD / f"{variant}.report.json")
        accuracy = report["accuracy"]
        return cls(
            report["size"]["size"],
            accuracy["accuracy"],
            accuracy["reference_accuracy"],
            accuracy["accuracy_drop"],
            report["latency"]["median_ms"],
        )


@dataclass(frozen=True)
class Cold:
    """One cold build: timings (seconds), each variant's figures, auto's search, the bytes."""

    seconds: Mapping[str, float]  # by TIMED's keys
    figures: Mapping[str, Figures]
    kept: tuple[str, ...]
    search: Mapping[str, Any]  # auto's convert.json "search"
    worst_int8: tuple[str, float]  # the int8 report's worst layer and its error in steps
    artifacts: Mapping[str, bytes]

    @property
    def bound(self) -> int:
        return bound(self.search["layers"], len(self.kept))


def fresh_start() -> None:
    shutil.rmtree(PROJECT / "build", ignore_errors=True)
    shutil.rmtree(CACHE, ignore_errors=True)


def warm_up_build() -> float:
    """One untimed cold ``doit convert`` first: the first TensorFlow start after training or
    an idle spell reads its libraries from disk, which would weigh on one path only."""
    fresh_start()
    return doit(["convert"], "quant-warm-up.log", [task(v) for v in VARIANTS]).seconds


def cold_build(rep: int) -> Cold:
    fresh_start()
    order = ("int8", "auto") if rep % 2 == 0 else ("auto", "int8")
    seconds: dict[str, float] = {}
    for variant in order:
        seconds[variant] = doit(
            [task(variant)], f"quant-{rep}-{variant}.log", [task(variant)]
        ).seconds
    rest = doit(["convert"], f"quant-{rep}-rest.log", [task("float32"), task("float16")], fresh=2)
    reports = [f"report:{MODEL}/{v}" for v in VARIANTS]
    report = doit(["report"], f"quant-{rep}-report.log", reports, fresh=len(VARIANTS))
    auto = sidecar("auto")
    seconds |= {
        "rest": rest.seconds,
        "report": report.seconds,
        "int8_worker": sidecar("int8")["seconds"],
        "auto_worker": auto["seconds"],
        "search": auto["search"]["seconds"],
    }
    ops = read_json(BUILD / "int8.report.json")["layers"]["ops"]
    worst = max(ops, key=lambda op: op["rmse_scale"])
    return Cold(
        seconds,
        {v: Figures.of(v) for v in VARIANTS},
        tuple(auto["kept_float"]),
        auto["search"],
        (worst["layer"], worst["rmse_scale"]),
        artifacts(),
    )


# --- the warm checks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Warm:
    """The second ``doit convert``, and the one in a fresh build folder with the warm cache."""

    again: Timed
    restore: Timed
    restored: int  # variants the restore took from the cache ("C  task" lines)
    origins: Mapping[str, str]  # by variant, from the convert.json files
    searched: bool  # the restore's output reports a search
    same_bytes: bool  # the restore's artifacts are the cold build's

    @property
    def restored_all(self) -> bool:
        local = all(origin == "local" for origin in self.origins.values())
        return self.restored == len(VARIANTS) and local and not self.searched and self.same_bytes


def warm_checks(cold: Cold) -> Warm:
    """After the last cold build: the same project again, then a fresh build folder."""
    again = doit(["convert"], "quant-warm.log", [], fresh=len(VARIANTS))
    shutil.rmtree(PROJECT / "build")
    restore = doit(["convert"], "quant-restore.log", [])
    cached = [line for line in restore.stdout.splitlines() if line.startswith("C  ")]
    return Warm(
        again,
        restore,
        len(cached),
        {v: sidecar(v).get("origin", "?") for v in VARIANTS},
        "searched" in restore.output,
        artifacts() == cold.artifacts,
    )


# --- the results -------------------------------------------------------------------------------


def number(value: float | None) -> str:
    return "none" if value is None else f"{value:.4f}"


def series(colds: Sequence[Cold], key: str) -> list[float]:
    return [c.seconds[key] for c in colds]


def worst(colds: Sequence[Cold], value: Callable[[Cold], float]) -> float:
    return max(value(c) for c in colds)


def checks(colds: Sequence[Cold], warm: Warm) -> list[Check]:
    drop = worst(colds, lambda c: c.figures["auto"].drop)
    vs_int8 = worst(colds, lambda c: c.figures["auto"].size / c.figures["int8"].size)
    vs_f16 = worst(colds, lambda c: c.figures["auto"].size / c.figures["float16"].size)
    over = worst(colds, lambda c: c.search["conversions"] - c.bound)
    last = colds[-1]
    executed, _ = doit_tasks(warm.again.stdout)
    origins = sorted(set(warm.origins.values()))
    return [
        Check("auto's accuracy drop", f"{drop:.4f}", f"<= {MAX_DROP}", drop <= MAX_DROP),
        Check(
            "auto's size / int8's", f"{vs_int8:.2f}x", f"<= {MAX_VS_INT8}x", vs_int8 <= MAX_VS_INT8
        ),
        Check("auto's size / float16's", f"{vs_f16:.2f}x", "< 1x", vs_f16 < 1),
        Check(
            "auto's search: conversions (bound)",
            f"{last.search['conversions']} ({last.bound})",
            "<= bound",
            over <= 0,
        ),
        Check(
            "second `doit convert`: tasks executed",
            str(len(executed)),
            "0",
            not executed and "0 built, 0 from cache" in warm.again.output,
        ),
        Check(
            "fresh build folder, warm cache: variants restored",
            f"{warm.restored} of {len(VARIANTS)} ({', '.join(origins)}), "
            f"{'a search' if warm.searched else 'no search'}",
            "all, local, no search, same bytes",
            warm.restored_all,
        ),
    ]


def variants_table(colds: Sequence[Cold]) -> list[str]:
    first = colds[0]
    int8 = first.figures["int8"].size

    def row(variant: str) -> list[str]:
        f = first.figures[variant]
        latency = median([c.figures[variant].latency_ms for c in colds])
        kept = ", ".join(first.kept) if variant == "auto" else ""
        return [
            variant,
            f"{f.size:,}",
            f"{f.size / int8:.2f}x",
            f"{f.accuracy:.4f}",
            f"{f.drop:.4f}",
            f"{latency * 1000:.1f}",
            kept,
        ]

    header = (
        "variant",
        "size (bytes)",
        "vs int8",
        "accuracy",
        "drop",
        "latency (µs)",
        "kept in float",
    )
    return table(header, (row(v) for v in VARIANTS))


def facts(colds: Sequence[Cold], warm: Warm, trained: float | None, warm_up: float) -> list[str]:
    last = colds[-1]
    search = last.search
    trials = "; ".join(
        f"[{', '.join(t['kept'])}] drop {number(t.get('accuracy_drop'))}" for t in search["trials"]
    )
    same = all(c.artifacts == colds[0].artifacts for c in colds)
    process = median(series(colds, "auto")) / median(series(colds, "int8"))
    worker = median(series(colds, "auto_worker")) / median(series(colds, "int8_worker"))
    layer, steps = last.worst_int8
    kept = [", ".join(c.kept) for c in colds]
    return [
        f"auto / int8, medians: whole `doit convert` processes {process:.2f}x, conversions in "
        f"the worker {worker:.2f}x (the doctor calibrates once, through TF's "
        "QuantizationDebugger; each trial quantizes that calibrated model again without "
        "a new calibration)",
        f"auto's search ({plural(len(colds), 'build')}): {search['layers']} quantized layers, "
        f"kept in float: {', '.join(sorted(set(kept)))}; {search['conversions']} conversions "
        f"(the bound: {last.bound}); trials: {trials}; trials measured on {search['data']}",
        f"int8's report names its worst layer: {layer} ({steps:.1f} quantization steps of "
        "RMSE against float)",
        f"Same bytes in every cold build: {'yes' if same else 'NO'}; the source model's "
        f"accuracy (TensorFlow): {last.figures['float32'].reference:.4f}; latency: the "
        f"reports' medians (batch 1, one thread, this host), median of the cold builds",
        f"Second `doit convert`: {warm.again.seconds:.2f} s, nothing executed; fresh build "
        f"folder with the warm cache: {warm.restore.seconds:.2f} s, {warm.restored} of "
        f"{len(VARIANTS)} variants from the cache (convert.json origins: "
        f"{', '.join(f'{v} {o}' for v, o in warm.origins.items())}), search reported: "
        f"{'yes' if warm.searched else 'no'}, the cold build's bytes: "
        f"{'yes' if warm.same_bytes else 'NO'}",
        "Setup: the model trained by train.py's copy "
        + (f"in this run ({trained:.1f} s)" if trained is not None else "in an earlier run")
        + f"; an untimed cold `doit convert` of the four variants first: {warm_up:.2f} s",
    ]


def render(colds: Sequence[Cold], warm: Warm, trained: float | None, warm_up: float) -> list[str]:
    return [
        f"- Project: bench/work/quant/, example_project/outlier's model (train.py's copy), "
        f"variants float32, float16, int8 and auto (`keep_float: auto`, budget "
        f"`max_accuracy_drop: {MAX_DROP}`); the conversion service off",
        f"- {plural(len(colds), 'cold build')}, each in a fresh build folder with a fresh cache: "
        "int8 and auto each by its own `doit convert:outlier/VARIANT` (order rotated), then "
        "`doit convert` and `doit report`; wall clock of whole processes, spawn to exit; the "
        "in-worker seconds from the convert.json files",
        "",
        *variants_table(colds),
        "",
        *timings_table("cold build", [(TIMED[k], series(colds, k)) for k in TIMED]),
        "",
        *checks_table("check", "measured", checks(colds, warm)),
        "",
        *(f"- {line}" for line in facts(colds, warm, trained, warm_up)),
    ]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=positive_int, default=3, help="cold builds")
    args = parser.parse_args(argv)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    trained = ensure_project()
    before = load_average()
    warm_up = warm_up_build()
    print(f"warm-up build: {warm_up:.2f} s", flush=True)
    colds: list[Cold] = []
    for rep in range(args.reps):
        colds.append(cold_build(rep))
        took = ", ".join(f"{k} {v:.2f} s" for k, v in colds[-1].seconds.items())
        print(f"cold build {rep + 1}: {took}", flush=True)
    warm = warm_checks(colds[-1])
    found = checks(colds, warm)
    print_timings("cold build", [(TIMED[k], series(colds, k)) for k in TIMED], 46)
    print_checks(found)
    print_facts(facts(colds, warm, trained, warm_up))
    text = section(
        "quant_bench: keep_float: auto on a model int8 breaks",
        reproduce(__file__, parser, args, "reps"),
        before,
        render(colds, warm, trained, warm_up),
    )
    update_results("quant_bench", text)
    print(f"\nwrote {RESULTS}")
    failed = [c.what for c in found if not c.ok]
    if failed:
        print(f"FAILED: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
