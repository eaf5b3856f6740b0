"""Int8 models with layers kept in float, and int8 per-layer reports: the doctor put to work.

``convert`` serves a conversion whose options set ``keep_float``: named layers
are checked against the model's and kept in float; ``auto`` ranks the layers
on the evaluate data (else the calibration samples) and searches for the
fewest that meet the variant's accuracy budget (``converter.quantization.search``), each
trial measured as the report will measure the artifact (``converter.evaluation.evaluate``).
``measure_layers`` answers a report's LayersRequest.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from converter.conversion.configure import configure
from converter.errors import ConversionError
from converter.evaluation import reference
from converter.evaluation.evaluate import Runner, compare, evaluation_inputs, match, read_arrays
from converter.protocol import LayerError, LayersOutcome, LayersRequest
from converter.quantization import search
from converter.quantization.doctor import MAX_DEBUG_SAMPLES, Doctor
from converter.sources.dispatch import load
from converter.sources.loader import Loader
from converter.spec import KeepFloat


def convert(
    loader: Loader, converter: Any, keep: KeepFloat, samples: list[list[np.ndarray]] | None
) -> tuple[bytes, tuple[str, ...], dict[str, Any] | None]:
    """(the int8 model's bytes, the layers kept in float, the search's account or None)."""
    started = time.perf_counter()
    doctor = Doctor(converter, loader.layer_names())
    if not keep.auto:
        # One calibration sample is enough to name the layers.
        doctor.measure(_calibration_inputs(doctor, loader, samples, limit=1))
        kept = doctor.resolve(keep.layers)
        return doctor.quantize(kept), kept, None
    inputs, labels, origin, outputs = _evaluation(doctor, loader, keep)
    if keep.evaluate is not None:
        ranked_on = [inputs[name] for name in doctor.input_names()]
    else:
        ranked_on = _calibration_inputs(doctor, loader, samples)
    ops = doctor.measure(ranked_on)
    layers = doctor.search_order()

    def trial(kept: tuple[str, ...]) -> dict[str, float | None]:
        compared = compare(Runner(doctor.quantize(kept)), inputs, outputs, labels)
        return {goal.figure: compared.figure(goal.figure) for goal in keep.goals}

    found = search.search(layers, keep.goals, trial)
    account = {
        "layers": len(layers),
        "order": layers,  # as the search added them
        "ranking": [_op_dict(op) for op in ops],
        "data": origin,
        "conversions": 1 + len(found.trials),  # the calibration and ranking, then each trial
        "seconds": round(time.perf_counter() - started, 3),
        "trials": [{"kept": list(t.layers), **t.figures} for t in found.trials],
    }
    if found.chosen is None:
        raise ConversionError(_missed(found))
    return doctor.quantize(found.chosen), found.chosen, account


def _missed(found: search.Found) -> str:
    """The sentence of a search that found nothing: the budget, and the best it reached."""
    goal, best = found.missed, found.best
    assert best is not None  # a search always tries plain int8 at least
    value = best.figures.get(goal.figure)
    if best.layers == found.layers:
        how = "with every quantized layer in float"
    else:
        how = f"keeping {', '.join(best.layers) or 'no layer'} in float"
    return (
        f"keep_float: auto: no set of layers kept in float meets {goal.budget} "
        f"{goal.limit:.4g}; the best reached is {goal.figure} "
        f"{'not measured' if value is None else f'{value:.4g}'} ({how}, "
        f"{len(found.layers)} quantized layers, {1 + len(found.trials)} conversions)"
    )


def _evaluation(
    doctor: Doctor, loader: Loader, keep: KeepFloat
) -> tuple[dict[str, np.ndarray], np.ndarray | None, str, dict[str, np.ndarray]]:
    """The report's inputs (keyed as the model's), labels, their origin, and the source's outputs."""
    runner = Runner(doctor.calibrated)
    arrays = read_arrays(keep.evaluate) if keep.evaluate is not None else None
    origin = keep.evaluate.name if keep.evaluate is not None else ""
    inputs, labels, described = evaluation_inputs(runner, arrays, keep.samples, origin)
    outputs, _ = reference.outputs_of(loader, inputs)
    return inputs, labels, described, outputs


def _calibration_inputs(
    doctor: Doctor, loader: Loader, samples: list[list[np.ndarray]] | None, limit: int = 0
) -> list[np.ndarray]:
    """The calibration samples stacked per input, in the debug model's input order."""
    if not samples:
        raise ConversionError("keep_float needs calibration samples (representative data)")
    chosen = samples[:limit] if limit else samples
    # Samples of another shape than the first (a free sequence length) cannot be stacked
    # with it: the debugger runs on those of the first sample's shapes.
    shapes = [array.shape[1:] for array in chosen[0]]
    chosen = [s for s in chosen if [array.shape[1:] for array in s] == shapes]
    specs = [spec.name for spec in loader.input_specs()]
    stacked = [np.concatenate([sample[i] for sample in chosen]) for i in range(len(specs))]
    order, _ = match(specs, doctor.input_names(), what="input")
    return [stacked[i] for i in order]


def _op_dict(op: LayerError) -> dict[str, Any]:
    return {
        "layer": op.layer,
        "op": op.op,
        "rmse_scale": round(op.rmse_scale, 4),
        "max_abs_error": float(f"{op.max_abs_error:.6g}"),
    }


def measure_layers(request: LayersRequest) -> LayersOutcome:
    """Each quantized op's error, for an int8 variant's report (the worker's handler)."""
    started = time.perf_counter()
    rep = request.options.representative
    if rep is not None and rep.signatures:
        keys = ", ".join(key for key, _ in rep.signatures)
        raise ConversionError(
            f"TF's quantization debugger measures one signature; this variant is calibrated "
            f"through several ({keys})"
        )
    loader = load(request.source)
    try:
        converter, samples = configure(loader, request.options)
        doctor = Doctor(converter, loader.layer_names())
        if request.inputs is not None:
            given = read_arrays(request.inputs)
            order, _ = match(list(given), doctor.input_names(), what="input")
            values = list(given.values())
            data = [values[i] for i in order]
            described = f"the evaluate data, {min(len(data[0]), MAX_DEBUG_SAMPLES)} samples"
        else:
            data = _calibration_inputs(doctor, loader, samples)
            described = f"the calibration samples, {min(len(data[0]), MAX_DEBUG_SAMPLES)} of them"
        ops = doctor.measure(data)
        keep = request.options.keep_float
        kept = keep.layers if keep is not None else ()
        if kept:  # measure the model the artifact is: those layers in float
            kept = doctor.resolve(kept)
            doctor.keep(kept)
            ops = doctor.measure(data)
    finally:
        loader.close()
    return LayersOutcome(tuple(ops), described, kept, time.perf_counter() - started)
