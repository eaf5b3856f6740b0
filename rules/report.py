"""A variant's report: its size, latency and accuracy data, and its budget checks.

Data first, as plain dicts with fixed number formats, so a report is the same
bytes for the same artifact except for its latency section, the one wall-clock
measurement (labelled as the host CPU's).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules.jobs import ReportJob
from rules.specs import Budget

REPORT_FORMAT = 6  # bump when a report gains or changes a section: reports rerun
# Checked by the summary, against its baseline; a report only records the limit.
SUMMARY_BUDGETS = ("max_size_growth",)


@dataclass(frozen=True)
class Check:
    """One budget against one measurement; ``passed`` is None when it was not measured."""

    budget: str
    limit: float
    measured: float | None
    passed: bool | None

    def to_dict(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = dataclasses.asdict(self)
        if self.passed is False:
            out["sentence"] = self.sentence(name)
        return out

    def sentence(self, name: str) -> str:
        return (
            f"{name}: over budget: {self.budget} is {_format(self.budget, self.limit)}, "
            f"measured {_format(self.budget, self.measured)}"
        )


def _format(budget: str, value: float | None) -> str:
    if value is None:
        return "not measured"
    if budget == "max_size":
        return f"{int(value):,} bytes"
    return f"{value:.4g}"


def budget_for(budgets: dict[str, Budget], variant: str) -> Budget | None:
    """The ``"*"`` budget with the variant's own limits laid over it."""
    general, own = budgets.get("*"), budgets.get(variant)
    if general is None or own is None:
        return own or general
    merged = {
        f.name: getattr(own, f.name)
        if getattr(own, f.name) is not None
        else getattr(general, f.name)
        for f in dataclasses.fields(Budget)
    }
    return Budget(**merged)


def bytes_on_disk(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def size_section(job: ReportJob, source_bytes: int | None) -> dict[str, Any]:
    """The artifact's anatomy, read from the flatbuffer, and its size against the source's."""
    from converter import modelinfo  # here: numpy and the flatbuffer schema cost 0.1 s to import

    info = modelinfo.describe(job.artifact.read_bytes())
    section = info.to_dict()
    section.pop("provenance")
    if source_bytes:
        section["source_bytes"] = source_bytes
        section["vs_source"] = round(info.size / source_bytes, 4)
    return section


def check(budget: Budget | None, measured: dict[str, float | None]) -> list[Check]:
    """Every limit the budget sets, against what was measured (None: not measured)."""
    if budget is None:
        return []
    checks = []
    for f in dataclasses.fields(Budget):
        limit = getattr(budget, f.name)
        if limit is None:
            continue
        value = measured.get(f.name)
        if value is None:
            checks.append(Check(f.name, limit, None, None))
            continue
        passed = value >= limit if f.name.startswith("min_") else value <= limit
        checks.append(Check(f.name, limit, value, passed))
    return checks


def build_report(
    job: ReportJob, measured: dict[str, Any], timing: dict[str, Any]
) -> tuple[dict[str, Any], list[Check]]:
    """The report from its measurements (cached or fresh) and this run's budget checks.

    Cheap and run every time: the float32 comparison reads a file size, and the
    budgets are the manifest's current ones.
    """
    size = dict(measured["size"])
    if job.float32 is not None and job.float32.is_file():
        size["vs_float32"] = round(size["size"] / job.float32.stat().st_size, 4)
    quality = measured["accuracy"]
    output = quality.get("output", {})
    checks = check(
        job.budget,
        {
            "max_size": size["size"],
            "max_latency_ms": timing.get("median_ms") if timing.get("this_host") else None,
            "min_accuracy": quality.get("accuracy"),
            "max_accuracy_drop": quality.get("accuracy_drop"),
            "min_top1_agreement": output.get("top1_agreement"),
            "max_error": quality.get("max_abs_error"),
        },
    )
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "model": job.model,
        "variant": job.variant.name,
        "artifact": os.path.basename(job.artifact),
        "size": size,
        "latency": timing,
        "accuracy": quality,
    }
    budgets = [c.to_dict(job.name) for c in checks]
    for entry, c in zip(budgets, checks, strict=True):
        if c.passed is None and c.budget not in SUMMARY_BUDGETS:
            entry["why"] = unmeasured_reason(c.budget, report)
    report["budgets"] = budgets
    return report, checks


def duration(ms: float) -> str:
    """A latency as people read it: ``0.42 ms``, or ``37 µs`` below a tenth of a millisecond."""
    return f"{ms * 1000:.0f} µs" if ms < 0.1 else f"{ms:.2f} ms"


def summary_line(job: ReportJob, report: dict[str, Any]) -> str:
    size = report["size"]
    parts = [f"{size['size']:,} bytes"]
    if "vs_float32" in size:
        parts.append(f"{size['vs_float32']:.2f}x float32")
    if "vs_source" in size:
        parts.append(f"{size['vs_source']:.2f}x source")
    parts.append(f"{size['parameters']:,} parameters")
    quality = report["accuracy"]
    if "accuracy" in quality:
        delta = quality["accuracy"] - quality["reference_accuracy"]
        parts.append(f"accuracy {quality['accuracy']:.4f} ({delta:+.4f} against the reference)")
    if "output" in quality and quality["output"]["top1_agreement"] is not None:
        parts.append(f"top-1 agreement {quality['output']['top1_agreement']:.4f}")
    timing = report["latency"]
    if "median_ms" in timing:
        where = (
            "host CPU"
            if timing.get("this_host")
            else f"measured on another host: {timing['host']['cpu']}"
        )
        parts.append(f"{duration(timing['median_ms'])} per invoke ({where})")
    else:
        parts.append(f"not runnable by the stock interpreter ({timing['error']})")
    return f"{job.name}: " + ", ".join(parts)


SEED = 0
GENERATED_SAMPLES = 64


def reference_inputs(job: ReportJob, runner: Any) -> tuple[dict[str, Any], Any, str]:
    """(real-valued inputs keyed by the model's input names, labels or None, their origin)."""
    import numpy as np

    from converter.evaluate import match

    if job.evaluate is None:
        rng = np.random.default_rng(SEED)
        generated = {}
        for name, detail in zip(runner.input_names, runner.inputs, strict=True):
            shape = [d if d > 0 else 1 for d in detail["shape_signature"][1:]]
            generated[name] = rng.random((GENERATED_SAMPLES, *shape), dtype=np.float32)
        return generated, None, f"no evaluate data: {GENERATED_SAMPLES} seeded samples in [0, 1)"
    with np.load(job.evaluate.data, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
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
    if job.evaluate.samples is not None:
        count = min(count, job.evaluate.samples)
        inputs = {name: values[:count] for name, values in inputs.items()}
        labels = None if labels is None else labels[:count]
    return inputs, labels, f"{job.evaluate.data.name}, {count} samples"


def accuracy_section(
    candidate: Any,
    inputs: dict[str, Any],
    labels: Any,
    origin: str,
    want: dict[str, Any],
) -> dict[str, Any]:
    """The variant (``candidate``, an interpreter) against the reference outputs, on the same inputs.

    Raises RuntimeError or ValueError when the interpreter cannot run the
    variant, or the outputs cannot be matched.
    """
    from converter.evaluate import accuracy, errors, match

    got = candidate.run([inputs[name] for name in candidate.input_names])
    order, matched = match(list(want), candidate.output_names)
    references = list(want.values())
    outputs = {
        name: errors(references[i], values).to_dict()
        for name, i, values in zip(candidate.output_names, order, got, strict=True)
    }
    primary = candidate.output_names[0]
    section: dict[str, Any] = {
        "reference": "the source model, run in TensorFlow",
        "data": origin,
        "outputs_matched_by": matched,
        "primary_output": primary,
        "output": outputs[primary],
        "outputs": outputs,
        "max_abs_error": max(float(o["max_abs_error"] or 0.0) for o in outputs.values()),
    }
    if labels is not None:
        section["accuracy"] = round(accuracy(got[0], labels), 6)
        section["reference_accuracy"] = round(accuracy(references[order[0]], labels), 6)
        section["accuracy_drop"] = round(section["reference_accuracy"] - section["accuracy"], 6)
    return section


def unmeasured_reason(budget: str, report: dict[str, Any]) -> str:
    """Why a report could not measure what ``budget`` limits: one clause for the failure sentence."""
    if budget == "max_latency_ms":
        error = report["latency"].get("error", "no latency was measured")
        return f"the stock interpreter cannot run this model ({error})"
    quality = report["accuracy"]
    if "skipped" in quality:
        return f"there is no accuracy section ({quality['skipped']})"
    if budget in ("min_accuracy", "max_accuracy_drop"):
        return f"the evaluate data has no labels ({quality.get('data', 'no evaluate data')})"
    if budget == "min_top1_agreement":
        return f"output {quality['primary_output']!r} has no class axis to take a top-1 from"
    return "it was not measured for this variant"
