"""The project summary as one self-contained HTML page: tables, size bars, accuracy and int8 charts."""

from __future__ import annotations

import math
from html import escape
from itertools import groupby

from rules.report.sections import Metric
from rules.summary import cells
from rules.summary.model import Row, Summary
from rules.summary.ranking import ROUNDING_STEPS, Ranking, steps

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: #1f2328; background: #fff; max-width: 1240px; margin: 24px auto;
       padding: 0 16px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
.totals { font-size: 16px; margin: 4px 0; }
nav a { margin-right: 12px; }
.breaches { border: 1px solid #cf222e; background: #ffebe9; color: #82071e; border-radius: 6px;
            padding: 4px 16px; margin: 16px 0; }
.breaches h2 { border: none; margin: 8px 0 0; color: #a40e26; }
.bad, .grew, .fail { color: #cf222e; } .fail { font-weight: 600; }
.shrank, .pass { color: #1a7f37; } .muted { color: #656d76; }
table.variants { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { padding: 5px 9px; border-bottom: 1px solid #d8dee4; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; vertical-align: bottom; }
.num { text-align: right; font-variant-numeric: tabular-nums; } td.num { white-space: nowrap; }
tr.breach td:first-child { box-shadow: inset 3px 0 #cf222e; }
.flag { display: inline-block; font-size: 11px; border-radius: 3px; padding: 0 4px;
        margin: 2px 4px 0 0; background: #fff8c5; border: 1px solid #d4a72c; white-space: nowrap; }
.flag.bad { background: #ffebe9; border-color: #ff8182; }
.charts { display: flex; flex-wrap: wrap; gap: 16px 32px; align-items: flex-start; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
figcaption .muted { font-weight: normal; }
svg { max-width: 100%; height: auto; overflow: visible; }
svg text { font-size: 12px; fill: #1f2328; paint-order: stroke; stroke: #fff; stroke-width: 3px;
           stroke-linejoin: round; }
svg text.tick { font-size: 11px; fill: #656d76; } text.reference-label { fill: #8250df; }
.bar, .point { fill: #5b8fd6; } .bar.breach, .point.breach { fill: #d1242f; }
.point { stroke: #1f2328; stroke-width: 1; }
.baseline-marker { stroke: #1f2328; stroke-width: 2; } .off-scale { stroke-dasharray: 3 2; }
.axis { stroke: #656d76; } .grid { stroke: #eaeef2; } .leader { stroke: #8c959f; }
.reference { stroke: #8250df; stroke-dasharray: 5 4; }
table.ops td:first-child { font-family: ui-monospace, monospace; } table.ops { max-width: 100%; }
.added { background: #dafbe1; border: 1px solid #4ac26b; border-radius: 6px; padding: 4px 12px; }
.op-bar { fill: #5b8fd6; } .op-bar.off-scale { fill: #d1242f; } p.kept { margin: 4px 0 0; }
"""

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


def _signed(value: float, text: str) -> str:
    return ("+" if value > 0 else "\N{MINUS SIGN}" if value < 0 else "±") + text


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + ("es" if noun.endswith("ch") else "s")


def _percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.1f}%"


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def _ticks(low: float, high: float, step: float) -> list[float]:
    return [round(low + k * step, 10) for k in range(math.floor((high - low) / step + 1e-9) + 1)]


def _header(summary: Summary) -> str:
    count, breaches = len(summary.variants), sum(r.budgets_failed for r in summary.variants)
    parts = [
        "<header><h1>TFLite models</h1>",
        f'<p class="totals"><strong>{count}</strong> {_plural(count, "variant")} · '
        f"<strong>{cells.byte_count(summary.total_bytes)}</strong> in all · "
        f'<strong class="{"bad" if breaches else "shrank"}">{breaches}</strong> '
        f"{_plural(breaches, 'budget breach')}</p>",
    ]
    base = summary.baseline
    if base is not None:
        delta, total = base.total_delta, base.total_bytes
        share = f" ({_signed(delta, f'{abs(delta) / total * 100:.1f}%')})" if total else ""
        klass = "grew" if delta > 0 else "shrank" if delta < 0 else "muted"
        parts.append(
            f"<p>Compared with the baseline from <code>{escape(base.source)}</code> "
            f'({cells.byte_count(total)}): <span class="{klass}">'
            f"{_signed(delta, f'{abs(delta):,} B{share}')}</span> in all."
        )
        for label, names in (("Added", base.added), ("Removed", base.removed)):
            if names:
                parts.append(f" {label}: {', '.join(escape(n) for n in sorted(names))}.")
        parts.append("</p>")
    if summary.missing_reports:
        missing = ", ".join(escape(m) for m in sorted(summary.missing_reports))
        parts.append(f'<p class="bad">Missing or unreadable reports: {missing}.</p>')
    return "".join(parts) + "</header>"


def _breaches(rows: list[Row]) -> str:
    sentences = [s for r in rows for s in r.breaches]
    items = "".join(f"<li>{escape(s)}</li>" for s in sentences)
    heading = f"<h2>Budget breaches ({len(sentences)})</h2>"
    return f'<section class="breaches">{heading}<ul>{items}</ul></section>' if sentences else ""


def _table(rows: list[Row], with_baseline: bool) -> str:
    heads = ["variant", "size", "vs float32", "parameters", "accuracy", "top-1 agreement"]
    heads += ["SNR dB", "latency", "runtime", "budgets"]
    heads += ["Δ size vs baseline"] if with_baseline else []
    num = ' class="num"'
    head = "".join(f"<th{'' if h == 'variant' else num}>{h}</th>" for h in heads)
    body = []
    for r in rows:
        flags = [("bad", "not runnable")] if not r.runnable else []
        flags += [("", f"{count} {label}") for count, label in
                  ((r.select_tf_ops, "Select TF ops"), (r.custom_ops, "custom ops")) if count]  # fmt: skip
        if r.gpu_rejected:
            count = sum(r.gpu_rejected.values())  # which ones: in the fleet section
            flags.append(("bad", f"GPU delegate refuses {count} {_plural(count, 'op')}"))
        name = escape(r.variant) + ("<br>" if flags else "")
        texts = [
            name + "".join(f'<span class="flag {k}">{t}</span>' for k, t in flags),
            escape(cells.size(r)),
            escape(cells.vs_float32(r)),
            escape(cells.parameters(r)),
            escape(cells.accuracy(r)),
            escape(cells.agreement(r)),
            escape(cells.snr(r)),
            _latency(r),
            escape(cells.runtime(r)),
            _budgets(r),
        ] + ([_size_delta(r)] if with_baseline else [])
        tds = "".join(f"<td{'' if i == 0 else num}>{c}</td>" for i, c in enumerate(texts))
        breach = ' class="breach"' if r.budgets_failed else ""
        body.append(f"<tr{breach}>{tds}</tr>")
    return f'<table class="variants"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _latency(r: Row) -> str:
    figure = escape(cells.latency(r))
    host = r.latency_host
    if host and r.latency_this_host is False:  # cached from another machine: say which
        figure += f'<br><span class="muted">on {escape(host.cpu)}</span>'
    return figure


def _budgets(r: Row) -> str:
    """The budgets cell, red when one failed."""
    tone = "fail" if r.budgets_failed else "pass" if r.budgets_passed else "muted"
    return f'<span class="{tone}">{escape(cells.budgets(r))}</span>'


def _size_delta(r: Row) -> str:
    """The size delta cell, red when the variant grew and green when it shrank."""
    delta = 0 if r.baseline is None else r.baseline.size_delta
    tone = "grew" if delta > 0 else "shrank" if delta < 0 else "muted"
    return f'<span class="{tone}">{escape(cells.size_delta(r))}</span>'


def _svg(klass: str, width: float, height: float, title: str) -> str:
    return (
        f'<svg class="{klass}" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}" role="img"><title>{escape(title)}</title>'
    )


def _size_bars(model: str, rows: list[Row]) -> str:
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


def _accuracy_chart(model: str, rows: list[Row]) -> str:
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


def _ops_chart(name: str, ranking: Ranking) -> str:
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


def _ops_figure(row: Row) -> str:
    """An integer variant's ranked ops and the layers it keeps in float; nothing for others."""
    ranking = row.layers
    if ranking is None or not (ranking.ops or ranking.kept_float):
        return ""
    shown = len(ranking.ops)
    count = f"{shown} {_plural(shown, 'op')}" if shown else "no quantized op measured"
    if shown < ranking.measured:
        count = f"the {shown} worst of {ranking.measured} ops"
    caption = f'{escape(row.variant)}: error by quantized op <span class="muted">({count})</span>'
    chart = _ops_chart(row.name, ranking) if ranking.ops else ""
    kept = ""
    if ranking.kept_float:
        names = ", ".join(f"<code>{escape(n)}</code>" for n in ranking.kept_float)
        kept = f'<p class="kept">Kept in float: {names}.</p>'
    return f'<figure class="layers"><figcaption>{caption}</figcaption>{chart}{kept}</figure>'


def _model_section(model: str, rows: list[Row], with_baseline: bool) -> str:
    name = escape(model)
    markers = any(r.baseline is not None for r in rows)
    legend = ' <span class="muted">(black line: the baseline size)</span>' if markers else ""
    return (
        f'<section class="model" id="model-{name}"><h2>{name}</h2>{_table(rows, with_baseline)}'
        f'<div class="charts"><figure><figcaption>Size{legend}</figcaption>'
        f"{_size_bars(model, rows)}</figure><figure><figcaption>Accuracy against size"
        f"</figcaption>{_accuracy_chart(model, rows)}</figure>"
        f"{''.join(_ops_figure(r) for r in rows)}</div></section>"
    )


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fleet(summary: Summary) -> str:
    """The fleet's op inventory: its runtime, what the change adds, every op and who uses it."""
    fleet = summary.ops
    if not fleet.variants:
        return ""
    parts = [
        '<section class="fleet" id="fleet"><h2>Fleet: runtime and ops</h2>',
        f"<p>{escape(_first_upper(fleet.runtime_sentence()))}.</p>",
    ]
    base = summary.baseline
    if base is not None and base.ops_added is not None:
        added = "; ".join(base.ops_added) if base.ops_added else "nothing new"
        parts.append(f'<p class="added">Against the baseline: {escape(added)}.</p>')
    rows = []
    for op, versions in fleet.ops().items():
        used = [
            f"{escape(name)} ({', '.join(f'v{v}' for v in fleet.variants[name].ops[op])})"
            if ":" not in op
            else escape(name)
            for name in fleet.users(op)
        ]
        shown = ", ".join(f"v{v}" for v in versions) if ":" not in op else "—"
        rows.append(f"<tr><td>{escape(op)}</td><td>{shown}</td><td>{', '.join(used)}</td></tr>")
    parts.append(
        '<table class="variants ops"><thead><tr><th>op</th><th>versions</th><th>used by</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    refused = [
        f"<li>{escape(r.name)}: "
        + ", ".join(f"{escape(op)} \N{MULTIPLICATION SIGN}{n}" for op, n in r.gpu_rejected.items())
        + "</li>"
        for r in summary.variants
        if r.gpu_rejected
    ]
    if refused:
        parts.append(f"<p>Ops the GPU delegate cannot take:</p><ul>{''.join(refused)}</ul>")
    return "".join(parts) + "</section>"


def html(summary: Summary) -> str:
    """The whole page: totals, breaches, one section per model, then the fleet's ops."""
    rows = sorted(summary.variants, key=lambda r: (r.model, r.variant))
    models = [(m, list(group)) for m, group in groupby(rows, key=lambda r: r.model)]
    links = "".join(f'<a href="#model-{escape(m)}">{escape(m)}</a>' for m, _ in models)
    sections = "\n".join(_model_section(m, g, summary.baseline is not None) for m, g in models)
    fleet_link = '<a href="#fleet">runtime and ops</a>' if summary.ops.variants else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>TFLite models: summary</title><style>{_CSS}</style></head>\n<body>"
        f"{_header(summary)}{_breaches(rows)}<nav>Models: {links}{fleet_link}</nav>\n"
        f"{sections}\n{_fleet(summary)}\n</body></html>\n"
    )
