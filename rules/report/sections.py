"""The sections of a variant's report as data (size, latency, accuracy), and how each is measured.

Each section is a record (``converter.codec``: it writes its part of the
report's JSON and reads it back) that answers a budget's two questions: the
figure it limits, and why that figure is missing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from converter.codec import Record, from_dict, omitted_when_none, to_dict
from rules.build.jobs import ReportJob

# An error metric as a report keeps it: six significant digits; infinities as "inf" or "-inf",
# which JSON cannot hold as numbers; None for NaN.
Metric = float | str | None
LAYERS_MEASURE = "rmse_scale: RMSE against the op in float, in output quantization steps"


class Section(Protocol):
    """What a budget asks of the report section that holds its figure."""

    def figure(self, name: str) -> float | None:
        """The figure called ``name``; None when it was not measured."""
        ...

    def why_unmeasured(self, reason: str) -> str:
        """Why a figure is missing: the section's own reason, or ``reason`` filled in from it."""
        ...


def bytes_on_disk(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@dataclass(frozen=True)
class SizeSection(Record):
    """The artifact's anatomy, read from its flatbuffer, and its size against the source's and float32's."""

    size: int
    parameters: int  # elements of constant tensors
    constant_bytes: Mapping[str, int]  # by tensor dtype
    ops: Mapping[str, int]
    select_tf_ops: int
    custom_ops: int
    subgraphs: tuple[Mapping[str, Any], ...]  # as converter.tflite.modelinfo describes them
    signatures: tuple[Mapping[str, Any], ...]
    min_runtime_version: str
    conversion: Mapping[str, Any] | None  # the converter's own metadata
    source_bytes: int | None = omitted_when_none()  # the source model on disk
    vs_source: float | None = omitted_when_none()
    vs_float32: float | None = omitted_when_none()  # against the model's float32 variant
    # Why vs_float32 is missing though the manifest has a float32 variant (no artifact of it).
    vs_float32_skipped: str | None = omitted_when_none()

    def figure(self, name: str) -> float | None:
        value: float | None = getattr(self, name)
        return value

    def why_unmeasured(self, reason: str) -> str:
        return reason

    @property
    def flex_ops(self) -> list[str]:
        """The Select TF ops it uses (``FLEX:<op>``), which no interpreter here can run."""
        return [op for op in self.ops if op.startswith("FLEX:")]

    @classmethod
    def measure(cls, job: ReportJob, source_bytes: int | None) -> SizeSection:
        """Read the artifact's flatbuffer; ``source_bytes`` is the source model's size on disk."""
        # Imported here: numpy and the flatbuffer schema cost 0.1 s to import.
        from converter.tflite import modelinfo

        info = modelinfo.describe(job.artifact.read_bytes())
        described = info.to_dict()
        del described["provenance"]  # the artifact's, not a measurement
        return cls.from_dict(described).against_source(source_bytes)

    def against_source(self, source_bytes: int | None) -> SizeSection:
        """This section with the source model's size on disk, and the ratio to it."""
        if not source_bytes:
            return self
        vs_source = round(self.size / source_bytes, 4)
        return dataclasses.replace(self, source_bytes=source_bytes, vs_source=vs_source)


@dataclass(frozen=True)
class Host(Record):
    """The machine a latency figure belongs to."""

    cpu: str
    cores: int
    runtime: str  # the interpreter and its version


@dataclass(frozen=True)
class LatencySection(Record):
    """One latency measurement on one host, or why the stock interpreter could not run the model.

    ``this_host`` is None while it sits in the cached measurements, kept by
    host; a report says whether it is this machine's. Another machine's figure
    is shown, but limits nothing here.
    """

    host: Host
    median_ms: float | None = omitted_when_none()
    p90_ms: float | None = omitted_when_none()
    batch: int | None = omitted_when_none()
    threads: int | None = omitted_when_none()
    runs: int | None = omitted_when_none()
    note: str | None = omitted_when_none()
    error: str | None = omitted_when_none()  # the interpreter's, when it could not run the model
    this_host: bool | None = omitted_when_none()
    signature: str | None = omitted_when_none()  # of several, the one measured (the default)

    def figure(self, name: str) -> float | None:
        value: float | None = getattr(self, name) if self.this_host else None
        return value

    def why_unmeasured(self, reason: str) -> str:
        return reason.format(error=self.error or "no latency was measured")


@dataclass(frozen=True)
class OutputErrors(Record):
    """One output against its reference: ``converter.evaluation.evaluate.Errors`` as a report keeps it."""

    max_abs_error: Metric
    mean_abs_error: Metric
    rmse: Metric
    cosine_similarity: Metric
    snr_db: Metric  # "inf" when the outputs are identical
    top1_agreement: float | None  # None for an output without a class axis


@dataclass(frozen=True)
class AccuracySection(Record):
    """The variant against the source model run in its toolchain on the same inputs, or why not.

    A skipped section holds its reason and nothing else. ``accuracy``,
    ``reference_accuracy`` and ``accuracy_drop`` are there when the inputs
    came with labels. A model with several signatures is measured per
    signature, each against the source's signature of that name: the fields
    are its primary signature's (``signature``, the one its first subgraph
    runs, which budgets check), and ``signatures`` holds every signature's
    own section, the primary's included.
    """

    skipped: str | None = omitted_when_none()
    reference: str | None = None
    data: str | None = None  # where the inputs came from
    outputs_matched_by: str | None = None  # "name" or "position"
    primary_output: str | None = None  # the output that accuracy and top-1 agreement are about
    outputs: Mapping[str, OutputErrors] = field(default_factory=dict)
    max_abs_error: float | None = None  # over every output
    accuracy: float | None = omitted_when_none()
    reference_accuracy: float | None = omitted_when_none()
    accuracy_drop: float | None = omitted_when_none()
    signature: str | None = omitted_when_none()  # several signatures: the one the fields are about
    signatures: Mapping[str, AccuracySection] | None = omitted_when_none()

    @classmethod
    def measure(
        cls,
        candidate: Any,
        inputs: dict[str, Any],
        labels: Any,
        origin: str,
        want: dict[str, Any],
        reference: str = "the source model, run in TensorFlow",
    ) -> AccuracySection:
        """The variant (``candidate``, an interpreter) against the reference outputs, on the same inputs.

        Raises RuntimeError or ValueError when the interpreter cannot run the
        variant, or the outputs cannot be matched.
        """
        from converter.evaluation.evaluate import compare

        compared = compare(candidate, inputs, want, labels)
        return cls(
            reference=reference,
            data=origin,
            outputs_matched_by=compared.matched,
            primary_output=compared.primary,
            outputs={
                name: OutputErrors.from_dict(errors) for name, errors in compared.outputs.items()
            },
            max_abs_error=compared.max_abs_error,
            accuracy=compared.accuracy,
            reference_accuracy=compared.reference_accuracy,
            accuracy_drop=compared.accuracy_drop,
        )

    @property
    def output(self) -> OutputErrors | None:
        """The primary output's errors."""
        return None if self.primary_output is None else self.outputs.get(self.primary_output)

    @property
    def top1_agreement(self) -> float | None:
        return None if self.output is None else self.output.top1_agreement

    def figure(self, name: str) -> float | None:
        value: float | None = getattr(self, name)
        return value

    def why_unmeasured(self, reason: str) -> str:
        if self.skipped is not None:
            return f"there is no accuracy section ({self.skipped})"
        return reason.format(
            data=self.data or "no evaluate data", primary_output=self.primary_output
        )

    @classmethod
    def per_signature(cls, sections: Mapping[str, AccuracySection]) -> AccuracySection:
        """A model's section from its signatures' (the primary first); one signature's is its own."""
        primary, section = next(iter(sections.items()))
        if len(sections) == 1:
            return section
        return dataclasses.replace(section, signature=primary, signatures=dict(sections))

    def to_dict(self) -> dict[str, Any]:
        if self.skipped is not None:
            kept = ("skipped", "signature", "signatures")
            return {k: v for k, v in to_dict(self).items() if k in kept}
        output = self.output
        return {**to_dict(self), "output": None if output is None else output.to_dict()}


@dataclass(frozen=True)
class OpError(Record):
    """One quantized op's error against the same op run in float (``converter.protocol.LayerError``)."""

    layer: str
    op: str
    tensor: str
    rmse_scale: float  # RMSE in output quantization steps: about 0.29 is rounding alone
    max_abs_error: float
    scale: float

    def to_dict(self) -> dict[str, Any]:
        # JSON has no infinity or NaN (an op whose scale is 0): "inf" and null, as metrics are.
        return {k: _json_number(v) for k, v in to_dict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpError:
        return from_dict(cls, {k: _from_json_number(v) for k, v in data.items()})


def _json_number(value: Any) -> Any:
    if not isinstance(value, float) or math.isfinite(value):
        return value
    return None if math.isnan(value) else "inf" if value > 0 else "-inf"


def _from_json_number(value: Any) -> Any:
    if value is None:
        return math.nan
    return float(value) if value in ("inf", "-inf") else value


@dataclass(frozen=True)
class LayersSection(Record):
    """An int8 variant's quantized ops, worst first, each against float execution; or why not.

    Measured by TF's QuantizationDebugger on the model as the artifact is
    quantized (its ``kept_float`` layers in float, so absent from ``ops``), on
    the evaluate data or else the calibration samples.
    """

    skipped: str | None = omitted_when_none()
    data: str | None = None
    kept_float: tuple[str, ...] = ()
    ops: tuple[OpError, ...] = ()

    @classmethod
    def measured(cls, outcome: Any) -> LayersSection:
        """From the worker's ``LayersOutcome``, figures rounded as a report keeps them."""
        ops = tuple(
            OpError(
                op.layer,
                op.op,
                op.tensor,
                round(op.rmse_scale, 4),
                float(f"{op.max_abs_error:.6g}"),
                float(f"{op.scale:.6g}"),
            )
            for op in outcome.ops
        )
        return cls(data=outcome.data, kept_float=tuple(outcome.kept_float), ops=ops)

    def worst(self, count: int = 3) -> list[str]:
        """The ``count`` worst layers (a layer ranks by its worst op)."""
        return list(dict.fromkeys(op.layer for op in self.ops))[:count]

    def to_dict(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {"skipped": self.skipped}
        return {**to_dict(self), "measure": LAYERS_MEASURE}


def reference_inputs(
    job: ReportJob, runner: Any, signatures: int = 1
) -> tuple[dict[str, Any], Any, str]:
    """(inputs keyed by the model's input names, labels or None, their origin).

    ``runner`` runs one signature of ``signatures``: with several, each takes
    its own share of the evaluate data, by name (``samples.for_signature``; the
    primary signature, the first, takes the plain ``labels``). So does a
    model's only signature when the data names arrays after it
    (``predict/labels``): one file can serve variants that each convert one
    signature. Raises ValueError (``samples.MissingData`` for an input only
    data can feed).
    """
    from converter.evaluation import samples
    from converter.evaluation.evaluate import evaluation_inputs, read_arrays

    evaluate = job.evaluate
    if evaluate is None:
        return evaluation_inputs(runner, None, None, "")
    arrays = read_arrays(evaluate.data)
    keys = runner.signatures
    own = runner.signature or (keys[0] if len(keys) == 1 else None)
    if own is not None and (signatures > 1 or any(k.startswith(f"{own}/") for k in arrays)):
        arrays = samples.for_signature(arrays, own, runner.input_names, own == keys[0])
    return evaluation_inputs(runner, arrays, evaluate.samples, evaluate.data.name)


def flex_sentence(ops: list[str]) -> str:
    """Why a variant with Select TF ops has no accuracy or latency figures here."""
    return (
        f"it uses Select TF ops ({', '.join(ops)}), which run only where the Flex delegate is "
        "linked in, and no interpreter here has it (neither ai-edge-litert's nor TensorFlow's)"
    )
