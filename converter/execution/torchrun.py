"""One conversion in the PyTorch toolchain's worker: the handler its worker serves instead of TF's.

litert-torch converts the module to a float artifact; a quantized variant is
then quantized by ai-edge-quantizer (``converter.quantization.recipes``). Options
the toolchain cannot apply are refused with a sentence before anything loads
(``converter.conversion.options.check``). The artifact gets the same checks and
provenance stamp as TensorFlow's, and the project files the entry's code (and a
calibration generator) reads are recorded as for any Python entry.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from converter import versions
from converter.conversion import checks, options
from converter.errors import OptionsError
from converter.evaluation.evaluate import match
from converter.evaluation.reference import batched
from converter.protocol import Outcome, Request, RunOutcome, RunRequest
from converter.quantization import recipes
from converter.sources import discovery, pytorch
from converter.spec import PyTorchSource
from converter.tflite import modelinfo

# What a PyTorch artifact's provenance names as its converters.
CONVERTERS = ("torch", "litert-torch", "ai-edge-quantizer")


def reference(request: RunRequest) -> RunOutcome:
    """Run the module itself on ``request.inputs``: the reference a report measures against.

    The module is made as for its conversion (same seed), called in eval mode
    without gradients, one fixed batch at a time as its example arguments give
    it; inputs are matched to ``args_0``, ``args_1``... by name, else by position,
    and cast to the example arguments' dtypes (int64 token ids stay int64 here).
    """
    start = time.perf_counter()
    source = request.source
    if not isinstance(source, PyTorchSource):
        raise OptionsError(f"the PyTorch toolchain runs PyTorch sources, not {source.kind}")
    with np.load(request.inputs, allow_pickle=False) as data:
        given = {name: data[name] for name in data.files}
    module, args = pytorch.load(source)
    names = pytorch.input_names(args)
    order, matched = match(list(given), names, what="input")
    values = list(given.values())
    arrays = [values[i] for i in order]
    firsts = {a.shape[0] if a.dim() else None for a in args}
    batch = firsts.pop() if len(firsts) == 1 else None
    outputs = batched(pytorch.caller(module, args), batch, arrays)
    np.savez(request.output, **outputs)  # type: ignore[arg-type]
    return RunOutcome(
        inputs=tuple(names),
        outputs=tuple(outputs),
        matched=matched,
        seconds=time.perf_counter() - start,
    )


def run(request: Request) -> Outcome:
    """Convert ``request.source`` (a PyTorchSource) and write the checked artifact."""
    start = time.perf_counter()
    source = request.source
    if not isinstance(source, PyTorchSource):
        raise OptionsError(f"the PyTorch toolchain converts PyTorch sources, not {source.kind}")
    problems = options.check(request.options, None, "pytorch")
    if problems:
        raise OptionsError(options.format_problems(problems))
    discovered: dict[str, str] = {}
    if request.track is not None:
        with discovery.recording(request.track, request.track_ignore) as recorder:
            data = recipes.quantize(pytorch.convert(source), request.options)
        discovered = recorder.digests()
    else:
        data = recipes.quantize(pytorch.convert(source), request.options)
    notes: list[str] = []
    if request.options.probe:
        warning = checks.probe(data)
        if warning:
            notes.append(warning)
    if request.provenance is not None:
        stamp = dict(request.provenance)
        stamp.pop("tensorflow", None)  # what converted it is this toolchain, not TensorFlow
        stamp.update({name: versions.version(name) for name in CONVERTERS})
        if request.track is not None:
            stamp["discovered"] = discovered
        data = modelinfo.stamp_provenance(data, stamp)
    request.output.write_bytes(data)
    return Outcome(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        seconds=time.perf_counter() - start,
        warnings=tuple(notes),
        api="litert-torch",
        discovered=tuple(sorted(discovered.items())),
    )
