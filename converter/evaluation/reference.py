"""The source model run in TensorFlow, inside the worker: the reference for accuracy reports.

The model is its format's loader's reference function (``converter.sources.loader``):
a SavedModel's signature function, a Keras model called in inference mode, a
session for TF1 graphs, a ConcreteFunction for function entry points. Given
arrays are matched to the loader's input specs by name, else by position, and
run in batches (padded to a fixed batch when the model has one). Outputs carry
the names the converted model gives them, so a report matches them to the
interpreter's by name however the TFLite model orders its tensors.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from converter.evaluation.evaluate import match
from converter.protocol import RunOutcome, RunRequest
from converter.sources.dispatch import load
from converter.sources.loader import Call, InputSpec, Loader

BATCH = 256  # for models whose batch dimension is free


def run(request: RunRequest) -> RunOutcome:
    """Run ``request.source`` on ``request.inputs`` and write its outputs to ``request.output``."""
    start = time.perf_counter()
    with np.load(request.inputs, allow_pickle=False) as data:
        given = {name: data[name] for name in data.files}
    loader = load(request.source)
    try:
        outputs, matched = outputs_of(loader, given)
        specs = loader.input_specs()
    finally:
        loader.close()
    np.savez(request.output, **outputs)  # type: ignore[arg-type]
    return RunOutcome(
        inputs=tuple(s.name for s in specs),
        outputs=tuple(outputs),
        matched=matched,
        seconds=time.perf_counter() - start,
    )


def outputs_of(loader: Loader, given: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    """The loaded model's outputs on ``given`` (matched to its inputs by name, else by position)."""
    call = loader.reference()
    specs = loader.input_specs()
    order, matched = match(list(given), [s.name for s in specs], what="input")
    values = list(given.values())
    arrays = [values[i].astype(s.dtype) for i, s in zip(order, specs, strict=True)]
    return batched(call, fixed_batch(specs), arrays), matched


def fixed_batch(specs: Sequence[InputSpec]) -> int | None:
    """The first dimension when every input fixes it, else None (free)."""
    firsts = {spec.shape[0] if spec.shape else None for spec in specs}
    if len(firsts) == 1:
        (first,) = firsts
        return first
    return None


def batched(call: Call, batch: int | None, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    count = len(arrays[0])
    step = batch or BATCH
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, count, step):
        chunk = [a[start : start + step] for a in arrays]
        size = len(chunk[0])
        if batch and size < batch:  # a fixed batch: pad, then drop the padding
            chunk = [
                np.concatenate([c, np.zeros((batch - size, *c.shape[1:]), c.dtype)]) for c in chunk
            ]
        for name, value in call(chunk).items():
            parts.setdefault(name, []).append(np.asarray(value)[:size])
    return {name: np.concatenate(values) for name, values in parts.items()}
