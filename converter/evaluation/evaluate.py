"""Running a .tflite on many samples, batched, and comparing outputs: the accuracy report's engine.

Inference uses the ai-edge-litert interpreter (no TensorFlow). A model whose
first input dimension is free is resized to the batch once and allocated once;
each batch is quantized with the input tensor's parameters on the way in and
outputs are dequantized on the way out, so metrics compare real values. A
model with several signatures runs one of them at a time, through its
signature runner.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.evaluation import samples as samples_of
from converter.sources.loader import plain_name


@contextlib.contextmanager
def _without_runtime_notes() -> Iterator[None]:
    """The interpreter's own ``INFO:`` lines kept off the console; anything else it prints passes.

    The runtime announces its CPU delegate on stderr, from C++, the first time a
    process allocates a model's tensors. A build's console carries our lines only;
    warnings and errors still reach it, after the call.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [
                line
                for line in caught.read().splitlines(keepends=True)
                if not line.startswith(b"INFO: ")
            ]
            if kept:
                os.write(2, b"".join(kept))


def quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Real values -> the tensor's dtype, with its (scale, zero point) when it is quantized."""
    dtype = np.dtype(detail["dtype"])
    scale, zero = detail["quantization"]
    if dtype.kind == "S" and values.dtype.kind == "U":  # text, as TensorFlow encodes it
        encoded: np.ndarray = np.char.encode(values, "utf-8")
        return encoded
    if dtype.kind == "f" or not scale:
        return values.astype(dtype)
    info = np.iinfo(dtype)
    quantized: np.ndarray = np.clip(np.round(values / scale) + zero, info.min, info.max)
    return quantized.astype(dtype)


def dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero = detail["quantization"]
    if np.dtype(detail["dtype"]).kind == "f" or not scale:
        return values.astype(np.float32)
    real: np.ndarray = (values.astype(np.float32) - zero) * scale
    return real.astype(np.float32)


def match(
    given: Sequence[str], wanted: Sequence[str], what: str = "output"
) -> tuple[list[int], str]:
    """For each wanted name, the index of the given array that is it: by name, else by position.

    Names are compared without tensor suffixes (``:0``) and TFLite's signature
    prefix. Position is the fallback when the names differ but the counts agree
    (one input and one output: the common case).
    """
    keys = [plain_name(n) for n in given]
    targets = [plain_name(n) for n in wanted]
    if sorted(keys) == sorted(targets) and len(set(keys)) == len(keys):
        return [keys.index(t) for t in targets], "name"
    if len(keys) == len(targets):
        return list(range(len(targets))), "position"
    # A misspelt "labels" in an evaluate file reads as one input too many: say so.
    spelt = [k for k in keys if k not in targets and difflib.get_close_matches(k, ["labels"])]
    hint = f" ({spelt[0]!r}: labels go under the key 'labels')" if what == "input" and spelt else ""
    raise ValueError(
        f"cannot match {what}s: have {', '.join(keys) or 'none'}; "
        f"the model has {', '.join(targets) or 'none'}{hint}"
    )


class Runner:
    """One interpreter for one model, fed in batches (or one sample at a time, to compare).

    ``signature`` names the one of several signatures to run (None: the model's
    first subgraph, its only or default signature). Inputs and outputs are then
    that signature's, by their names in it.
    """

    def __init__(self, model: bytes, threads: int = 1, signature: str | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=model, num_threads=threads)
        self.signature = signature
        self._shape: int | None = None
        if signature is None:
            self._signature_runner: Any = None
            self.inputs = self.interpreter.get_input_details()
            self.outputs = self.interpreter.get_output_details()
            self.input_names = self._names(self.inputs, "inputs")
            self.output_names = self._names(self.outputs, "outputs")
            return
        with _without_runtime_notes():  # a signature runner allocates its tensors
            self._signature_runner = self.interpreter.get_signature_runner(signature)
        inputs = self._signature_runner.get_input_details()
        outputs = self._signature_runner.get_output_details()
        self.inputs, self.input_names = list(inputs.values()), list(inputs)
        self.outputs, self.output_names = list(outputs.values()), list(outputs)

    @property
    def signatures(self) -> list[str]:
        """The model's signature keys, the one its first subgraph runs (the default) first."""
        keys = list(self.interpreter.get_signature_list())

        def subgraph(key: str) -> int:
            # The runner knows its subgraph; an interpreter without that attribute keeps the order.
            index = getattr(self.interpreter.get_signature_runner(key), "_subgraph_index", 0)
            return index if isinstance(index, int) else 0

        with _without_runtime_notes():  # signature runners allocate their tensors
            return sorted(keys, key=subgraph)

    def _names(self, details: list[dict[str, Any]], side: str) -> list[str]:
        """Each tensor's name in the model's signature when it has one, else the tensor's own."""
        by_index = {d["index"]: plain_name(d["name"]) for d in details}
        signatures = self.interpreter.get_signature_list()
        if len(signatures) == 1:
            with _without_runtime_notes():
                runner = self.interpreter.get_signature_runner(next(iter(signatures)))
            listed = runner.get_input_details() if side == "inputs" else runner.get_output_details()
            by_index.update({d["index"]: name for name, d in listed.items()})
        return [by_index[d["index"]] for d in details]

    @property
    def batchable(self) -> bool:
        """True when every input's first dimension is free (-1) in the signature."""
        return all(
            len(d["shape_signature"]) > 0 and d["shape_signature"][0] == -1 for d in self.inputs
        )

    def _prepare(self, batch: int) -> None:
        if self._shape == batch:
            return
        for detail in self.inputs:
            self.interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
        with _without_runtime_notes():
            self.interpreter.allocate_tensors()
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()
        self._shape = batch

    def run(self, inputs: Sequence[np.ndarray], batch: int = 64) -> list[np.ndarray]:
        """Outputs (dequantized, float32) for every sample; inputs in the model's input order."""
        count = len(inputs[0])
        if not self.batchable:
            batch = 1
        results: list[list[np.ndarray]] = [[] for _ in self.outputs]
        for start in range(0, count, batch):
            size = min(batch, count - start)
            if self._signature_runner is not None:  # it resizes and allocates for each call
                feed = zip(self.input_names, self.inputs, inputs, strict=True)
                got = self._signature_runner(
                    **{n: quantize(v[start : start + size], d) for n, d, v in feed}
                )
                for i, (name, detail) in enumerate(
                    zip(self.output_names, self.outputs, strict=True)
                ):
                    results[i].append(dequantize(got[name], detail))
                continue
            self._prepare(size)
            for detail, values in zip(self.inputs, inputs, strict=True):
                self.interpreter.set_tensor(
                    detail["index"], quantize(values[start : start + size], detail)
                )
            self.interpreter.invoke()
            for i, detail in enumerate(self.outputs):
                results[i].append(dequantize(self.interpreter.get_tensor(detail["index"]), detail))
        return [np.concatenate(parts) for parts in results]


@dataclass(frozen=True)
class Errors:
    """How far an output is from its reference, over every sample."""

    max_abs_error: float
    mean_abs_error: float
    rmse: float
    cosine_similarity: float
    snr_db: float  # signal (reference) power over error power; inf when identical
    top1_agreement: float | None  # for outputs with a class axis

    def to_dict(self) -> dict[str, float | str | None]:
        return {k: _round(v) for k, v in asdict(self).items()}


def _round(value: float | None) -> float | str | None:
    """Six significant digits; infinities as strings, so reports stay valid JSON."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(f"{value:.6g}")


def errors(reference: np.ndarray, candidate: np.ndarray) -> Errors:
    """Error metrics of ``candidate`` against ``reference`` (same shape, samples first)."""
    if reference.shape != candidate.shape:
        raise ValueError(f"shapes differ: reference {reference.shape}, candidate {candidate.shape}")
    ref = reference.astype(np.float64).reshape(len(reference), -1)
    got = candidate.astype(np.float64).reshape(len(candidate), -1)
    diff = got - ref
    noise = float(np.mean(diff**2))
    signal = float(np.mean(ref**2))
    norms = np.linalg.norm(ref) * np.linalg.norm(got)
    cosine = float(np.sum(ref * got) / norms) if norms else (1.0 if not diff.any() else 0.0)
    snr = math.inf if noise == 0 else 10 * math.log10(signal / noise) if signal else -math.inf
    top1 = float(np.mean(ref.argmax(axis=1) == got.argmax(axis=1))) if ref.shape[1] > 1 else None
    return Errors(
        max_abs_error=float(np.max(np.abs(diff))) if diff.size else 0.0,
        mean_abs_error=float(np.mean(np.abs(diff))) if diff.size else 0.0,
        rmse=math.sqrt(noise),
        cosine_similarity=cosine,
        snr_db=snr,
        top1_agreement=top1,
    )


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of class scores against integer labels."""
    return float(np.mean(outputs.reshape(len(outputs), -1).argmax(axis=1) == labels.reshape(-1)))


@dataclass(frozen=True)
class Comparison:
    """A model's outputs against the reference's on the same inputs: the accuracy report's figures.

    Metrics are rounded as a report keeps them, so a figure here is the figure a
    budget is checked against (``figure``): the search of ``keep_float: auto``
    and the report reach the same verdict.
    """

    matched: str  # how outputs were matched to the reference's: "name" or "position"
    primary: str  # the output that accuracy and top-1 agreement are about
    outputs: dict[str, dict[str, float | str | None]]  # Errors.to_dict() by output name
    max_abs_error: float  # over every output
    accuracy: float | None = None
    reference_accuracy: float | None = None
    accuracy_drop: float | None = None

    @property
    def top1_agreement(self) -> float | None:
        value = self.outputs[self.primary]["top1_agreement"]
        return value if isinstance(value, float) else None

    def figure(self, name: str) -> float | None:
        """A figure by its report name: accuracy, accuracy_drop, top1_agreement, max_abs_error."""
        value: float | None = getattr(self, name)
        return value


def compare(
    runner: Runner,
    inputs: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    labels: np.ndarray | None,
) -> Comparison:
    """Run ``runner`` on ``inputs`` (keyed by its input names) and compare with ``reference``.

    Raises RuntimeError or ValueError when the interpreter cannot run the
    model, or the outputs cannot be matched.
    """
    got = runner.run([inputs[name] for name in runner.input_names])
    order, matched = match(list(reference), runner.output_names)
    references = list(reference.values())
    outputs = {
        name: errors(references[i], values).to_dict()
        for name, i, values in zip(runner.output_names, order, got, strict=True)
    }
    worst = max(float(o["max_abs_error"] or 0.0) for o in outputs.values())
    comparison = Comparison(matched, runner.output_names[0], outputs, worst)
    if labels is None:
        return comparison
    measured = round(accuracy(got[0], labels), 6)
    reference_accuracy = round(accuracy(references[order[0]], labels), 6)
    return Comparison(
        matched,
        runner.output_names[0],
        outputs,
        worst,
        measured,
        reference_accuracy,
        round(reference_accuracy - measured, 6),
    )


def evaluation_inputs(
    runner: Runner, arrays: dict[str, np.ndarray] | None, samples: int | None, origin: str
) -> tuple[dict[str, np.ndarray], np.ndarray | None, str]:
    """(inputs keyed by ``runner``'s input names, labels or None, their origin).

    ``arrays`` is the evaluate data as read (keyed by input name, with optional
    ``labels``); without it, seeded samples of each input's kind stand in
    (``converter.evaluation.samples``; MissingData for a string input).
    ``origin`` names the data's file. Reports and the keep-float search read
    their inputs here.
    """
    if arrays is None:
        generated, described = samples_of.generated(runner.input_names, runner.inputs)
        return generated, None, described
    arrays = dict(arrays)
    labels = arrays.pop("labels", None)
    if len(arrays) == 1 and len(runner.input_names) == 1:  # one input: any key will do
        arrays = {runner.input_names[0]: next(iter(arrays.values()))}
    order, _ = match(list(arrays), runner.input_names, what="input")
    given = list(arrays.values())
    inputs = {}
    for name, i in zip(runner.input_names, order, strict=True):
        values = given[i]
        inputs[name] = values.astype(np.float32) if values.dtype.kind == "f" else values
    count = len(next(iter(inputs.values())))
    if samples is not None:
        count = min(count, samples)
        inputs = {name: values[:count] for name, values in inputs.items()}
        labels = None if labels is None else labels[:count]
    return inputs, labels, f"{origin}, {count} samples"


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` by name."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def latency(model: bytes, batch: int = 1, threads: int = 1, runs: int = 30) -> dict[str, Any]:
    """Median and p90 time of one invoke on this machine's CPU, after a few warm-up runs.

    Inputs are zeros of each input's shape (the batch as given when the first
    dimension is free). A model the stock interpreter cannot run is reported,
    not raised: ``{"error": ...}``.
    """
    try:
        runner = Runner(model, threads)
        runner._prepare(batch if runner.batchable else 1)
        for detail in runner.inputs:
            zeros = np.zeros(detail["shape"], np.dtype(detail["dtype"]))
            runner.interpreter.set_tensor(detail["index"], zeros)
        for _ in range(3):
            runner.interpreter.invoke()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            runner.interpreter.invoke()
            times.append((time.perf_counter() - start) * 1000)
    except (RuntimeError, ValueError) as e:
        return {"error": str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}
    times.sort()
    return {
        "batch": batch if runner.batchable else 1,
        "threads": threads,
        "runs": runs,
        "median_ms": round(times[len(times) // 2], 4),
        "p90_ms": round(times[min(len(times) - 1, int(len(times) * 0.9))], 4),
        "note": "host CPU of the machine that built the report, not the target device",
    }
