"""Benchmark: 20 small SavedModels converted three ways, wall clock of whole processes.

What it measures (the design target: (c) at least 4x faster than (a) and within
1.2x of (b)):

(a) "what a Makefile would do": one ``tflite_convert --saved_model_dir DIR
    --output_file OUT`` process per model, run one after another.
(b) the floor: ONE fresh Python process that imports TensorFlow once and calls
    ``tf.lite.TFLiteConverter.from_saved_model(d).convert()`` for every model,
    writing each output.
(c) ours: ONE fresh Python process that imports ``converter``, opens an
    ``Engine``, converts every model with default ``Options()`` and closes it.

(b) and (c) are timed the same way: from spawning the process to its exit, so
interpreter start-up and the TensorFlow import (in (c): in the worker) count.
Each of (a), (b), (c) runs ``--reps`` times, in a rotated order per repetition
(a b c, b c a, c a b, ...) to spread machine noise; the medians are compared.
After every repetition the .tflite bytes of (b) and (c) must be identical for
every model (default options, no provenance: TF's exact bytes); a mismatch
fails the run. Timings are reported, never asserted.

Setup (not timed): ``--models`` small Keras 3 models (a few thousand parameters,
sizes varying with the index, fixed seeds) exported with ``model.export(dir)``
under bench/work/models/, generated only when missing.

Run from the repository root::

    .venv/bin/python bench/convert_bench.py [--reps N] [--models N]

It prints a table and writes this benchmark's section of bench/RESULTS.md
(other sections are kept). On 2 cores the default run takes about 7 minutes,
almost all of it in (a): 20 processes that each import TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    LOG_DIR,
    RESULTS,
    WORK,
    Check,
    checks_table,
    child_command,
    export_keras,
    load_average,
    median,
    new_report,
    plural,
    positive_int,
    print_checks,
    print_timings,
    reproduce,
    run_logged,
    section,
    timings_table,
    update_results,
    verdict,
    write_json,
)

MODELS_DIR = WORK / "models"
OUT_DIR = WORK / "out"

ARM_NAMES = {
    "a": "(a) tflite_convert per model",
    "b": "(b) floor: one TF process",
    "c": "(c) ours: converter.Engine",
}
ARMS = tuple(ARM_NAMES)
TARGET_A_OVER_C = 4.0  # (a) / (c) at least this
TARGET_C_OVER_B = 1.2  # (c) / (b) at most this


# --- setup: the models -------------------------------------------------------------------------


def model_name(index: int) -> str:
    return f"model_{index:02d}"


def model_recipe(index: int) -> dict[str, int]:
    """Architecture and seed of model ``index``: sizes grow slowly with the index."""
    return {
        "seed": 1000 + index,
        "conv1": 8 + index // 2,
        "conv2": 16 + index // 2,
        "dense": 32 + 2 * index,
        "classes": 10,
    }


def model_is_current(index: int) -> bool:
    directory = MODELS_DIR / model_name(index)
    recipe_file = directory / "recipe.json"
    if not (directory / "saved_model.pb").is_file() or not recipe_file.is_file():
        return False
    stored = json.loads(recipe_file.read_text())
    stored.pop("params", None)
    return bool(stored == model_recipe(index))


def generate_models(indices: Sequence[int]) -> None:
    """Build and export the given models (runs in a child process: it imports Keras/TF)."""
    import keras

    for index in indices:
        recipe = model_recipe(index)
        keras.utils.set_random_seed(recipe["seed"])
        inputs = keras.Input((16, 16, 3), name="image")
        x = keras.layers.Conv2D(recipe["conv1"], 3, activation="relu")(inputs)
        x = keras.layers.Conv2D(recipe["conv2"], 3, activation="relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(recipe["dense"], activation="relu")(x)
        outputs = keras.layers.Dense(recipe["classes"])(x)
        model = keras.Model(inputs, outputs, name=model_name(index))
        recipe_json = json.dumps({**recipe, "params": model.count_params()}, sort_keys=True)
        export_keras(model, MODELS_DIR / model_name(index), {"recipe.json": recipe_json})
        keras.backend.clear_session()


def ensure_models(count: int) -> list[Path]:
    """The SavedModel directories of models 0..count-1, generating the missing ones."""
    missing = [i for i in range(count) if not model_is_current(i)]
    if missing:
        print(f"setup: generating {len(missing)} SavedModel(s) in {MODELS_DIR} ...", flush=True)
        MODELS_DIR.mkdir(parents=True, exist_ok=True)
        run_logged(child_command(__file__, "generate", *missing), LOG_DIR / "generate.log")
        still = [i for i in range(count) if not model_is_current(i)]
        if still:
            raise RuntimeError(f"model generation left {len(still)} model(s) missing")
    return [MODELS_DIR / model_name(i) for i in range(count)]


def model_params(directory: Path) -> int:
    recipe = json.loads((directory / "recipe.json").read_text())
    return int(recipe.get("params", 0))


# --- the child processes of (b) and (c) ----------------------------------------------------------


def child_floor(out_dir: Path, report: Path, models: Sequence[Path]) -> None:
    """(b): import TensorFlow once, convert every model with TF's converter directly."""
    start = time.perf_counter()
    import tensorflow as tf

    imported = time.perf_counter()
    per_model = []
    for directory in models:
        t = time.perf_counter()
        data = tf.lite.TFLiteConverter.from_saved_model(str(directory)).convert()
        (out_dir / f"{directory.name}.tflite").write_bytes(data)
        per_model.append(time.perf_counter() - t)
    write_json(
        report,
        {
            "import_seconds": imported - start,
            "per_model_seconds": per_model,
            "inside_seconds": time.perf_counter() - start,
        },
    )


def child_ours(out_dir: Path, report: Path, models: Sequence[Path]) -> None:
    """(c): import converter, convert every model through one Engine, close it."""
    start = time.perf_counter()
    import converter

    per_model = []  # round trip seen by the caller (the first includes the worker's start-up)
    in_worker = []  # Result.seconds: load + convert + checks inside the worker
    with converter.Engine() as engine:
        for directory in models:
            t = time.perf_counter()
            result = engine.convert(
                converter.SavedModelSource(directory),
                converter.Options(),
                out_dir / f"{directory.name}.tflite",
            )
            per_model.append(time.perf_counter() - t)
            in_worker.append(result.seconds)
        processes = engine.processes_started
        closing = time.perf_counter()
    write_json(
        report,
        {
            "per_model_seconds": per_model,
            "in_worker_seconds": in_worker,
            "processes_started": processes,
            "close_seconds": time.perf_counter() - closing,
            "inside_seconds": time.perf_counter() - start,
        },
    )


CHILDREN: dict[str, Callable[[Path, Path, Sequence[Path]], None]] = {
    "floor": child_floor,
    "ours": child_ours,
}


def child_main(argv: Sequence[str]) -> int:
    """``_child generate I...`` or ``_child floor|ours OUT_DIR REPORT MODEL_DIR...``."""
    mode, *rest = argv
    if mode == "generate":
        generate_models([int(i) for i in rest])
    else:
        out_dir, report, *models = (Path(p) for p in rest)
        CHILDREN[mode](out_dir, report, models)
    return 0


# --- running and timing --------------------------------------------------------------------------


def tflite_convert_path() -> str:
    beside = Path(sys.executable).parent / "tflite_convert"
    found = str(beside) if beside.is_file() else shutil.which("tflite_convert")
    if not found:
        raise RuntimeError("tflite_convert not found beside the interpreter or on PATH")
    return found


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def run_makefile(models: Sequence[Path], rep: int) -> float:
    """(a): one tflite_convert process per model, one after another."""
    out = fresh_dir(OUT_DIR / "a")
    log = LOG_DIR / f"a-rep{rep}.log"
    log.unlink(missing_ok=True)
    tool = tflite_convert_path()
    start = time.perf_counter()
    for directory in models:
        output = str(out / f"{directory.name}.tflite")
        command = [tool, "--saved_model_dir", str(directory), "--output_file", output]
        run_logged(command, log, append=True)
    return time.perf_counter() - start


def run_child(arm: str, models: Sequence[Path], rep: int) -> tuple[float, dict[str, Any]]:
    """(b) or (c): one fresh Python process timed from spawn to exit, plus its own report."""
    out = fresh_dir(OUT_DIR / arm)
    report = new_report(f"{arm}-rep{rep}.json")
    mode = "floor" if arm == "b" else "ours"
    command = child_command(__file__, mode, out, report, *models)
    seconds = run_logged(command, LOG_DIR / f"{arm}-rep{rep}.log")
    return seconds, json.loads(report.read_text())


def rotated(rep: int) -> tuple[str, ...]:
    shift = rep % len(ARMS)
    return ARMS[shift:] + ARMS[:shift]


def differing(left: str, right: str, models: Sequence[Path]) -> list[str]:
    """Models whose .tflite bytes differ (or are missing) between two arms' outputs."""
    bad = []
    for directory in models:
        a = OUT_DIR / left / f"{directory.name}.tflite"
        b = OUT_DIR / right / f"{directory.name}.tflite"
        if not (a.is_file() and b.is_file() and a.read_bytes() == b.read_bytes()):
            bad.append(directory.name)
    return bad


@dataclass
class Measurements:
    wall: dict[str, list[float]] = field(default_factory=lambda: {arm: [] for arm in ARMS})
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"b": [], "c": []})
    b_c_mismatches: list[str] = field(default_factory=list)  # "rep N: model_XX"
    a_b_mismatches: list[str] = field(default_factory=list)  # informative only
    load_before: float = field(default_factory=load_average)


def measure(models: Sequence[Path], reps: int) -> Measurements:
    m = Measurements()
    for rep in range(reps):
        for arm in rotated(rep):
            print(f"rep {rep + 1}/{reps}: {ARM_NAMES[arm]} ...", end=" ", flush=True)
            if arm == "a":
                seconds = run_makefile(models, rep)
            else:
                seconds, report = run_child(arm, models, rep)
                m.reports[arm].append(report)
            m.wall[arm].append(seconds)
            print(f"{seconds:.2f} s", flush=True)
        m.b_c_mismatches += [f"rep {rep + 1}: {n}" for n in differing("b", "c", models)]
        m.a_b_mismatches += [f"rep {rep + 1}: {n}" for n in differing("a", "b", models)]
    return m


# --- reporting -------------------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def breakdown(m: Measurements) -> list[str]:
    """Where (b)'s and (c)'s time goes, from the children's own reports (means over reps)."""
    b_reports, c_reports = m.reports["b"], m.reports["c"]

    def outside(arm: str) -> float:  # interpreter start + exit: wall clock minus the inside
        reports = m.reports[arm]
        return mean([w - r["inside_seconds"] for w, r in zip(m.wall[arm], reports, strict=True)])

    lines: list[str] = []
    if b_reports:
        b_import = mean([r["import_seconds"] for r in b_reports])
        b_convert = mean([sum(r["per_model_seconds"]) for r in b_reports])
        lines.append(
            f"(b): TF import {b_import:.2f} s, conversions {b_convert:.2f} s "
            f"({b_convert / len(b_reports[0]['per_model_seconds']):.3f} s/model), "
            f"interpreter start + exit {outside('b'):.2f} s"
        )
    if c_reports:
        first = mean([r["per_model_seconds"][0] for r in c_reports])
        first_inside = mean([r["in_worker_seconds"][0] for r in c_reports])
        rest = mean([sum(r["per_model_seconds"][1:]) for r in c_reports])
        rest_inside = mean([sum(r["in_worker_seconds"][1:]) for r in c_reports])
        n_rest = max(len(c_reports[0]["per_model_seconds"]) - 1, 1)
        close = mean([r["close_seconds"] for r in c_reports])
        processes = sorted({r["processes_started"] for r in c_reports})
        lines.append(
            f"(c): first request {first:.2f} s (worker start + TF import "
            f"{first - first_inside:.2f} s, conversion {first_inside:.2f} s); other requests "
            f"{rest:.2f} s ({rest / n_rest:.3f} s/model, of which {rest_inside / n_rest:.3f} s "
            f"inside the worker); Engine.close {close:.2f} s; interpreter start + exit "
            f"{outside('c'):.2f} s; worker processes started: {', '.join(map(str, processes))}"
        )
    return lines


def timings(m: Measurements) -> list[tuple[str, list[float]]]:
    return [(ARM_NAMES[arm], m.wall[arm]) for arm in ARMS]


def checks(m: Measurements) -> list[Check]:
    a, b, c = (median(m.wall[arm]) for arm in ARMS)
    return [
        Check("a/c", f"{a / c:.2f}", f">= {TARGET_A_OVER_C:g}", a / c >= TARGET_A_OVER_C),
        Check("c/b", f"{c / b:.3f}", f"<= {TARGET_C_OVER_B:g}", c / b <= TARGET_C_OVER_B),
    ]


def render(m: Measurements, models: Sequence[Path], reps: int, command: str) -> str:
    params = [model_params(d) for d in models]
    identical = not m.b_c_mismatches
    body = [
        f"- Models: {len(models)} Keras 3 models exported with `model.export`, "
        f"{min(params)}-{max(params)} parameters; {plural(reps, 'repetition')} per "
        "path, order rotated per repetition; wall clock of whole processes (spawn to exit)",
        "",
        *timings_table("path", timings(m)),
        "",
        *checks_table("ratio", "value", checks(m)),
        "",
        f"- (b) and (c) .tflite bytes identical for every model in every repetition: "
        f"{'yes' if identical else 'NO (' + ', '.join(m.b_c_mismatches) + ')'} "
        f"({verdict(identical)})",
        f"- (a) bytes identical to (b) (informative): "
        f"{'yes' if not m.a_b_mismatches else 'no (' + ', '.join(m.a_b_mismatches) + ')'}",
        *(f"- {line}" for line in breakdown(m)),
    ]
    title = f"convert_bench: {len(models)} SavedModel conversions, three ways"
    return section(
        title, command, m.load_before, body, packages=["TensorFlow"], sources=["converter"]
    )


def print_report(m: Measurements) -> None:
    print_timings("path", timings(m), 34)
    print_checks(checks(m))
    identical = not m.b_c_mismatches
    print(
        f"(b) and (c) bytes identical: {'yes' if identical else 'NO: ' + ', '.join(m.b_c_mismatches)}"
    )
    print(f"(a) and (b) bytes identical (informative): {'yes' if not m.a_b_mismatches else 'no'}")
    for line in breakdown(m):
        print(line)


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "_child":
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=positive_int, default=3, help="repetitions of each path")
    parser.add_argument("--models", type=positive_int, default=20, help="number of models")
    args = parser.parse_args(argv)
    models = ensure_models(args.models)
    print(f"{len(models)} models, {args.reps} repetitions; logs in {LOG_DIR}", flush=True)
    m = measure(models, args.reps)
    print_report(m)
    command = reproduce(__file__, parser, args, "reps", "models")
    update_results("convert_bench", render(m, models, args.reps, command))
    print(f"\nwrote {RESULTS}")
    if m.b_c_mismatches:
        print("FAILED: (b) and (c) produced different bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
