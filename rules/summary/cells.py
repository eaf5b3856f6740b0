"""The text of each cell of a summary row: ``summary.md`` and ``summary.html`` both show these.

One function per column, from a ``rules.summary.model.Row`` to plain text (the
page escapes it and may colour it, never rewords it), so the two renderings
cannot disagree on a figure. ``—`` stands for nothing to show.
"""

from __future__ import annotations

import math

from converter.tflite.runtimes import show_version
from rules.report.variant import duration
from rules.summary.model import Row

NOTHING = "—"


def byte_count(count: int) -> str:
    """A number of bytes: ``11,240 B``."""
    return f"{count:,} B"


def size(row: Row) -> str:
    return byte_count(row.size)


def vs_float32(row: Row) -> str:
    """The size against the float32 variant's: ``0.28x``."""
    return NOTHING if row.vs_float32 is None else f"{row.vs_float32:.2f}x"


def parameters(row: Row) -> str:
    return f"{row.parameters:,}"


def agreement(row: Row) -> str:
    """Top-1 agreement with the reference model: ``99.30%``."""
    return NOTHING if row.top1_agreement is None else f"{row.top1_agreement:.2%}"


def accuracy(row: Row) -> str:
    """``0.9580``, with its change against the baseline (``0.9580 (-0.0040)``); without labels,
    the agreement with the reference (``99.30% agree``)."""
    if row.accuracy is not None:
        text = f"{row.accuracy:.4f}"
        if row.baseline is not None and row.baseline.accuracy_delta is not None:
            text += f" ({row.baseline.accuracy_delta:+.4f})"
        return text
    if row.top1_agreement is not None:
        return f"{agreement(row)} agree"
    return NOTHING


def snr(row: Row) -> str:
    """The output's signal-to-noise ratio in dB: ``31.5``, ``> 999``, or ``∞`` (identical)."""
    if row.snr_db is None:
        return NOTHING
    db = float(row.snr_db)  # "inf" arrives as a string: JSON has no infinity
    return "∞" if math.isinf(db) else "> 999" if db > 999 else f"{db:.1f}"


def latency(row: Row) -> str:
    """The median latency: ``0.42 ms``, or ``37 µs``."""
    return NOTHING if row.latency_ms is None else duration(row.latency_ms)


def runtime(row: Row) -> str:
    """The oldest runtime that loads it: ``2.17 (FULLY_CONNECTED v12)``."""
    if not row.runtime:
        return NOTHING
    return show_version(row.runtime) + (f" ({row.runtime_because})" if row.runtime_because else "")


def budgets(row: Row) -> str:
    """``❌ 1 over, ✅ 2, 1 not measured``."""
    parts = []
    if row.budgets_failed:
        parts.append(f"❌ {row.budgets_failed} over")
    if row.budgets_passed:
        parts.append(f"✅ {row.budgets_passed}")
    if row.budgets_unmeasured:
        parts.append(f"{row.budgets_unmeasured} not measured")
    return ", ".join(parts) or NOTHING


def size_delta(row: Row) -> str:
    """The size against the baseline's: ``+512 B (+2.10%)``, ``0 B``, or ``—`` (a new variant)."""
    baseline = row.baseline
    if baseline is None:
        return NOTHING
    if baseline.size_delta == 0:
        return "0 B"
    return f"{baseline.size_delta:+,} B ({baseline.size_growth:+.2%})"
