"""One conversion, inside the worker: load, apply options, convert, check, stamp, write.

This is the one place that catches TensorFlow's exceptions and turns them into
our sentences. It imports TensorFlow only inside functions; the worker process
calls ``run`` for each request.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from typing import Any

from converter import versions
from converter.conversion import checks
from converter.conversion import options as options_module
from converter.conversion.configure import configure
from converter.errors import ConversionError, ConverterError, describe
from converter.protocol import Outcome, Request
from converter.quantization import keepfloat
from converter.sources import discovery
from converter.sources.dispatch import load
from converter.spec import runs_code
from converter.tflite import modelinfo


def run(request: Request) -> Outcome:
    """Convert ``request.source`` and write the checked artifact to ``request.output``."""
    start = time.perf_counter()
    notes: list[str] = []
    planned = request.plan
    if planned is None and request.source.api is not None:  # else known once the entry has run
        planned = options_module.plan(request.options, request.source.api)  # fail before loading
    discovered: dict[str, str] = {}
    with _watching(request, runs_code(request.source), discovered):
        loader = load(request.source)
    kept: tuple[str, ...] = ()
    account: dict[str, Any] | None = None
    try:
        rep = request.options.representative
        with _watching(request, rep is not None and rep.runs_code, discovered):
            converter, samples = configure(loader, request.options, planned)
        if request.options.keep_float is not None:
            data, kept, account = keepfloat.convert(
                loader, converter, request.options.keep_float, samples
            )
        else:
            data = _convert(converter)
    finally:
        loader.close()
    if not request.options.allow_resource_variables:
        checks.check_resource_variables(data)
    checks.check_signatures(data, getattr(request.source, "signature_keys", ()))
    if request.options.probe:
        warning = checks.probe(data)
        if warning:
            notes.append(warning)
    if request.provenance is not None:
        stamp = dict(request.provenance)
        # The TensorFlow that converted it: this worker's (a shadow build's may be another).
        stamp["tensorflow"] = versions.tensorflow_version()
        if request.options.keep_float is not None:
            stamp["kept_float"] = list(kept)
        if request.track is not None:
            stamp["discovered"] = discovered
        data = modelinfo.stamp_provenance(data, stamp)
    request.output.write_bytes(data)
    return Outcome(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        seconds=time.perf_counter() - start,
        warnings=tuple(notes),
        api=loader.api,
        discovered=tuple(sorted(discovered.items())),
        kept_float=kept,
        search=account,
    )


@contextlib.contextmanager
def _watching(request: Request, applies: bool, discovered: dict[str, str]) -> Iterator[None]:
    """Record the project files the user's code reads in the block (when the request asks).

    A Keras source's code (its imports, its custom objects) is recorded, not its model
    file (``converter.sources.discovery.unrecorded``).
    """
    if request.track is None or not applies:
        yield
        return
    with discovery.recording(request.track, request.track_ignore) as recorder:
        yield
    discovered.update(recorder.digests())


def _convert(converter: Any) -> bytes:
    try:
        data = converter.convert()
    except ConverterError:
        raise
    except Exception as e:
        raise ConversionError(describe(e)) from None
    if not isinstance(data, bytes):
        raise ConversionError(
            f"the converter returned {type(data).__name__}, not a TFLite flatbuffer "
            "(output_format GRAPHVIZ_DOT is not a build artifact)"
        )
    return data
