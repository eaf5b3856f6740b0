"""``summary.html``: the project summary as one self-contained page (no script, no network).

The totals and the budget breaches, then one section per model: its table (each
cell's text from ``rules.summary.cells``, as in ``summary.md``), its charts
(``rules.summary.charts``) and each int8 variant's op errors; then the fleet's
runtime and ops.
"""

from __future__ import annotations

from html import escape
from itertools import groupby

from rules.summary import cells, charts
from rules.summary.model import Row, Summary

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


def _signed(value: float, text: str) -> str:
    return ("+" if value > 0 else "\N{MINUS SIGN}" if value < 0 else "±") + text


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + ("es" if noun.endswith("ch") else "s")


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
    chart = charts.ops_chart(row.name, ranking) if ranking.ops else ""
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
        f"{charts.size_bars(model, rows)}</figure><figure><figcaption>Accuracy against size"
        f"</figcaption>{charts.accuracy_chart(model, rows)}</figure>"
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


def html(summary: Summary, shadow: str = "") -> str:
    """The whole page: totals, breaches, one section per model, the fleet's ops, then the
    last shadow build's section when there is one (``rules.summary.shadow.section``)."""
    rows = sorted(summary.variants, key=lambda r: (r.model, r.variant))
    models = [(m, list(group)) for m, group in groupby(rows, key=lambda r: r.model)]
    links = "".join(f'<a href="#model-{escape(m)}">{escape(m)}</a>' for m, _ in models)
    sections = "\n".join(_model_section(m, g, summary.baseline is not None) for m, g in models)
    fleet_link = '<a href="#fleet">runtime and ops</a>' if summary.ops.variants else ""
    shadow_link = '<a href="#shadow">shadow build</a>' if shadow else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>TFLite models: summary</title><style>{_CSS}</style></head>\n<body>"
        f"{_header(summary)}{_breaches(rows)}<nav>Models: {links}{fleet_link}{shadow_link}</nav>\n"
        f"{sections}\n{_fleet(summary)}\n{shadow}\n</body></html>\n"
    )
