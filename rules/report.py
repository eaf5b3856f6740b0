"""A variant's report: its data (size and latency now; accuracy to come) and its budget checks.

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

from rules.specs import Budget

REPORT_FORMAT = 2  # bump when a report gains or changes a section: reports rerun


@dataclass(frozen=True)
class ReportJob:
    """Everything a report task needs, as picklable data."""

    model: str
    variant: str
    artifact: Path
    float32: Path | None  # the model's float32 variant, when it has one and this is another
    source: Path | None  # the source model on disk, for its size
    budget: Budget | None
    manifest: Path
    output: Path

    @property
    def name(self) -> str:
        return f"{self.model}/{self.variant}"


@dataclass(frozen=True)
class Check:
    """One budget against one measurement; ``passed`` is None when it was not measured."""

    budget: str
    limit: float
    measured: float | None
    passed: bool | None

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


def size_section(job: ReportJob) -> dict[str, Any]:
    from converter import modelinfo  # here: numpy and the flatbuffer schema cost 0.1 s to import

    info = modelinfo.describe(job.artifact.read_bytes())
    section = info.to_dict()
    section.pop("provenance")
    if job.float32 is not None and job.float32.is_file():
        section["vs_float32"] = round(info.size / job.float32.stat().st_size, 4)
    source_bytes = bytes_on_disk(job.source)
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


def build_report(job: ReportJob) -> tuple[dict[str, Any], list[Check]]:
    from converter.evaluate import latency  # here: numpy and the interpreter load on demand

    size = size_section(job)
    timing = latency(job.artifact.read_bytes())
    checks = check(
        job.budget, {"max_size": size["size"], "max_latency_ms": timing.get("median_ms")}
    )
    report = {
        "format": REPORT_FORMAT,
        "model": job.model,
        "variant": job.variant,
        "artifact": os.path.basename(job.artifact),
        "size": size,
        "latency": timing,
        "budgets": [dataclasses.asdict(c) for c in checks],
    }
    return report, checks


def summary_line(job: ReportJob, report: dict[str, Any]) -> str:
    size = report["size"]
    parts = [f"{size['size']:,} bytes"]
    if "vs_float32" in size:
        parts.append(f"{size['vs_float32']:.2f}x float32")
    if "vs_source" in size:
        parts.append(f"{size['vs_source']:.2f}x source")
    parts.append(f"{size['parameters']:,} parameters")
    timing = report["latency"]
    if "median_ms" in timing:
        parts.append(f"{timing['median_ms']:.2f} ms per invoke (host CPU)")
    else:
        parts.append(f"not runnable by the stock interpreter ({timing['error']})")
    return f"{job.name}: " + ", ".join(parts)
