"""A variant's report: its sections (``rules.report.sections``), its budget checks, its one-line summary.

Data first, as records (``converter.codec``) that write the report's JSON and
read it back, with fixed number formats, so a report is the
same bytes for the same artifact except for its latency section, the one
wall-clock measurement (labelled as the host CPU's). Every budget is checked
through the one table in ``rules.manifest.budgets``: the figure its row names, its
comparison, its sentences.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from converter.codec import Record, format_number, from_dict, from_json, omitted_when_none
from rules.build.jobs import ReportJob
from rules.manifest.budgets import BY_NAME, Budget, BudgetKind, Limit, number
from rules.report.device import DeviceSection
from rules.report.sections import (
    AccuracySection,
    LatencySection,
    LayersSection,
    Section,
    SizeSection,
)

if TYPE_CHECKING:
    from rules.report.measurements import Measurements

REPORT_FORMAT = 10  # bump when a report gains or changes a section: reports rerun


@dataclass(frozen=True)
class Check(Record):
    """One budget against one figure; ``passed`` is None when the figure was not measured."""

    budget: str
    limit: Limit
    measured: float | str | None
    passed: bool | None
    sentence: str | None = omitted_when_none()  # the breach as the user reads it, when it failed
    why: str | None = omitted_when_none()  # why it could not be measured (not by the summary)

    @property
    def kind(self) -> BudgetKind:
        return BY_NAME[self.budget]

    @classmethod
    def of(
        cls, name: str, kind: BudgetKind, limit: float, measured: float | None, why: str | None
    ) -> Check:
        """``kind``'s limit for variant ``name`` against ``measured``, compared as its row says."""
        if measured is None:
            return cls(kind.name, limit, None, None, why=why)
        if kind.passes(measured, limit):
            return cls(kind.name, limit, measured, True)
        sentence = (
            f"{name}: over budget: {kind.name} is {kind.show(limit)}, "
            f"measured {kind.show(measured)}"
        )
        return cls(kind.name, limit, measured, False, sentence)

    @classmethod
    def gate(cls, name: str, kind: BudgetKind, limit: Limit, device: DeviceSection) -> Check:
        """A device gate, judged (and its breach worded) by the report's device section."""
        verdict = device.judge(kind.figure, limit)
        if verdict.passed is None:
            return cls(kind.name, limit, verdict.measured, None, why=verdict.detail)
        sentence = None if verdict.passed else f"{name}: over budget: {verdict.detail}"
        return cls(kind.name, limit, verdict.measured, verdict.passed, sentence)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        if data["budget"] not in BY_NAME:
            raise KeyError(f"no budget named {data['budget']!r}")
        return from_dict(cls, data)


@dataclass(frozen=True)
class Report(Record):
    """One variant's report: ``<variant>.report.json``."""

    model: str
    variant: str
    artifact: str  # the artifact's file name, beside the report
    size: SizeSection
    latency: LatencySection
    accuracy: AccuracySection
    device: DeviceSection  # what it needs on the device: runtime, ops, GPU delegate
    budgets: tuple[Check, ...] = ()
    layers: LayersSection | None = omitted_when_none()  # int8 variants: each quantized op's error
    format: int = format_number(REPORT_FORMAT)

    @property
    def name(self) -> str:
        return f"{self.model}/{self.variant}"

    def section(self, kind: BudgetKind) -> Section | None:
        """The section holding the figure ``kind`` limits (None: the summary's baseline holds it)."""
        sections: dict[str, Section] = {
            "size": self.size,
            "latency": self.latency,
            "accuracy": self.accuracy,
        }
        return sections.get(kind.section)

    def figure(self, kind: BudgetKind) -> float | None:
        section = self.section(kind)
        return None if section is None or kind.gate else section.figure(kind.figure)

    def why_unmeasured(self, kind: BudgetKind) -> str:
        """Why ``kind``'s figure is missing: one clause for the failure sentence."""
        section = self.section(kind)
        return kind.unmeasured if section is None else section.why_unmeasured(kind.unmeasured)

    def to_json(self) -> str:
        """The report file's text: sorted keys, two-space indents."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        """The report in a report file's text; ValueError if it is not one."""
        return from_json(cls.from_dict, text, "a report")


def check(name: str, budget: Budget | None, report: Report) -> tuple[Check, ...]:
    """Every limit the budget sets, against the report's figure that the budget table names.

    A figure the summary measures (against its baseline) is left unmeasured
    here, without a reason: it is not this report's to measure.
    """
    if budget is None:
        return ()
    return tuple(
        Check.gate(name, kind, limit, report.device)
        if kind.gate
        else Check.of(
            name,
            kind,
            number(limit),
            report.figure(kind),
            None if kind.by_summary else report.why_unmeasured(kind),
        )
        for kind, limit in budget.limits()
    )


def build_report(job: ReportJob, measured: Measurements, latency: LatencySection) -> Report:
    """The report from its measurements (cached or fresh) and this run's budget checks.

    Cheap and run every time: the float32 comparison reads a file size (a
    report does not wait for the float32 conversion, which may fail: without its
    artifact the comparison is left out, and says why), the device section reads
    the artifact's flatbuffer, and the budgets are the manifest's current ones.
    """
    size = measured.size
    if job.float32 is not None and job.float32.is_file():
        size = replace(size, vs_float32=round(size.size / job.float32.stat().st_size, 4))
    elif job.float32 is not None:
        why = f"no {job.float32.name} to compare with (its conversion failed, or has not run)"
        size = replace(size, vs_float32_skipped=why)
    report = Report(
        job.model,
        job.variant.name,
        job.artifact.name,
        size,
        latency,
        measured.accuracy,
        DeviceSection.measure(job.artifact.read_bytes()),
        layers=measured.layers,
    )
    return replace(report, budgets=check(job.name, job.budget, report))


def _worst(layers: LayersSection) -> list[str]:
    """The three worst layers, each with its worst op's error in quantization steps."""
    worst: dict[str, float] = {}
    for op in layers.ops:
        worst.setdefault(op.layer, op.rmse_scale)
    return [f"{name} ({worst[name]:.2g} steps)" for name in layers.worst()]


def duration(ms: float) -> str:
    """A latency as people read it: ``0.42 ms``, or ``37 µs`` below a tenth of a millisecond."""
    return f"{ms * 1000:.0f} µs" if ms < 0.1 else f"{ms:.2f} ms"


def headline(report: Report) -> str:
    """The report in one line, as ``doit report`` prints it under the task."""
    size = report.size
    parts = [f"{size.size:,} bytes"]
    if size.vs_float32 is not None:
        parts.append(f"{size.vs_float32:.2f}x float32")
    if size.vs_source is not None:
        parts.append(f"{size.vs_source:.2f}x source")
    parts.append(f"{size.parameters:,} parameters")
    quality = report.accuracy
    if quality.accuracy is not None and quality.reference_accuracy is not None:
        delta = quality.accuracy - quality.reference_accuracy
        parts.append(f"accuracy {quality.accuracy:.4f} ({delta:+.4f} against the reference)")
    if quality.top1_agreement is not None:
        parts.append(f"top-1 agreement {quality.top1_agreement:.4f}")
    elif quality.accuracy is None and quality.max_abs_error is not None:
        parts.append(f"max error {quality.max_abs_error:.3g}")  # no class axis: the error
    if quality.signatures is not None:
        count = len(quality.signatures)
        parts.append(f"{count} signatures compared, figures for {quality.signature}")
    timing = report.latency
    unrunnable = (
        timing.median_ms is None and quality.skipped is not None and quality.skipped == timing.error
    )
    if unrunnable:  # one reason for both (Select TF ops)
        parts.append(f"no accuracy or latency here: {quality.skipped}")
    elif quality.skipped is not None:
        parts.append(f"no accuracy section ({quality.skipped})")
    layers = report.layers
    if layers is not None and layers.kept_float:
        parts.append(f"kept in float: {', '.join(layers.kept_float)}")
    if layers is not None and layers.ops:
        parts.append(f"worst int8 layers: {', '.join(_worst(layers))}")
    device = report.device
    if device.runtime:
        parts.append(f"needs runtime {device.needs()}")
    if not device.gpu.compatible:
        parts.append(device.gpu.sentence())
    if timing.median_ms is not None:
        where = "host CPU" if timing.this_host else f"measured on another host: {timing.host.cpu}"
        of = f", signature {timing.signature}" if timing.signature is not None else ""
        parts.append(f"{duration(timing.median_ms)} per invoke ({where}{of})")
    elif not unrunnable:
        parts.append(f"not runnable by the stock interpreter ({timing.error})")
    return f"{report.name}: " + ", ".join(parts)
