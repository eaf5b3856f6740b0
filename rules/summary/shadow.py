"""A shadow build's summary for people: ``build/shadow/summary.md``, and the section of
``summary.html`` that shows the last one (``rules.actions.shadow`` writes its data).

Each cell's text comes from one function here, so the two cannot disagree.
"""

from __future__ import annotations

from html import escape
from typing import Any

COLUMNS = (
    "variant",
    "status",
    "size",
    "ops added",
    "ops removed",
    "op versions",
    "runtime",
    "outputs",
)


def toolchain_lines(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, today, shadow) per kind shadowed: each toolchain by its versions."""
    lines = []
    for kind, both in document["toolchains"].items():
        shadow = both["shadow"]
        given = (
            f"python {shadow['python']}"
            if "python" in shadow
            else "requirements " + " ".join(shadow["requirements"])
        )
        found = (
            named(shadow["versions"])
            if "versions" in shadow
            else f"cannot be made: {condensed(shadow['error'])}"
        )
        lines.append((kind, named(both["today"]), f"{found} ({given})"))
    return lines


def cells(row: dict[str, Any]) -> list[str]:
    """One variant's cells, in ``COLUMNS``' order (a variant not compared: two)."""
    if "size" not in row:
        why = row.get("today_error") or row.get("shadow_error") or row.get("why", "")
        return [row["variant"], f"{row['status']}: {condensed(why)}"]
    size = row["size"]
    versions = "; ".join(
        f"{op} {'/'.join(map(str, v['today']))} -> {'/'.join(map(str, v['shadow']))}"
        for op, v in row["op_versions_changed"].items()
    )
    runtime = row["runtime"]
    return [
        row["variant"],
        row["status"],
        f"{size['today']:,} -> {size['shadow']:,} ({size['change']:+,})",
        ", ".join(row["ops_added"]),
        ", ".join(row["ops_removed"]),
        versions,
        f"{runtime['today']} -> {runtime['shadow']}",
        _outputs_cell(row.get("outputs")),
    ]


def markdown(document: dict[str, Any]) -> str:
    """The summary for people: the toolchains compared, then a row per variant."""
    lines = ["# Shadow build", "", "| toolchain | today | shadow |", "| --- | --- | --- |"]
    lines += [
        f"| {kind} | {today} | {shadow} |" for kind, today, shadow in toolchain_lines(document)
    ]
    lines += [
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "| --- | --- | ---: | --- | --- | --- | --- | --- |",
    ]
    for row in document["variants"]:
        found = cells(row)
        found += [""] * (len(COLUMNS) - len(found))
        lines.append("| " + " | ".join(found) + " |")
    return "\n".join(lines) + "\n"


def section(document: dict[str, Any], changed_since: set[str]) -> str:
    """``summary.html``'s section: the last shadow build (``changed_since``: the variants
    whose artifact today is no longer the one that shadow build compared)."""
    tools = "".join(
        f"<tr><td>{escape(kind)}</td><td>{escape(today)}</td><td>{escape(shadow)}</td></tr>"
        for kind, today, shadow in toolchain_lines(document)
    )
    rows = []
    for row in document["variants"]:
        found = cells(row)
        status = row["status"]
        klass = "bad" if status in ("fails under the shadow", "worse under the shadow") else ""
        if row["variant"] in changed_since:
            found[1] += " (today's artifact has changed since: run doit shadow again)"
        tds = [f"<td>{escape(text)}</td>" for text in found[:1]]
        tds.append(
            f'<td class="{klass}">{escape(found[1])}</td>'
            if len(found) > 2
            else f'<td class="{klass or "muted"}" colspan="{len(COLUMNS) - 1}">{escape(found[1])}</td>'
        )
        tds += [
            f'<td class="num">{escape(text)}</td>' if i == 2 else f"<td>{escape(text)}</td>"
            for i, text in enumerate(found[2:], start=2)
        ]
        rows.append(f"<tr>{''.join(tds)}</tr>")
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    return (
        '<section class="shadow" id="shadow"><h2>Shadow build</h2>'
        '<p class="muted">What the shadow toolchain changes in each artifact (the last '
        "<code>doit shadow</code>; build/shadow/summary.md).</p>"
        '<table class="variants"><thead><tr><th>toolchain</th><th>today</th><th>shadow</th>'
        f"</tr></thead><tbody>{tools}</tbody></table>"
        f'<table class="variants"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></section>"
    )


def _outputs_cell(found: dict[str, Any] | None) -> str:
    if found is None:
        return "the same bytes"
    if "skipped" in found:
        return f"not compared: {found['skipped']}"
    words = [f"max difference {found['max_abs_difference']:.3g}"]
    if found.get("top1_agreement") is not None:
        words.append(f"top-1 agreement {found['top1_agreement']:.4f}")
    if "accuracy" in found:
        accuracy = found["accuracy"]
        words.append(f"accuracy {accuracy['today']:.4f} -> {accuracy['shadow']:.4f}")
    return ", ".join(words)


def named(found: dict[str, str]) -> str:
    return ", ".join(f"{name} {version or 'missing'}" for name, version in found.items())


def condensed(text: str, limit: int = 300) -> str:
    """An error on one line (a table cell), its lines joined, cut at ``limit`` characters."""
    line = " ".join(part.strip() for part in text.strip().splitlines() if part.strip())
    line = line.replace("|", "/")  # a Markdown cell ends at a bar
    return line if len(line) <= limit else line[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"
