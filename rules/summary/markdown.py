"""``summary.md``: the project summary as Markdown, to be pasted as a pull-request comment.

One table row per variant (``rules.summary.model.Row``), then the totals and the
change against the baseline, the fleet's runtime and ops, where the latency
figures come from, each integer variant's worst layers and the budget breaches.
Fixed number formats, so the same summary gives the same bytes.
"""

from __future__ import annotations

from rules.summary import cells
from rules.summary.model import Row, Summary
from rules.summary.ranking import ROUNDING_STEPS, steps


def markdown(summary: Summary) -> str:
    """The text of ``summary.md``."""
    baseline = summary.baseline
    head = "| model | variant | size | vs float32 | parameters | accuracy | runtime | budgets |"
    rule = "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"
    if baseline:
        head, rule = head + " vs baseline |", rule + " ---: |"
    lines = ["## TFLite models", "", head, rule]
    for row in summary.variants:
        flex = " (Select TF ops)" if row.select_tf_ops else ""
        texts = [row.model, row.variant + flex, cells.size(row), cells.vs_float32(row)]
        texts += [cells.parameters(row), cells.accuracy(row), cells.runtime(row)]
        texts += [cells.budgets(row)] + ([cells.size_delta(row)] if baseline else [])
        lines.append(f"| {' | '.join(texts)} |")
    lines += ["", f"{len(summary.variants)} variants, {summary.total_bytes:,} bytes in all."]
    if baseline:
        lines.append(
            f"Against the baseline ({baseline.source}): {baseline.total_delta:+,} bytes"
            + "".join(
                f"; {word}: {', '.join(names)}"
                for word, names in (("added", baseline.added), ("removed", baseline.removed))
                if names
            )
            + "."
        )
    lines += _device_lines(summary)
    lines += _latency_lines(summary.variants)
    lines += _layer_lines(summary.variants)
    breaches = [sentence for row in summary.variants for sentence in row.breaches]
    if breaches:
        lines += ["", "**Over budget:**", *(f"- {sentence}" for sentence in breaches)]
    if summary.missing_reports:
        lines.append(f"Missing or unreadable reports: {', '.join(summary.missing_reports)}.")
    return "\n".join(lines) + "\n"


def _device_lines(summary: Summary) -> list[str]:
    """The fleet's runtime and ops, what the change adds to them, and the GPU delegate's refusals."""
    fleet = summary.ops
    if not fleet.variants:
        return []
    ops = fleet.ops()
    builtin = [op for op in ops if ":" not in op]
    others = [op for op in ops if ":" in op]
    lines = [
        "",
        f"**Runtime and ops:** {fleet.runtime_sentence()}; {len(builtin)} builtin ops"
        + (f", and {', '.join(others)}" if others else "")
        + ".",
    ]
    baseline = summary.baseline
    if baseline is not None and baseline.ops_added is not None:
        added = "; ".join(baseline.ops_added) if baseline.ops_added else "nothing new"
        lines.append(f"Ops against the baseline: {added}.")
    refused = [
        f"{row.name} ({', '.join(f'{op} x{n}' for op, n in row.gpu_rejected.items())})"
        for row in summary.variants
        if row.gpu_rejected
    ]
    if refused:
        lines.append(f"Ops the GPU delegate cannot take: {'; '.join(refused)}.")
    return lines


def _latency_lines(rows: tuple[Row, ...]) -> list[str]:
    """Where the latency figures come from: each host once, and the variants measured elsewhere."""
    hosts = {
        (h.cpu, h.cores, h.runtime): row.latency_this_host
        for row in rows
        if (h := row.latency_host)
    }
    lines = [
        f"Latency {'measured here' if here else 'measured on another host'}: {cpu}, "
        f"{cores} cores, {runtime}."
        for (cpu, cores, runtime), here in sorted(hosts.items())
    ]
    elsewhere = [r.name for r in rows if r.latency_this_host is False]
    if elsewhere:
        lines.append(f"Latency from another host (no latency budget): {', '.join(elsewhere)}.")
    return lines


def _layer_lines(rows: tuple[Row, ...]) -> list[str]:
    """Each integer variant's three worst layers, and the layers it keeps in float."""
    lines = []
    for row in rows:
        ranking = row.layers
        if ranking is None or not (ranking.ops or ranking.kept_float):
            continue
        parts = []
        if ranking.ops:
            parts.append(", ".join(f"{name} ({steps(v)} steps)" for name, v in ranking.worst()))
        if ranking.kept_float:
            parts.append(f"kept in float: {', '.join(ranking.kept_float)}")
        lines.append(f"- {row.name}: {'; '.join(parts)}")
    if not lines:
        return []
    head = (
        f"**Worst int8 layers** (RMSE against float, in output quantization steps; "
        f"about {ROUNDING_STEPS:.2f} is rounding alone):"
    )
    return ["", head, *lines]
