"""Benchmark: evaluating the int8 digits model batched, against a per-sample loop.

Target (the design): batched evaluation of an int8 model is at least 2x faster
than a per-sample loop. Both use ``converter.evaluation.evaluate.Runner`` with one thread:
batched resizes the input to the batch once and feeds whole batches; the loop
feeds one sample per invoke, as most evaluation scripts do. Both must give the
same outputs. The model and its test images come from example_project
(``doit train_digits convert:digits/int8`` at the repository root, run first if
needed); the 450 test images are repeated to --samples.

    .venv/bin/python bench/eval_bench.py [--reps N] [--samples N] [--batch N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np
from common import (
    PYTHON,
    REPO,
    Check,
    checks_table,
    load_average,
    median,
    positive_int,
    reproduce,
    run_timed,
    section,
    timings_table,
    update_results,
)

DIGITS = REPO / "example_project" / "digits"
MODEL = REPO / "example_project" / "build" / "digits" / "int8.tflite"


def ensure_inputs() -> None:
    if MODEL.is_file() and (DIGITS / "data" / "test.npz").is_file():
        return
    done = run_timed([PYTHON, "-m", "doit", "train_digits", "convert:digits/int8"], REPO)
    if done.returncode != 0:
        raise SystemExit(f"could not build the digits model:\n{done.output[-3000:]}")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=positive_int, default=5)
    parser.add_argument("--samples", type=positive_int, default=45000)
    parser.add_argument("--batch", type=positive_int, default=128)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from converter.evaluation.evaluate import Runner

    ensure_inputs()
    before = load_average()
    model = MODEL.read_bytes()
    images = np.load(DIGITS / "data" / "test.npz")["img"]
    images = np.resize(images, (args.samples, *images.shape[1:])).astype(np.float32)
    batched_runs, loop_runs = [], []
    batched = looped = np.zeros(0)
    for _ in range(args.reps):  # interleaved, to spread the machine's noise over both
        runner = Runner(model)
        start = time.perf_counter()
        batched = runner.run([images], batch=args.batch)[0]
        batched_runs.append(time.perf_counter() - start)
        runner = Runner(model)
        start = time.perf_counter()
        looped = runner.run([images], batch=1)[0]
        loop_runs.append(time.perf_counter() - start)
    same = bool(np.array_equal(batched, looped))
    ratio = median(loop_runs) / median(batched_runs)
    checks = [
        Check("per-sample loop / batched", f"{ratio:.2f}x", ">= 2x", ratio >= 2),
        Check("batched outputs equal the loop's", "yes" if same else "NO", "yes", same),
    ]
    body = [
        f"- {args.samples} digits test images (the 450, repeated) through example_project's "
        f"digits/int8 model ({len(model):,} bytes, int8 input and output), one interpreter "
        f"thread; batch {args.batch} against one sample per invoke; {args.reps} repetitions, "
        "interleaved; inference time only (quantizing inputs and dequantizing outputs included)",
        "",
        *timings_table("evaluation", [("batched", batched_runs), ("per-sample loop", loop_runs)]),
        "",
        f"- Throughput (medians): batched {args.samples / median(batched_runs):,.0f} images/s, "
        f"loop {args.samples / median(loop_runs):,.0f} images/s",
        "",
        *checks_table("check", "measured", checks),
    ]
    text = section(
        "eval_bench: batched evaluation of the int8 digits model against a per-sample loop",
        reproduce(__file__, parser, args, "reps", "samples", "batch"),
        before,
        body,
        packages=("TensorFlow",),
    )
    update_results("eval_bench", text)
    print(text)
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
