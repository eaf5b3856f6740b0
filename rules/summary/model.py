"""The project summary as data: every variant's report in one row, against a baseline, as JSON.

``summary.json`` is ``Summary.to_json``; the same data is rendered as Markdown
(``rules.summary.markdown``) and as an HTML page (``rules.summary.html``). Given
a baseline (an earlier summary), each variant gets its size and accuracy deltas,
and the size growth budget (``rules.manifest.budgets.SIZE_GROWTH``) is checked
against it, and the fleet's op inventory (``rules.fleet.inventory``) says what
the change adds. Integer variants keep their worst quantized ops
(``rules.summary.ranking.Ranking``). Deterministic: sorted by model and variant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from converter.codec import Record, format_number, from_json
from rules.fleet.inventory import Fleet, VariantOps, changes
from rules.manifest.budgets import SIZE_GROWTH, number
from rules.report.sections import Host, Metric
from rules.report.variant import Check, Report
from rules.summary.ranking import Ranking

SUMMARY_FORMAT = 5


def _number(value: Metric) -> float | str | None:
    """A metric as JSON can hold it: infinite SNR (identical outputs) stays the string 'inf'."""
    return value if isinstance(value, (int, float)) or value == "inf" else None


@dataclass(frozen=True)
class Delta(Record):
    """One variant against the baseline."""

    size: int  # the baseline's
    size_delta: int
    size_growth: float  # 0.02 = +2%
    accuracy: float | None  # the baseline's
    accuracy_delta: float | None


@dataclass(frozen=True)
class Row(Record):
    """One variant's line of the summary."""

    model: str
    variant: str
    size: int
    vs_float32: float | None
    parameters: int
    select_tf_ops: int
    custom_ops: int
    runnable: bool  # by the stock interpreter
    latency_ms: float | None
    # Where the figure came from: the host it was measured on, and whether that is this one.
    latency_host: Host | None
    latency_this_host: bool | None
    accuracy: float | None
    reference_accuracy: float | None
    accuracy_drop: float | None
    top1_agreement: float | None
    snr_db: float | str | None
    max_abs_error: float | None
    budgets_passed: int
    budgets_failed: int
    budgets_unmeasured: int
    breaches: tuple[str, ...]  # the sentences of the failed budgets
    size_growth_limit: float | None  # the summary's to check, against its baseline
    baseline: Delta | None = None
    layers: Ranking | None = None  # integer variants: the worst quantized ops
    runtime: str = ""  # the oldest runtime that loads it, "2.17.0"
    runtime_because: str | None = None  # the op version that sets it
    gpu_rejected: Mapping[str, int] = field(default_factory=dict)  # ops the GPU delegate refuses

    @property
    def name(self) -> str:
        return f"{self.model}/{self.variant}"

    @classmethod
    def of(cls, report: Report) -> Row:
        """The row of a report."""
        size, latency, quality = report.size, report.latency, report.accuracy
        checks = report.budgets
        return cls(
            model=report.model,
            variant=report.variant,
            size=size.size,
            vs_float32=size.vs_float32,
            parameters=size.parameters,
            select_tf_ops=size.select_tf_ops,
            custom_ops=size.custom_ops,
            runnable=latency.median_ms is not None,
            latency_ms=latency.median_ms,
            latency_host=latency.host,
            latency_this_host=latency.this_host,
            accuracy=quality.accuracy,
            reference_accuracy=quality.reference_accuracy,
            accuracy_drop=quality.accuracy_drop,
            top1_agreement=quality.top1_agreement,
            snr_db=None if quality.output is None else _number(quality.output.snr_db),
            max_abs_error=quality.max_abs_error,
            budgets_passed=sum(1 for c in checks if c.passed is True),
            budgets_failed=sum(1 for c in checks if c.passed is False),
            # A budget the summary checks is counted when it is checked, against the baseline.
            budgets_unmeasured=sum(1 for c in checks if c.passed is None and not c.kind.by_summary),
            breaches=tuple(c.sentence for c in checks if c.passed is False and c.sentence),
            size_growth_limit=next(
                (number(c.limit) for c in checks if c.kind is SIZE_GROWTH), None
            ),
            layers=None if report.layers is None else Ranking.of(report.layers),
            runtime=report.device.runtime,
            runtime_because=report.device.runtime_because,
            gpu_rejected=dict(report.device.gpu.rejected),
        )

    def counted(self, check: Check) -> Row:
        """This row with a check the summary made counted in (and its breach, if it failed)."""
        if check.passed is None:
            return replace(self, budgets_unmeasured=self.budgets_unmeasured + 1)
        if check.passed:
            return replace(self, budgets_passed=self.budgets_passed + 1)
        return replace(
            self,
            budgets_failed=self.budgets_failed + 1,
            breaches=(*self.breaches, check.sentence or ""),
        )


@dataclass(frozen=True)
class Comparison(Record):
    """The summary against its baseline: where it came from, the total delta, what came and went."""

    source: str
    total_bytes: int  # the baseline's
    total_delta: int
    added: tuple[str, ...]  # model/variant
    removed: tuple[str, ...]
    # What the change adds to the fleet's ops and runtime (rules.fleet.inventory.changes); None:
    # the baseline has no inventory (an older summary).
    ops_added: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Summary(Record):
    """``summary.json``: every variant's row, sorted by model and variant."""

    variants: tuple[Row, ...]
    total_bytes: int
    missing_reports: tuple[str, ...]  # model/variant of each report missing or unreadable
    baseline: Comparison | None = None
    ops: Fleet = field(
        default_factory=lambda: Fleet({})
    )  # the fleet's op inventory, as ``doit ops`` writes it
    format: int = format_number(SUMMARY_FORMAT)

    def to_json(self) -> str:
        """The text of ``summary.json``: sorted keys, two-space indents."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Earlier:
    """A variant as the baseline knew it."""

    size: int
    accuracy: float | None


@dataclass(frozen=True)
class Baseline:
    """What a comparison needs of an earlier summary: each variant's size and accuracy, the total.

    Read leniently, from any summary format that has these: a baseline kept in
    the cache may come from an older version of this tool.
    """

    variants: Mapping[tuple[str, str], Earlier]  # by (model, variant)
    total_bytes: int
    ops: Fleet | None = None  # its op inventory; None: a summary from before there was one

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        rows = data["variants"]
        if not isinstance(rows, list):
            raise TypeError("its variants are not a list")
        variants = {(r["model"], r["variant"]): Earlier(r["size"], r.get("accuracy")) for r in rows}
        ops = data.get("ops")
        return cls(
            variants, data.get("total_bytes", 0), None if ops is None else Fleet.from_dict(ops)
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Baseline:
        """The baseline in a summary.json's text; ValueError if it is not one."""
        return from_json(cls.from_dict, text, "a summary")


def collect(reports: list[Path]) -> Summary:
    """The summary's data from report files (missing ones are listed, not fatal)."""
    rows = []
    missing = []
    inventory = []
    for path in sorted(reports):
        try:
            report = Report.from_json(path.read_bytes())
        except (OSError, ValueError):
            # As model/variant: a report file's own name is only its variant's.
            missing.append(f"{path.parent.name}/{path.name.removesuffix('.report.json')}")
            continue
        rows.append(Row.of(report))
        device = report.device
        inventory.append(
            VariantOps(report.name, device.ops, device.runtime, device.runtime_because)
        )
    rows.sort(key=lambda r: (r.model, r.variant))
    return Summary(tuple(rows), sum(r.size for r in rows), tuple(missing), ops=Fleet.of(inventory))


def compare(summary: Summary, baseline: Baseline, source: str) -> tuple[Summary, list[str]]:
    """The summary with the baseline's figures beside each variant, and its size growth breaches.

    Each row gets its ``baseline`` delta and its growth budget checked; the
    summary gets its ``baseline`` (where it came from, total delta, added and
    removed variants).
    """
    before = baseline.variants
    rows = []
    breaches = []
    for current in summary.variants:
        old = before.get((current.model, current.variant))
        limit = current.size_growth_limit
        if old is None:
            rows.append(current if limit is None else current.counted(_unmeasured(limit)))
            continue
        delta = current.size - old.size
        growth = round(delta / old.size, 6) if old.size else 0.0
        accuracy_delta = None
        if current.accuracy is not None and old.accuracy is not None:
            accuracy_delta = round(current.accuracy - old.accuracy, 6)
        current = replace(
            current, baseline=Delta(old.size, delta, growth, old.accuracy, accuracy_delta)
        )
        if limit is not None:
            check = Check.of(current.name, SIZE_GROWTH, limit, growth, None)
            if check.sentence is not None:
                sentence = (
                    f"{check.sentence} ({old.size:,} -> {current.size:,} bytes "
                    f"against the baseline {source})"
                )
                check = replace(check, sentence=sentence)
                breaches.append(sentence)
            current = current.counted(check)
        rows.append(current)
    now = {(r.model, r.variant) for r in summary.variants}
    comparison = Comparison(
        source=source,
        total_bytes=baseline.total_bytes,
        total_delta=summary.total_bytes - baseline.total_bytes,
        added=tuple(sorted(f"{m}/{v}" for m, v in now - set(before))),
        removed=tuple(sorted(f"{m}/{v}" for m, v in set(before) - now)),
        ops_added=None if baseline.ops is None else tuple(changes(baseline.ops, summary.ops)),
    )
    return replace(summary, variants=tuple(rows), baseline=comparison), breaches


def _unmeasured(limit: float) -> Check:
    return Check(SIZE_GROWTH.name, limit, None, None)


def no_baseline(summary: Summary) -> Summary:
    """Without a baseline, every growth budget counts as not measured."""
    rows = tuple(
        row if row.size_growth_limit is None else row.counted(_unmeasured(row.size_growth_limit))
        for row in summary.variants
    )
    return replace(summary, variants=rows)
