"""The summary page's SVG charts: size bars, accuracy against size, each int8 variant's op errors.

Drawn as markup, without a browser or a script: labels are laid out with a
generous character width, and every figure carries its text as a ``<title>``.
"""

from __future__ import annotations

import math
from html import escape

from rules.report.sections import Metric
from rules.summary import cells
from rules.summary.model import Row
from rules.summary.ranking import ROUNDING_STEPS, Ranking, steps

# Size bars: the variant name and size on the left, then the bars, then room for a
# baseline marker when a variant used to be larger than the largest one is now.
_BAR_W, _BAR_ROOM, _ROW_H, _SIZE_COL = 300, 40, 26, 96
# Accuracy chart: the plot area sits inside these margins.
_CHART_W, _CHART_H, _LEFT, _RIGHT, _TOP, _BOTTOM = 500, 280, 60, 20, 14, 46
_CHAR_W = 7.0  # a generous width of one 12px character, to lay out labels without a browser

# Per-op chart: a label column of at most _OPS_CHARS characters, the bars on a log axis, then
# room for each bar's value; the rounding marker's label above, the axis below.
_OPS_W, _OPS_ROW, _OPS_TOP, _OPS_BOTTOM, _OPS_CHARS, _OPS_VALUE = 300, 20, 22, 40, 40, 70
_OPS_LOWEST = -2  # the axis starts at 0.01 steps at the lowest: smaller errors are empty bars

Box = tuple[float, float, float]  # left, right and text baseline of a chart label


def _short_bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{round(n / scale, 3):g} {unit}"
    return f"{n:g} B"


def _percent(fraction: float | None) -> str:
    """A fraction as the charts label it: ``95.8%``."""
    return "—" if fraction is None else f"{fraction * 100:.1f}%"


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def _ticks(low: float, high: float, step: float) -> list[float]:
    return [round(low + k * step, 10) for k in range(math.floor((high - low) / step + 1e-9) + 1)]


def _svg(klass: str, width: float, height: float, title: str) -> str:
    return (
        f'<svg class="{klass}" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}" role="img"><title>{escape(title)}</title>'
    )


def size_bars(model: str, rows: list[Row]) -> str:
    """One bar per variant, the largest spanning the full bar width."""
    # At least 12 characters for names, so that most models' bars line up.
    bar_x = max(12, *(len(r.variant) for r in rows)) * _CHAR_W + 12 + _SIZE_COL
    scale = _BAR_W / max(max(r.size for r in rows), 1)
    width, height = bar_x + _BAR_W + _BAR_ROOM, len(rows) * _ROW_H + 4
    parts = [_svg("size-bars", width, height, f"{model}: size of each variant")]
    for i, r in enumerate(rows):
        y, name, size = 2 + i * _ROW_H, escape(r.variant), cells.byte_count(r.size)
        parts.append(
            f'<text x="0" y="{y + 17}">{name}</text>'
            f'<text x="{bar_x - 8:g}" y="{y + 17}" text-anchor="end">{size}</text>'
            f'<rect class="bar{" breach" if r.budgets_failed else ""}" x="{bar_x:g}" '
            f'y="{y + 4}" width="{r.size * scale:.2f}" height="{_ROW_H - 8}">'
            f"<title>{name}: {size}</title></rect>"
        )
        if r.baseline is not None:  # a marker off the scale stops at the edge, dashed
            x = bar_x + r.baseline.size * scale
            klass = "baseline-marker" + ("" if x < width else " off-scale")
            parts.append(
                f'<line class="{klass}" x1="{min(x, width - 1):.2f}" x2="{min(x, width - 1):.2f}" '
                f'y1="{y + 1}" y2="{y + _ROW_H - 1}"><title>{name}, baseline: '
                f"{cells.byte_count(r.baseline.size)}</title></line>"
            )
    return "".join(parts) + "</svg>"


def _y_range(values: list[float]) -> tuple[float, float, float]:
    """Low end, high end and tick step of a fraction axis around ``values``.

    It spans a few percentage points at least, so tiny differences do not look big.
    """
    step = _nice_step(max(max(values) - min(values), 0.04) / 4)
    low = max(0.0, math.floor(round((min(values) - step / 2) / step, 9)) * step)
    high = min(1.0, math.ceil(round((max(values) + step / 2) / step, 9)) * step)
    return round(low, 10), round(high, 10), step


def _label(x: float, y: float, text: str, taken: list[Box]) -> str:
    """A point's label, right of it (left near the right edge), moved down (or else up) until
    it clears the points and labels in ``taken``, which it joins; a moved one gets a leader.

    Labelling from the top point down keeps a cluster's labels in the order of its points.
    """
    width = len(text) * _CHAR_W
    right = x + 8 + width <= _CHART_W
    left = x + 8 if right else x - 8 - width
    for shift in (0, 14, 28, 42, -14, -28, -42):
        base = y + 4 + shift
        if not any(a < left + width and left < b and abs(c - base) < 13 for a, b, c in taken):
            break
    taken.append((left, left + width, base))
    anchor, at = ("start", x + 8) if right else ("end", x - 8)
    leader = (
        f'<line class="leader" x1="{x + (5 if right else -5):.2f}" y1="{y:.2f}" '
        f'x2="{at:.2f}" y2="{base - 4:.2f}"/>'
    )
    return (leader if shift else "") + (
        f'<text x="{at:.2f}" y="{base:.2f}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def accuracy_chart(model: str, rows: list[Row]) -> str:
    """Accuracy (or, without labels, agreement with the reference) against size."""
    labelled = any(r.accuracy is not None for r in rows)
    # Each charted row with its figure.
    points = [
        (r, value)
        for r in rows
        if (value := r.accuracy if labelled else r.top1_agreement) is not None
    ]
    if not points:
        return '<p class="no-chart">No accuracy or top-1 agreement data for this model.</p>'
    references = [r.reference_accuracy for r, _ in points if r.reference_accuracy is not None]
    reference = max(references) if labelled and references else None
    y_low, y_high, y_step = _y_range([value for _, value in points] + references[-1:])
    largest: float = max(max(r.size for r in rows), 1)
    plot_w, plot_h = _CHART_W - _LEFT - _RIGHT, _CHART_H - _TOP - _BOTTOM
    right, bottom = _LEFT + plot_w, _TOP + plot_h

    def px(size: float) -> float:
        return _LEFT + size / largest * plot_w

    def py(value: float) -> float:
        return bottom - (value - y_low) / (y_high - y_low) * plot_h

    y_name = "top-1 accuracy" if labelled else "top-1 agreement with the reference"
    parts = [_svg("accuracy-chart", _CHART_W, _CHART_H, f"{model}: {y_name} against size")]
    decimals = max(0, -math.floor(math.log10(y_step * 100) + 1e-9))
    for t in _ticks(y_low, y_high, y_step):
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{right}" y1="{py(t):.2f}" y2="{py(t):.2f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{py(t) + 4:.2f}" text-anchor="end">'
            f"{t * 100:.{decimals}f}%</text>"
        )
    for t in _ticks(0.0, largest, _nice_step(largest / 4)):
        parts.append(
            f'<line class="axis" x1="{px(t):.2f}" x2="{px(t):.2f}" y1="{bottom}" y2="{bottom + 5}"/>'
            f'<text class="tick" x="{px(t):.2f}" y="{bottom + 18}" text-anchor="middle">'
            f"{_short_bytes(t)}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}"/>'
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{bottom}"/>'
        f'<text x="{_LEFT + plot_w / 2:g}" y="{_CHART_H - 6}" text-anchor="middle">size (bytes)</text>'
        f'<text transform="translate(14 {_TOP + plot_h / 2:g}) rotate(-90)" '
        f'text-anchor="middle">{y_name}</text>'
    )
    # Labels keep clear of every point, and of the reference line's label.
    taken: list[Box] = [(px(r.size) - 6, px(r.size) + 6, py(value) + 4) for r, value in points]
    if reference is not None:
        y, text = py(reference), f"reference (TensorFlow) {_percent(reference)}"
        taken.append((_LEFT + 6, _LEFT + 6 + len(text) * _CHAR_W, y - 5))
        parts.append(
            f'<line class="reference" x1="{_LEFT}" x2="{right}" y1="{y:.2f}" y2="{y:.2f}"/>'
            f'<text class="reference-label" x="{_LEFT + 6}" y="{y - 5:.2f}">{text}</text>'
        )
    for r, value in points:
        parts.append(
            f'<circle class="point{" breach" if r.budgets_failed else ""}" '
            f'cx="{px(r.size):.2f}" cy="{py(value):.2f}" r="5"><title>{escape(r.variant)}: '
            f"{cells.byte_count(r.size)}, {y_name} {_percent(value)}</title></circle>"
        )
    for r, value in sorted(points, key=lambda p: (-p[1], p[0].size, p[0].variant)):
        parts.append(_label(px(r.size), py(value), r.variant, taken))
    return "".join(parts) + "</svg>"


def _steps_value(value: Metric) -> float:
    return math.nan if value is None else float(value)


def _decades(values: list[float]) -> tuple[int, int]:
    """The powers of ten a log axis spans: the rounding level and every finite value above 0.01."""
    shown = [v for v in values if 0 < v < math.inf] + [ROUNDING_STEPS]
    low = max(_OPS_LOWEST, math.floor(math.log10(min(shown))))
    return low, math.ceil(math.log10(max(shown)))


def _op_label(text: str) -> str:
    """At most ``_OPS_CHARS`` characters, cut at the start: a scoped name ends with its own."""
    return text if len(text) <= _OPS_CHARS else "…" + text[1 - _OPS_CHARS :]


def ops_chart(name: str, ranking: Ranking) -> str:
    """The ranked ops as bars, worst on top, on a log axis: one op 200 steps off leaves the
    others' tenths of a step readable. A bar starts at the axis' low end, 0.01 steps or less."""
    values = [_steps_value(op.rmse_scale) for op in ranking.ops]
    labels = [f"{op.layer} ({op.op})" for op in ranking.ops]
    low, high = _decades(values)
    bar_x = max([12, *(len(_op_label(t)) for t in labels)]) * _CHAR_W + 8
    bottom = _OPS_TOP + len(values) * _OPS_ROW
    width, height = bar_x + _OPS_W + _OPS_VALUE, bottom + _OPS_BOTTOM

    def px(value: float) -> float:
        """Not a number at the axis' start; infinity, like anything off the scale, at its end."""
        if math.isnan(value):
            return bar_x
        clipped = min(max(value, 10.0**low), 10.0**high)
        return bar_x + (math.log10(clipped) - low) / (high - low) * _OPS_W

    title = f"{name}: each quantized op's error against float, worst first"
    parts = [_svg("ops-chart", width, height, title)]
    every = max(1, math.ceil((high - low) / 6))  # at most 7 tick labels
    for k in range(low, high + 1, every):
        x = px(10.0**k)
        parts.append(
            f'<line class="grid" x1="{x:.2f}" x2="{x:.2f}" y1="{_OPS_TOP - 4}" y2="{bottom}"/>'
            f'<text class="tick" x="{x:.2f}" y="{bottom + 16}" text-anchor="middle">'
            f"{10.0**k:g}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{bar_x:g}" x2="{bar_x + _OPS_W:g}" y1="{bottom}" y2="{bottom}"/>'
        f'<text x="{bar_x + _OPS_W / 2:g}" y="{bottom + 34}" text-anchor="middle">'
        "RMSE against float, in quantization steps (log scale)</text>"
    )
    for i, (op, value, label) in enumerate(zip(ranking.ops, values, labels, strict=True)):
        y, end, figure = _OPS_TOP + i * _OPS_ROW, px(value), steps(op.rmse_scale)
        error = "—" if op.max_abs_error is None else f"{float(op.max_abs_error):.3g}"
        tip = f"{label}: {figure} steps RMSE, max abs error {error}"
        klass = "op-bar off-scale" if value == math.inf else "op-bar"
        parts.append(
            f'<text x="{bar_x - 8:g}" y="{y + 14}" text-anchor="end">{escape(_op_label(label))}'
            f'</text><rect class="{klass}" x="{bar_x:g}" y="{y + 3}" width="{end - bar_x:.2f}" '
            f'height="{_OPS_ROW - 6}"><title>{escape(tip)}</title></rect>'
            f'<text x="{end + 6:.2f}" y="{y + 14}">{figure}</text>'
        )
    x = px(ROUNDING_STEPS)
    parts.append(
        f'<line class="reference rounding" x1="{x:.2f}" x2="{x:.2f}" y1="{_OPS_TOP - 4}" '
        f'y2="{bottom}"/><text class="reference-label" x="{x:.2f}" y="{_OPS_TOP - 8}" '
        f'text-anchor="middle">rounding alone ({ROUNDING_STEPS:.2f})</text>'
    )
    return "".join(parts) + "</svg>"
