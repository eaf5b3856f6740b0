"""What a build and a conversion worker send each other: requests and their outcomes.

Plain frozen dataclasses, pickled over the worker's pipe and the warm service's
socket. A ``Request`` converts, a ``RunRequest`` runs the source model for a
report's reference, a ``LayersRequest`` measures an int8 model's per-layer
errors. Apart from ``converter.spec``, so that loading a build's tasks (which
needs the spec) never creates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.spec import Options, Source


@dataclass(frozen=True)
class Request:
    """One conversion, as sent to the worker."""

    source: Source
    options: Options
    output: Path  # where the worker writes; the caller renames it into place
    provenance: dict[str, Any] | None = None
    # Record the project files under ``track`` that Python code (an entry point, a Keras
    # source's imports and custom objects, a calibration generator) reads, except under
    # ``track_ignore``: see converter.sources.discovery.
    track: Path | None = None
    track_ignore: tuple[Path, ...] = ()
    # The options' plan (``converter.conversion.options.plan``), checked and made once by
    # the engine when the source's converter API is known before loading; else the worker
    # makes it once the model is loaded.
    plan: dict[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """What the worker reports back about a finished conversion."""

    size: int
    sha256: str
    seconds: float
    warnings: tuple[str, ...] = ()
    api: str = "v2"
    discovered: tuple[tuple[str, str], ...] = ()  # (path relative to track, sha256), sorted
    # keep_float: the layers kept in float, and the search's account when it searched
    kept_float: tuple[str, ...] = ()
    search: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RunRequest:
    """Run the source model itself in TensorFlow on saved inputs: the accuracy reference.

    ``inputs`` is an ``.npz`` of arrays (samples first) keyed by the names the
    caller knows them by, in its input order; the worker matches them to the
    model's own inputs by name, else by position, and writes the model's outputs
    to ``output`` (an ``.npz`` keyed by output name, in the model's output order).
    """

    source: Source
    inputs: Path
    output: Path


@dataclass(frozen=True)
class RunOutcome:
    """What the worker reports back about a reference run."""

    inputs: tuple[str, ...]  # the model's input names, in its order
    outputs: tuple[str, ...]  # the model's output names, in its order
    matched: str  # how the given inputs were matched: "name" or "position"
    seconds: float


@dataclass(frozen=True)
class LayersRequest:
    """Measure each quantized op's error against float execution: an int8 variant's per-layer report.

    The worker quantizes the model as ``options`` say (``keep_float`` pinned to
    the layers the artifact keeps) through TF's QuantizationDebugger, and runs
    its debug model on ``inputs`` (an ``.npz`` keyed by input name), or on the
    calibration samples when there are none.
    """

    source: Source
    options: Options
    inputs: Path | None
    output: Path  # not written: a layers report travels back in the outcome


@dataclass(frozen=True)
class LayerError:
    """One quantized op's error against the same op in float, over the debug data.

    ``rmse_scale`` is the root-mean-square error in units of the op's output
    quantization step (about 0.29 is rounding alone); ``max_abs_error`` is in
    the output's real units.
    """

    layer: str  # the Keras/TF layer behind the op, as the user named it
    op: str  # the TFLite op: FULLY_CONNECTED, CONV_2D...
    tensor: str  # the op's output tensor (what TF's denylisted_nodes take)
    rmse_scale: float
    max_abs_error: float
    scale: float


@dataclass(frozen=True)
class LayersOutcome:
    """The worker's answer to a LayersRequest: ops ranked worst first."""

    ops: tuple[LayerError, ...]
    data: str  # what the debug model ran on
    kept_float: tuple[str, ...]
    seconds: float


# Everything an executor runs, and what it answers.
AnyRequest = Request | RunRequest | LayersRequest
AnyOutcome = Outcome | RunOutcome | LayersOutcome
