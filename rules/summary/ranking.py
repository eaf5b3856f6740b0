"""An integer variant's worst quantized ops, as the summary keeps them and shows them.

The report's layers section (``rules.report.sections.LayersSection``) holds every
quantized op's error; a summary row keeps the ``RANKED_OPS`` worst, for a line
each in ``summary.md`` and a chart each in ``summary.html``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from converter.codec import Record
from rules.report.sections import LayersSection, Metric

RANKED_OPS = 12  # the worst ops a row keeps of its report's ranking: summary.json stays small
# Rounding alone, to the nearest quantization step, errs uniformly within half a step each
# way: an RMSE of 1/sqrt(12) steps. An op near it lost nothing more to int8.
ROUNDING_STEPS = 12**-0.5


def _metric(value: float) -> Metric:
    """A float as a report's metrics keep it: infinity as "inf", NaN as None."""
    if math.isfinite(value):
        return value
    return None if math.isnan(value) else "inf" if value > 0 else "-inf"


def steps(value: Metric) -> str:
    """An error in quantization steps: two significant digits, whole steps from 10 up."""
    if value is None:
        return "not a number"
    number = float(value)  # "inf" arrives as a string: JSON has no infinity
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return f"{number:#.2g}" if number < 10 else f"{number:,.0f}"


@dataclass(frozen=True)
class RankedOp(Record):
    """One quantized op of a ranking: ``rules.report.sections.OpError`` as the summary keeps it."""

    layer: str
    op: str
    rmse_scale: Metric  # against the op in float, in output quantization steps
    max_abs_error: Metric  # in the output's real units


@dataclass(frozen=True)
class Ranking(Record):
    """An integer variant's worst quantized ops, worst first, and the layers it keeps in float.

    The report holds every op; a row keeps the ``RANKED_OPS`` worst, and how
    many there were.
    """

    ops: tuple[RankedOp, ...]
    measured: int  # ops in the report's ranking
    kept_float: tuple[str, ...]

    @classmethod
    def of(cls, layers: LayersSection) -> Ranking | None:
        """The ranking of a report's layers section; None when the section was skipped."""
        if layers.skipped is not None:
            return None
        ops = tuple(
            RankedOp(op.layer, op.op, _metric(op.rmse_scale), _metric(op.max_abs_error))
            for op in layers.ops[:RANKED_OPS]
        )
        return cls(ops, len(layers.ops), layers.kept_float)

    def worst(self, count: int = 3) -> list[tuple[str, Metric]]:
        """The ``count`` worst layers, each with its worst op's error (a layer ranks by its worst op)."""
        worst: dict[str, Metric] = {}
        for op in self.ops:
            worst.setdefault(op.layer, op.rmse_scale)
        return list(worst.items())[:count]
