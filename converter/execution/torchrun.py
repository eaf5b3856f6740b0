"""One conversion in the PyTorch toolchain's worker: the handler its worker serves instead of TF's.

Float32 only so far: a variant with options (quantization, I/O types) is refused
with a sentence before anything loads. The artifact gets the same checks and
provenance stamp as TensorFlow's, and the project files the entry's code reads
are recorded as for any Python entry.
"""

from __future__ import annotations

import hashlib
import time

from converter.conversion import checks
from converter.errors import OptionsError
from converter.protocol import Outcome, Request
from converter.sources import discovery, pytorch
from converter.spec import Options, PyTorchSource
from converter.tflite import modelinfo


def run(request: Request) -> Outcome:
    """Convert ``request.source`` (a PyTorchSource) and write the checked artifact."""
    start = time.perf_counter()
    source = request.source
    if not isinstance(source, PyTorchSource):
        raise OptionsError(f"the PyTorch toolchain converts PyTorch sources, not {source.kind}")
    if request.options != Options():
        raise OptionsError(
            "the PyTorch toolchain converts float32 only, so far: quantization and the other "
            "options are not yet applied to PyTorch sources"
        )
    discovered: dict[str, str] = {}
    if request.track is not None:
        with discovery.recording(request.track, request.track_ignore) as recorder:
            data = pytorch.convert(source)
        discovered = recorder.digests()
    else:
        data = pytorch.convert(source)
    notes: list[str] = []
    if request.options.probe:
        warning = checks.probe(data)
        if warning:
            notes.append(warning)
    if request.provenance is not None:
        stamp = dict(request.provenance)
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
