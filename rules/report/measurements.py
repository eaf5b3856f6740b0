"""A report's measurements as a cached build output, like an artifact: their keys, the reference, the host.

What a report measures (the size anatomy, the accuracy against the source model
in TensorFlow, the latency) depends only on what it was measured from, so it is
stored in the artifact cache under a key of those inputs and shared like an
artifact:

- the **reference key**: the source's key (its description, the digests of
  its inputs, the files its Python code was seen to read, the tool versions)
  and the digest of the inputs it is run on. The source model's outputs are
  cached under it on their own (one entry per signature, for a model with
  several), so a new variant of an unchanged model runs the source in
  TensorFlow zero times;
- the **measurements key**: the artifact's digest, the reference key, the
  ``evaluate`` data's digest and sample count, and the tool versions.

A hit writes the report without starting TensorFlow and without running the
task that makes the source. Budgets are not part of either key: they are
checked against the measurements on every run. Latency belongs to a machine:
each figure is kept with the host it was measured on (CPU model, core count,
interpreter version) and reused only there; on another host it is measured
again only for a variant with a latency budget, or when ``measure_latency``
asks for it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from converter import versions
from converter.codec import Record, format_number, from_json, omitted_when_none
from converter.digest import bytes_digest, canonical_json
from converter.errors import ConverterError
from converter.spec import THROUGH_TENSORFLOW, toolchain_of
from rules.build import keys as fingerprint
from rules.build.context import Build
from rules.build.jobs import ReportJob
from rules.project.root import Project
from rules.project.state import BuildState
from rules.report.reference import (
    arrays_digest,
    fetch_outputs,
    for_signature,
    source_key,
    store_outputs,
)
from rules.report.sections import (
    AccuracySection,
    Host,
    LatencySection,
    LayersSection,
    SizeSection,
    bytes_on_disk,
    flex_sentence,
)

if TYPE_CHECKING:
    from converter.api import Engine
    from rules.cache.artifacts import ArtifactCache

MEASUREMENTS_FORMAT = 3  # bump when what is measured, or how, changes


@dataclass(frozen=True)
class Measurements(Record):
    """What a report measured, as the cache keeps it: the report's sections, without its budgets.

    Latency figures are kept by host (``host_id``), each with the host it was
    measured on; a report takes this machine's, or shows another's as such.
    """

    size: SizeSection
    accuracy: AccuracySection
    latency: Mapping[str, LatencySection]
    layers: LayersSection | None = omitted_when_none()  # int8 variants only
    format: int = format_number(MEASUREMENTS_FORMAT)


@functools.cache
def host() -> Host:
    """The machine a latency figure belongs to."""
    return Host(_cpu_model(), os.cpu_count() or 1, _litert_version())


def host_id(described: Host) -> str:
    return hashlib.sha256(canonical_json(described.to_dict()).encode()).hexdigest()[:16]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _litert_version() -> str:
    try:
        return f"ai-edge-litert {metadata.version('ai-edge-litert')}"
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class Measuring:
    """What measuring a report takes from its build, and nothing else.

    ``cache`` opens this process's cache (None: the cache is off); ``engine``
    this process's TensorFlow worker, on first use. The two memos live as long
    as the build: the source's outputs by reference key (one TF run per model
    and inputs) and each report's plan.
    """

    project: Project
    state: BuildState
    measure_latency: str  # the setting: "always", or only where a budget needs this host's figure
    cache: Callable[[], ArtifactCache] | None
    engine: Callable[[], Engine]
    references: dict[str, dict[str, Any]]
    plans: dict[str, object]

    @property
    def root(self) -> Path:
        return self.project.root

    @classmethod
    def of(cls, build: Build) -> Measuring:
        project = build.project
        return cls(
            project,
            build.state,
            project.measure_latency,
            build.cache if build.caching else None,
            build.engine,
            build.references,
            build.plans,
        )


# (inputs by name, labels, where they come from); no inputs: the third says why
Inputs = tuple[dict[str, Any] | None, Any, str]


@dataclass
class Plan:
    """What one report is measured from, and the keys that name its cached results.

    ``signatures`` are the artifact's when it has several (its default first),
    each measured on its own; else ``("",)``, the model as a whole.
    """

    key: str  # of the measurements
    reference_key: str
    signatures: tuple[str, ...] = ("",)
    inputs: dict[str, Inputs] | None = None  # by signature, once read
    cached: Measurements | None = None  # when the cache holds them
    references: dict[str, dict[str, Any]] = field(default_factory=dict)  # outputs by signature
    source_bytes: int | None = None  # the source's size on disk, as its reference run saw it
    fetched: bool = field(default=False, repr=False)

    def reference_for(self, signature: str) -> str:
        """The key of one signature's reference outputs (the model's own key for ``""``)."""
        if not signature:
            return self.reference_key
        return bytes_digest(f"{self.reference_key}\0{signature}".encode())


def plan(job: ReportJob, on: Measuring) -> Plan:
    """The keys of ``job``'s measurements and reference, worked out once per process.

    The reference is keyed by the source's key and the inputs it runs on: the
    arrays themselves when they can be read now, or, for ``evaluate`` data that
    the source's task writes (like its calibration data, a product of the task),
    the task's recipe (already in the source key) and the file's name, so that a
    fresh clone finds the report without running the task.
    """
    known = on.plans.get(job.name)
    if isinstance(known, Plan):
        return known
    manifest, state = job.manifest, on.state
    evaluate = job.evaluate
    made_by_task = (
        evaluate is not None and manifest.task is not None and evaluate.data not in manifest.deps
    )
    inputs = None
    signatures = _signatures(job)
    if made_by_task:
        assert evaluate is not None
        data: dict[str, Any] = {"evaluate": fingerprint.relative(on.root, str(evaluate.data))}
    else:
        inputs = _read_inputs(job, signatures)
        digests = {
            name: arrays_digest(arrays) if arrays is not None else why
            for name, (arrays, _, why) in inputs.items()
        }
        data = {"inputs": digests[""] if signatures == ("",) else digests}
    reference_key = bytes_digest(
        canonical_json({"source": source_key(job, on.project, state), **data}).encode()
    )
    key = bytes_digest(
        canonical_json(
            {
                "format": MEASUREMENTS_FORMAT,
                "artifact": state.digest(job.artifact),
                "reference": reference_key,
                "evaluate": state.digest(evaluate.data)
                if evaluate is not None and not made_by_task
                else None,
                "samples": evaluate.samples if evaluate is not None else None,
                "versions": versions.measurement(),
            }
        ).encode()
    )
    result = Plan(key, reference_key, signatures, inputs)
    on.plans[job.name] = result
    return result


def _signatures(job: ReportJob) -> tuple[str, ...]:
    """The artifact's signatures when it has several (its default first), else ``("",)``."""
    from converter.evaluation.evaluate import Runner

    try:
        found = Runner(job.artifact.read_bytes()).signatures
    except (RuntimeError, ValueError):
        return ("",)  # measuring says why
    return tuple(found) if len(found) > 1 else ("",)


def _read_inputs(job: ReportJob, signatures: tuple[str, ...]) -> dict[str, Inputs]:
    """Each signature's (inputs keyed by input name, labels, their origin); no inputs and why, when none."""
    from converter.evaluation.evaluate import Runner
    from converter.evaluation.samples import MissingData
    from rules.report.sections import reference_inputs

    model = job.artifact.read_bytes()
    found: dict[str, Inputs] = {}
    for signature in signatures:
        try:
            runner = Runner(model, signature=signature or None)
            found[signature] = reference_inputs(job, runner, len(signatures))
        except MissingData as e:
            found[signature] = None, None, str(e)
        except (RuntimeError, ValueError) as e:
            found[signature] = None, None, f"cannot read the artifact's inputs: {_first_line(e)}"
    return found


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def fetch(job: ReportJob, on: Measuring) -> Plan:
    """The plan, with whatever the cache holds for it: the measurements, else the reference."""
    found = plan(job, on)
    if found.fetched or on.cache is None:
        return found
    found.fetched = True
    cache = on.cache()
    hit = cache.fetch(_measurements_key(found.key))
    if hit is not None:
        # Not what this version stores: measured again, and stored over.
        with contextlib.suppress(ValueError):
            found.cached = from_json(Measurements.from_dict, hit.artifact, "measurements")
    if found.cached is None:
        for signature in found.signatures:
            kept = fetch_outputs(cache, found.reference_for(signature))
            if kept is not None:
                found.references[signature], found.source_bytes = kept
    return found


def can_do_without_source(job: ReportJob, on: Measuring) -> bool:
    """Whether this report can be made without the source model on disk (from the cache)."""
    try:
        found = fetch(job, on)
    except FileNotFoundError:
        return False
    if found.cached is not None:
        return True
    # An int8 variant's per-layer errors are measured on the source model itself.
    every = all(signature in found.references for signature in found.signatures)
    return every and job.variant.options.quantize != "int8"


def per_layer(job: ReportJob) -> bool:
    """Whether the report has a per-layer section: full-integer variants (int8, int16x8)."""
    return job.variant.options.quantize in ("int8", "int16x8")


def _measurements_key(key: str) -> str:
    return hashlib.sha256(f"tflite-build measurements\0{key}".encode()).hexdigest()


def reference(
    job: ReportJob, on: Measuring, found: Plan, inputs: dict[str, Any], signature: str = ""
) -> dict[str, Any]:
    """The source model's outputs on ``inputs`` (of one of several signatures: the source's of that name).

    From the cache when it holds them; else the source runs in TensorFlow in the
    worker (once per model, signature and inputs in this process) and the
    outputs are stored, with the source's size on disk (``found.source_bytes``).
    Raises ValueError (or a ConverterError) when there can be no reference.
    """
    known = found.references.get(signature)
    if known is not None:
        return known
    if job.source is not None and not job.source.exists():
        raise ValueError(f"no reference: the source model {job.source} is not on disk")
    key = found.reference_for(signature)
    memo = on.references.get(key)
    found.source_bytes = bytes_on_disk(job.source)
    if memo is None:
        source = for_signature(job.model_source, signature)
        outputs = on.engine().run_reference(source, inputs)[0]
        memo = on.references[key] = outputs
        if on.cache is not None:
            store_outputs(on.cache(), key, outputs, found.source_bytes)
    found.references[signature] = memo
    return memo


def measure(job: ReportJob, on: Measuring, found: Plan) -> Measurements:
    """Measure the report afresh (the cache did not hold it), and keep what can be kept.

    A variant with Select TF ops has no accuracy or latency here: no interpreter
    at hand runs them, and the source is not run for nothing.
    """
    size = SizeSection.measure(job, None)
    flex = size.flex_ops
    if flex:
        quality, keep = AccuracySection(skipped=flex_sentence(flex)), True
    else:
        quality, keep = _accuracy(job, on, found)
    source_bytes = found.source_bytes
    size = size.against_source(bytes_on_disk(job.source) if source_bytes is None else source_bytes)
    layers = None
    if per_layer(job):
        inputs = None
        if job.evaluate is not None:  # else the calibration samples
            if found.inputs is None:
                found.inputs = _read_inputs(job, found.signatures)
            inputs = found.inputs[found.signatures[0]][0]
        layers, measurable = _layers(job, on, inputs)
        keep = keep and measurable
    here = host()
    measured = Measurements(
        size, quality, {host_id(here): _latency(job, here, found, size)}, layers
    )
    if keep and on.cache is not None:
        store(on.cache(), found, measured)
    found.inputs = None  # the arrays can be large, and this report is done with them
    return measured


def _accuracy(job: ReportJob, on: Measuring, found: Plan) -> tuple[AccuracySection, bool]:
    """The accuracy section (per signature, for several), and whether it may be cached."""
    from converter.evaluation.evaluate import Runner

    if found.inputs is None:
        found.inputs = _read_inputs(job, found.signatures)
    model = job.artifact.read_bytes()
    sections: dict[str, AccuracySection] = {}
    keep = True
    for signature in found.signatures:
        inputs, labels, origin = found.inputs[signature]
        try:
            if inputs is None:
                raise ValueError(origin)
            outputs = reference(job, on, found, inputs, signature)
            candidate = Runner(model, signature=signature or None)
            sections[signature] = AccuracySection.measure(
                candidate, inputs, labels, origin, outputs, _reference_words(job)
            )
        except (RuntimeError, ValueError, ConverterError) as e:
            sections[signature] = AccuracySection(skipped=_first_line(e))
            keep = keep and cacheable(e)
    return AccuracySection.per_signature(sections), keep


def _reference_words(job: ReportJob) -> str:
    """What the accuracy section compares against, in words."""
    toolchain = toolchain_of(job.model_source)
    if toolchain == "tensorflow":
        return "the source model, run in TensorFlow"
    return f"the source model, run in its own framework (the {toolchain} toolchain)"


def _layers(
    job: ReportJob, on: Measuring, inputs: dict[str, Any] | None
) -> tuple[LayersSection, bool]:
    """The per-layer section, and whether it may be cached (a worker that died may not).

    The model is quantized as the artifact was: with the layers its provenance
    says were kept in float (a searched variant's choice included).
    """
    from converter.errors import WorkerError
    from converter.spec import KeepFloat
    from converter.tflite import modelinfo

    if job.variant.options.quantize != "int8":
        return LayersSection(skipped="TF's quantization debugger measures int8 models only"), True
    toolchain = toolchain_of(job.model_source)
    if toolchain not in THROUGH_TENSORFLOW:
        why = (
            f"per-layer errors come from TF's quantization debugger, not the {toolchain} toolchain"
        )
        return LayersSection(skipped=why), True
    if job.source is not None and not job.source.exists():
        return LayersSection(skipped=f"the source model {job.source} is not on disk"), False
    stamp = modelinfo.describe(job.artifact.read_bytes()).provenance or {}
    kept = tuple(stamp.get("kept_float") or ())
    options = replace(job.variant.options, keep_float=KeepFloat(layers=kept) if kept else None)
    try:
        outcome = on.engine().run_layers(job.model_source, options, inputs)
    except ConverterError as e:
        return LayersSection(skipped=_first_line(e)), not isinstance(e, WorkerError)
    return LayersSection.measured(outcome), True


def _latency(job: ReportJob, here: Host, found: Plan, size: SizeSection) -> LatencySection:
    """This host's latency figure: of the default signature, when there are several."""
    from converter.evaluation.evaluate import latency

    if size.flex_ops:
        return LatencySection(here, error=flex_sentence(size.flex_ops))
    measured = {**latency(job.artifact.read_bytes()), "host": here.to_dict()}
    if found.signatures != ("",):
        measured["signature"] = found.signatures[0]
    return LatencySection.from_dict(measured)


def latency_for(
    job: ReportJob, on: Measuring, found: Plan, measured: Measurements
) -> LatencySection:
    """The latency section: this host's figure, measured now when the cache has none for it.

    A figure from another host is re-measured here only for a variant with a
    budget on a per-host figure (latency), or when ``measure_latency =
    "always"``; otherwise it is shown as what it is, another machine's.
    """
    here = host()
    figures = measured.latency.get(host_id(here))
    if figures is None:
        limits = job.budget.limits() if job.budget is not None else []
        wanted = any(kind.per_host for kind, _ in limits)
        if wanted or on.measure_latency == "always" or not measured.latency:
            figures = _latency(job, here, found, measured.size)
            latency = {**measured.latency, host_id(here): figures}
            if on.cache is not None:
                store(on.cache(), found, replace(measured, latency=latency))
        else:
            other = measured.latency[min(measured.latency)]  # any one, but always the same
            return replace(other, this_host=False)
    return replace(figures, this_host=True)


def store(cache: ArtifactCache, found: Plan, measured: Measurements) -> None:
    """Keep the measurements in the cache (a reference that could not run is not kept)."""
    text = json.dumps(measured.to_dict(), sort_keys=True).encode()
    cache.store(_measurements_key(found.key), text, {"measurements_for": found.key}, "")


def cacheable(error: BaseException) -> bool:
    """Whether an accuracy section skipped for this reason can be kept: deterministic reasons only.

    The interpreter failing on the artifact is a property of the artifact; a
    missing source or a failing worker is a property of this machine, this time.
    """
    return not isinstance(error, ConverterError) and "is not on disk" not in str(error)
