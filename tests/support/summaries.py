"""A summary of two models for the HTML page's tests: digits with accuracy data and a breach, flex with none."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rules.summary.model import Comparison, Delta, Row, Summary
from rules.summary.ranking import RankedOp, Ranking

BREACH = "digits/int8: over budget: max_size is 10,000 bytes, measured 10,552 bytes"


# digits/int8's ops, worst first: one far-off op (61 steps) and the rest near rounding alone.
RANKING = Ranking(
    ops=(
        RankedOp("features", "FULLY_CONNECTED", 61.2, 0.812),
        RankedOp("dense", "FULLY_CONNECTED", 1.35, 0.0214),
        RankedOp("dense", "RELU", 0.412, 0.0118),
        RankedOp("logits", "FULLY_CONNECTED", 0.318, 0.0402),
        RankedOp("logits", "SOFTMAX", 0.05, 0.0002),
    ),
    measured=7,
    kept_float=("stem",),
)


def summary_row(model: str, variant: str, size: int, **fields: Any) -> Row:
    row = Row(
        model=model, variant=variant, size=size, vs_float32=None, parameters=9_610,
        select_tf_ops=0, custom_ops=0, runnable=True, latency_ms=None, latency_host=None,
        latency_this_host=None, accuracy=None, reference_accuracy=None, accuracy_drop=None,
        top1_agreement=None, snr_db=None, max_abs_error=None, budgets_passed=1, budgets_failed=0,
        budgets_unmeasured=0, breaches=(), size_growth_limit=None,
    )  # fmt: skip
    return replace(row, **fields)


def delta(size: int, now: int) -> Delta:
    return Delta(size, now - size, round((now - size) / size, 4), None, None)


def two_models() -> Summary:
    """Two models: "digits" with accuracy data and one breach, "flex" with no evaluation at all."""
    quality = {"reference_accuracy": 0.962}
    variants = [
        summary_row("digits", "dynamic", 11_240, vs_float32=0.281, accuracy=0.958, accuracy_drop=0.004,
                 top1_agreement=0.993, snr_db=31.52, latency_ms=0.041,
                 baseline=delta(11_752, 11_240), **quality),
        summary_row("digits", "float32", 40_000, vs_float32=1.0, accuracy=0.962, accuracy_drop=0.0,
                 top1_agreement=1.0, snr_db="inf", latency_ms=0.052,
                 baseline=delta(40_000, 40_000), **quality),
        summary_row("digits", "int8", 10_552, vs_float32=0.2638, accuracy=0.933, accuracy_drop=0.029,
                 top1_agreement=0.96, snr_db=18.07, latency_ms=0.037, budgets_passed=2,
                 budgets_failed=1, breaches=(BREACH,), baseline=delta(10_336, 10_552),
                 layers=RANKING, **quality),
        summary_row("flex", "select", 52_300, select_tf_ops=2, runnable=False, budgets_passed=0,
                 budgets_unmeasured=1),
    ]  # fmt: skip
    total = sum(v.size for v in variants)
    compared = Comparison(
        "cache: main", 82_488, total - 82_488, ("flex/select",), ("digits/float16",)
    )
    return Summary(tuple(variants), total, (), compared)


def sizes_by_model(summary: Summary) -> dict[str, list[int]]:
    """Each model's variant sizes, in the page's order (sorted by variant)."""
    sizes: dict[str, list[int]] = {}
    for v in sorted(summary.variants, key=lambda v: (v.model, v.variant)):
        sizes.setdefault(v.model, []).append(v.size)
    return sizes
