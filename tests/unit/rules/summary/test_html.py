"""The HTML summary page's markup: self-contained, escaped, its charts proportional (no browser)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser

import pytest

from rules.fleet.inventory import Fleet, VariantOps
from rules.summary.html import html
from rules.summary.markdown import markdown
from rules.summary.model import Comparison, Delta, Summary
from rules.summary.ranking import ROUNDING_STEPS, RankedOp, Ranking
from tests.support.summaries import BREACH, RANKING, sizes_by_model, summary_row, two_models


class _Elements(HTMLParser):
    """Every start tag with its attributes (names lowercased), the model section and svg it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.svg: str | None = None
        self.found: list[tuple[str | None, str | None, str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "section" and named.get("class") == "model":
            self.section = named["id"]
        if tag == "svg":
            self.svg = named.get("class")
        self.found.append((self.section, self.svg, tag, named))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None
        if tag == "svg":
            self.svg = None


def _elements(page: str) -> list[tuple[str | None, str | None, str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    return parser.found


def test_deterministic_and_self_contained() -> None:
    page = html(two_models())
    shuffled = replace(two_models(), variants=two_models().variants[::-1])
    assert page == html(two_models()) == html(shuffled)
    assert html(Summary.from_dict(json.loads(two_models().to_json()))) == page  # as read back
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page and "url(" not in page
    assert "@import" not in page and "<script" not in page
    links = re.findall(r"\b(?:src|href)\s*=\s*[\"']?([^\"'\s>]*)", page)
    assert links and all(link.startswith("#") for link in links)  # only in-page anchors


def test_header_breaches_and_table() -> None:
    page = html(two_models())
    assert "<strong>4</strong> variants" in page and "114,092 B</strong> in all" in page
    assert '<strong class="bad">1</strong> budget breach<' in page
    assert "<code>cache: main</code>" in page and "+31,604 B (+38.3%)" in page
    assert "Added: flex/select." in page and "Removed: digits/float16." in page
    breaches = page.index('<section class="breaches">')
    assert breaches < page.index('<section class="model"') and page.index(BREACH) > breaches
    assert (
        '<span class="grew">+216 B (+2.09%)</span>' in page
        and '<span class="shrank">-512 B (-4.36%)</span>' in page
        and '<span class="muted">0 B</span>' in page
    )
    assert "2 Select TF ops" in page and "not runnable" in page and "∞" in page


def _text(cell: str) -> str:
    """What a table cell reads: its markup dropped, its entities decoded."""
    return unescape(re.sub(r"<[^>]+>", "", cell))


def _page_rows(page: str) -> dict[str, dict[str, str]]:
    """The first variants table's rows by variant, each cell's text by its column's header."""
    table = re.search(r'<table class="variants">(.*?)</table>', page)
    assert table
    heads = [_text(cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", table[1])]
    rows = [
        re.findall(r"<td[^>]*>(.*?)</td>", tr)
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", table[1])
    ]
    return {_text(tr[0]): dict(zip(heads, map(_text, tr), strict=True)) for tr in rows if tr}


def _markdown_rows(text: str) -> dict[str, dict[str, str]]:
    """summary.md's table rows by variant, each cell's text by its column's header."""
    head, _, *rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]
    return {row[1]: dict(zip(head, row, strict=True)) for row in rows}


def test_the_page_and_summary_md_read_the_same_in_their_common_cells() -> None:
    """Both renderings take each cell's text from rules.summary.cells: figure for figure alike."""
    int8 = summary_row(
        "digits", "int8", 10_552, vs_float32=0.2638, accuracy=0.933, accuracy_drop=0.029,
        top1_agreement=0.96, budgets_passed=2, budgets_failed=1, budgets_unmeasured=1,
        breaches=(BREACH,), runtime="2.17.0", runtime_because="FULLY_CONNECTED v12",
        baseline=Delta(10_336, 216, 0.0209, 0.94, -0.007),
    )  # fmt: skip
    unlabelled = summary_row("digits", "dynamic", 11_240, top1_agreement=0.9912)  # new: no baseline
    summary = Summary(
        (unlabelled, int8), 21_792, (), Comparison("main", 10_336, 11_456, ("digits/dynamic",), ())
    )
    page, text = _page_rows(html(summary)), _markdown_rows(markdown(summary))
    common = {name: name for name in ("size", "vs float32", "parameters", "accuracy", "runtime")}
    common |= {"budgets": "budgets", "vs baseline": "Δ size vs baseline"}
    for variant in ("int8", "dynamic"):
        for in_text, on_page in common.items():
            assert page[variant][on_page] == text[variant][in_text], (variant, in_text)
    assert text["int8"]["accuracy"] == "0.9330 (-0.0070)"
    assert text["int8"]["budgets"] == "❌ 1 over, ✅ 2, 1 not measured"
    assert text["int8"]["vs baseline"] == "+216 B (+2.09%)"
    # Without labels, summary.md's accuracy is the page's agreement column, to the same digit.
    assert (
        text["dynamic"]["accuracy"]
        == page["dynamic"]["top-1 agreement"] + " agree"
        == "99.12% agree"
    )


def test_bar_widths_are_proportional_to_sizes() -> None:
    elements = _elements(html(two_models()))
    assert {svg for _, svg, tag, _ in elements if tag == "rect"} == {"size-bars", "ops-chart"}
    for model, sizes in sizes_by_model(two_models()).items():
        bars = [
            a
            for s, svg, tag, a in elements
            if (s, svg, tag) == (f"model-{model}", "size-bars", "rect")
        ]
        widths = [float(a["width"] or 0) for a in bars]
        assert len(widths) == len(sizes)
        for width, size in zip(widths, sizes, strict=True):
            assert width == pytest.approx(max(widths) * size / max(sizes), abs=0.01)
    classes = [a["class"] for s, svg, tag, a in elements if s == "model-digits" and svg == "size-bars"
               and tag == "rect"]  # fmt: skip
    assert classes == ["bar", "bar", "bar breach"]  # dynamic, float32, int8 (the breach)
    markers = [a for s, _, tag, a in elements if tag == "line" and a["class"] == "baseline-marker"]
    assert len(markers) == 3  # flex/select is new: no baseline size


def test_accuracy_chart_only_with_data() -> None:
    page = html(two_models())
    elements = _elements(page)
    svgs = {(s, a["class"]) for s, _, tag, a in elements if tag == "svg"}
    assert ("model-digits", "accuracy-chart") in svgs
    assert ("model-flex", "accuracy-chart") not in svgs and ("model-flex", "size-bars") in svgs
    points = [svg for s, svg, tag, _ in elements if tag == "circle"]
    assert points == ["accuracy-chart"] * 3
    flex = page[page.index('id="model-flex"') :]
    assert '<p class="no-chart">' in flex and "top-1 accuracy" in page
    assert all("width" in a and "viewbox" in a for _, _, tag, a in elements if tag == "svg")


def test_strings_are_escaped() -> None:
    odd = [
        replace(v, model="<b>odd & co</b>", variant='say "hi"') if v.model == "flex" else v
        for v in two_models().variants
    ]
    page = html(replace(two_models(), variants=tuple(odd), missing_reports=("<i>.report.json",)))
    assert "<b>odd" not in page and "<i>" not in page and 'say "hi"' not in page
    assert "&lt;b&gt;odd &amp; co&lt;/b&gt;" in page and "say &quot;hi&quot;" in page


def _op_bars(page: str) -> list[tuple[str, float]]:
    """Each op bar's tooltip (its label first) and width, in the page's order."""
    bars = re.findall(r'<rect class="op-bar[^"]*"[^>]*width="([-\d.]+)"[^>]*><title>([^<]*)', page)
    return [(title, float(width)) for width, title in bars]


def test_ops_chart_only_for_ranked_variants() -> None:
    page = html(two_models())
    elements = _elements(page)
    charts = [(s, a["class"]) for s, _, tag, a in elements if tag == "svg"]
    assert charts.count(("model-digits", "ops-chart")) == 1
    assert all(svg != "ops-chart" for s, svg in charts if s != "model-digits")
    assert [a.get("class") for _, _, tag, a in elements if tag == "figure"].count("layers") == 1
    figure = page[page.index('<figure class="layers">') :]
    figure = figure[: figure.index("</figure>")]
    assert "int8: error by quantized op" in figure and "the 5 worst of 7 ops" in figure
    assert "(log scale)" in figure and f"rounding alone ({ROUNDING_STEPS:.2f})" in figure
    # The kept layers are listed under the chart.
    assert figure.index("</svg>") < figure.index("Kept in float: <code>stem</code>.")
    unranked = replace(
        two_models(), variants=tuple(replace(v, layers=None) for v in two_models().variants)
    )
    assert "ops-chart" not in html(unranked) and 'class="layers"' not in html(unranked)
    # Every layer kept in float: no ops to chart, only the kept ones.
    kept = summary_row("m", "int8", 1_000, layers=Ranking((), 0, ("stem", "head")))
    page = html(Summary((kept,), 1_000, ()))
    assert "ops-chart" not in page and "(no quantized op measured)" in page
    assert "Kept in float: <code>stem</code>, <code>head</code>." in page


def test_op_bars_follow_the_ranking_on_a_log_scale() -> None:
    bars = _op_bars(html(two_models()))
    labels = [f"{op.layer} ({op.op})" for op in RANKING.ops]
    assert [title.split(":")[0] for title, _ in bars] == labels  # worst on top
    widths = [width for _, width in bars]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == len(widths)
    # Log scale: the 61-step op leaves the 0.3-step ones a readable share of the axis.
    assert widths[3] > widths[0] / 4 > 0
    # The rounding marker sits between the bars on either side of it.
    marker = re.search(r'<line class="reference rounding" x1="([\d.]+)"', html(two_models()))
    start = re.search(r'<rect class="op-bar" x="([\d.]+)"', html(two_models()))
    assert marker and start
    offset = float(marker[1]) - float(start[1])
    assert widths[4] < offset < widths[3]


def test_op_bar_lengths_grow_with_the_error() -> None:
    """Out of order too, and off the scale: infinity spans the axis, not a number shows none."""
    values: list[float | str | None] = [0.5, 61.0, 0.004, 3.2, 0.29, "inf", None, 0.0]
    ops = tuple(RankedOp(f"layer_{i}", "CONV_2D", v, 0.01) for i, v in enumerate(values))
    int8 = summary_row("m", "int8", 1_000, layers=Ranking(ops, len(ops), ()))
    page = html(Summary((int8,), 1_000, ()))
    bars = _op_bars(page)
    assert [title.split(" ")[0] for title, _ in bars] == [f"layer_{i}" for i in range(len(ops))]
    widths = dict(zip(values, (width for _, width in bars), strict=True))
    finite = sorted(v for v in values if isinstance(v, float) and v >= 0.01)
    grown = [widths[v] for v in finite]
    assert grown == sorted(grown) and len(set(grown)) == len(grown) and grown[0] > 0
    assert widths[0.0] == widths[None] == widths[0.004] == 0.0  # the axis starts at 0.01 steps
    assert widths["inf"] == 300 > widths[61.0]  # infinity spans the axis, which ends at 100
    assert page.count('class="op-bar off-scale"') == 1
    assert "∞ steps RMSE" in page and "not a number steps RMSE" in page


def test_op_labels_are_escaped_and_cut() -> None:
    ops = (
        RankedOp('<img src=x onerror="a&b">', "A&B", 2.0, 0.1),
        RankedOp("model/" * 20 + "dense", "FULLY_CONNECTED", 1.0, None),
    )
    row = summary_row("m", "int8", 1_000, layers=Ranking(ops, 2, ("<kept>",)))
    page = html(Summary((row,), 1_000, ()))
    assert "<img" not in page and "<kept>" not in page
    assert "&lt;img src=x onerror=&quot;a&amp;b&quot;&gt; (A&amp;B)" in page
    assert "<code>&lt;kept&gt;</code>" in page
    shown = re.findall(r'text-anchor="end">(…[^<]*)</text>', page)
    assert shown == ["…" + ("model/" * 20 + "dense (FULLY_CONNECTED)")[-39:]]
    assert "model/" * 20 + "dense (FULLY_CONNECTED): 1.0 steps RMSE, max abs error —" in page


def test_the_fleet_section_lists_ops_users_refusals_and_what_a_change_adds() -> None:
    fleet = Fleet.of([
        VariantOps("m/int8", {"CONV_2D": (3,), "FLEX:Erf": (1,)}, "1.14.0", "CONV_2D v3"),
        VariantOps("m/dynamic", {"CONV_2D": (5,)}, "2.4.0", "CONV_2D v5"),
    ])  # fmt: skip
    refused = summary_row("m", "int8", 1_000, gpu_rejected={"FLEX:Erf": 1, "<x>": 2})
    comparison = Comparison("main", 1_000, 0, (), (), ("m/dynamic adds CONV_2D v5",))
    page = html(Summary((refused, summary_row("m", "dynamic", 900)), 1_900, (), comparison, fleet))
    section = page[page.index('<section class="fleet"') :]
    assert "The fleet needs runtime 2.4 (m/dynamic: CONV_2D v5)." in section
    assert "<td>CONV_2D</td><td>v3, v5</td><td>m/dynamic (v5), m/int8 (v3)</td>" in section
    assert "<td>FLEX:Erf</td><td>—</td><td>m/int8</td>" in section
    assert "Against the baseline: m/dynamic adds CONV_2D v5." in section
    assert (
        "<li>m/int8: FLEX:Erf \N{MULTIPLICATION SIGN}1, &lt;x&gt; \N{MULTIPLICATION SIGN}2</li>"
        in section
    )
    assert '<span class="flag bad">GPU delegate refuses 3 ops</span>' in page
    assert 'href="#fleet"' in page
    bare = html(Summary((refused,), 1_000, ()))
    assert 'id="fleet"' not in bare and "#fleet" not in bare  # no inventory, no section
