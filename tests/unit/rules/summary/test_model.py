"""The project summary, from report files: data, baseline deltas and the Markdown table (no TF)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from rules.manifest.budgets import BY_NAME, SIZE_GROWTH
from rules.report.sections import Host, LayersSection, OpError
from rules.report.variant import Check
from rules.summary.markdown import markdown
from rules.summary.model import Baseline, Summary, collect, compare, no_baseline
from rules.summary.ranking import RANKED_OPS, RankedOp
from tests.support.reports import accuracy_section, latency_section, report


def _report(
    root: Path,
    model: str,
    variant: str,
    size: int,
    passed: list[bool | None],
    accuracy: float | None = None,
    growth: float | None = None,
    host: Host | None = None,
    this_host: bool = True,
) -> Path:
    """A report file; ``passed`` are max_size checks (limit 3,000 bytes) that passed, failed or
    were not measured, ``growth`` a size growth limit (the summary's to check)."""
    path = root / model / f"{variant}.report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    max_size = BY_NAME["max_size"]
    checks = [
        Check.of(f"{model}/{variant}", max_size, 3000, None if p is None else size, "why")
        for p in passed
    ]
    assert [c.passed for c in checks] == passed  # the sizes are chosen to pass or fail
    if growth is not None:
        checks.append(Check(SIZE_GROWTH.name, growth, None, None))
    made = report(
        model,
        variant,
        size,
        tuple(checks),
        accuracy=None if accuracy is None else accuracy_section(accuracy),
        latency=latency_section(host=host, this_host=this_host) if host else None,
        vs_float32=round(size / 4000, 4) if variant != "float32" else None,
    )
    path.write_text(made.to_json())
    return path


def test_summary_table(tmp_path: Path) -> None:
    reports = [
        _report(tmp_path, "b", "int8", 1200, [True, None], accuracy=0.875),
        _report(tmp_path, "b", "float32", 4000, [False]),
        _report(tmp_path, "a", "float32", 2500, []),
        tmp_path / "gone" / "x.report.json",
        tmp_path / "b" / "odd.report.json",
    ]
    reports[-1].write_text('{"model": "b", "size": "tampered"}')
    summary = collect(reports)
    assert [(r.model, r.variant) for r in summary.variants] == [
        ("a", "float32"),
        ("b", "float32"),
        ("b", "int8"),
    ]
    assert summary.total_bytes == 7700
    assert summary.missing_reports == ("b/odd", "gone/x")
    int8 = summary.variants[2]
    assert (int8.accuracy, int8.top1_agreement, int8.snr_db) == (0.875, 0.97, "inf")
    assert markdown(summary).splitlines()[4:7] == [
        "| a | float32 | 2,500 B | — | 1,000 | — | 1.14 (FULLY_CONNECTED v4) | — |",
        "| b | float32 | 4,000 B | — | 1,000 | — | 1.14 (FULLY_CONNECTED v4) | ❌ 1 over |",
        "| b | int8 | 1,200 B | 0.30x | 1,000 | 0.8750 | 1.14 (FULLY_CONNECTED v4) "
        "| ✅ 1, 1 not measured |",
    ]
    assert "3 variants, 7,700 bytes in all." in markdown(summary)
    assert "- b/float32: over budget: max_size is 3,000 bytes, measured 4,000 bytes" in markdown(
        summary
    )
    assert markdown(summary) == markdown(collect(reports))  # deterministic
    assert Summary.from_dict(json.loads(summary.to_json())) == summary


def test_baseline_deltas_and_growth_budget(tmp_path: Path) -> None:
    before = collect(
        [
            _report(tmp_path / "old", "m", "float32", 4000, []),
            _report(tmp_path / "old", "m", "int8", 1000, [], accuracy=0.9),
            _report(tmp_path / "old", "m", "gone", 500, []),
        ]
    )
    now = collect(
        [
            _report(tmp_path / "new", "m", "float32", 4000, [], growth=0.02),
            _report(tmp_path / "new", "m", "int8", 1050, [], accuracy=0.875, growth=0.02),
            _report(tmp_path / "new", "m", "fresh", 700, []),
        ]
    )
    now, breaches = compare(now, Baseline.from_json(before.to_json()), "cache:main")

    # Computed here: 1000 -> 1050 bytes is +5.00%, over a +2% limit; 4000 -> 4000 passes.
    assert breaches == [
        "m/int8: over budget: max_size_growth is +2.00%, measured +5.00% "
        "(1,000 -> 1,050 bytes against the baseline cache:main)"
    ]
    rows = {r.variant: r.to_dict() for r in now.variants}
    assert rows["int8"]["baseline"] == {
        "size": 1000,
        "size_delta": 50,
        "size_growth": 0.05,
        "accuracy": 0.9,
        "accuracy_delta": -0.025,
    }
    assert rows["float32"]["baseline"]["size_delta"] == 0 and rows["float32"]["budgets_passed"] == 1
    assert rows["int8"]["budgets_failed"] == 1 and rows["fresh"]["baseline"] is None
    assert rows["int8"]["breaches"] == breaches
    assert now.to_dict()["baseline"] == {
        "source": "cache:main",
        "total_bytes": 5500,
        "total_delta": 5750 - 5500,
        "added": ["m/fresh"],
        "removed": ["m/gone"],
        "ops_added": [],  # the same ops as the baseline's
    }
    table = markdown(now)
    assert (
        "| m | int8 | 1,050 B | 0.26x | 1,000 | 0.8750 (-0.0250) | 1.14 (FULLY_CONNECTED v4) "
        "| ❌ 1 over | +50 B (+5.00%) |" in table
    )
    assert (
        "Against the baseline (cache:main): +250 bytes; added: m/fresh; removed: m/gone." in table
    )


def test_growth_budgets_without_a_baseline_are_not_measured(tmp_path: Path) -> None:
    summary = collect(
        [
            _report(tmp_path, "m", "float32", 2000, [True], growth=0.02),
            _report(tmp_path, "m", "int8", 1000, [True]),
        ]
    )
    counts = [(r.budgets_passed, r.budgets_unmeasured) for r in summary.variants]
    assert counts == [(1, 0), (1, 0)]  # the report does not count what the summary checks
    assert summary.variants[0].size_growth_limit == 0.02
    alone = no_baseline(summary)
    assert [(r.budgets_passed, r.budgets_unmeasured) for r in alone.variants] == [(1, 1), (1, 0)]
    assert (
        "| m | float32 | 2,000 B | — | 1,000 | — | 1.14 (FULLY_CONNECTED v4) | ✅ 1, 1 not measured |"
        in markdown(alone)
    )
    # A baseline without the variant: its growth is not measured either.
    empty = Baseline.from_json('{"variants": [], "total_bytes": 0}')
    compared, breaches = compare(summary, empty, "base.json")
    assert breaches == [] and compared.variants[0].budgets_unmeasured == 1
    assert compared.baseline is not None and compared.baseline.added == ("m/float32", "m/int8")


def test_a_baseline_is_read_leniently_but_must_be_a_summary() -> None:
    older = {"variants": [{"model": "m", "variant": "int8", "size": 1000}], "format": 1}
    baseline = Baseline.from_json(json.dumps(older))
    assert baseline.total_bytes == 0 and baseline.variants[("m", "int8")].accuracy is None
    for text in ("[]", '{"variants": {}}', '{"variants": [{"model": "m"}]}', "{", '"x"'):
        with pytest.raises(ValueError, match=r"^not a summary "):
            Baseline.from_json(text)


def test_summary_says_where_each_latency_came_from(tmp_path: Path) -> None:
    here = Host("CPU A", 2, "ai-edge-litert 2.3.0")
    there = Host("CPU B", 8, "ai-edge-litert 2.3.0")
    paths = [
        _report(tmp_path, "m", "float32", 4000, [], host=here),
        _report(tmp_path, "m", "int8", 1000, [], host=there, this_host=False),
    ]
    summary = collect(paths)
    rows = {r.variant: r for r in summary.variants}
    assert rows["int8"].latency_host == there and rows["int8"].latency_this_host is False
    assert rows["int8"].to_dict()["latency_host"] == {
        "cpu": "CPU B",
        "cores": 8,
        "runtime": "ai-edge-litert 2.3.0",
    }
    text = markdown(summary)
    assert "Latency measured here: CPU A, 2 cores, ai-edge-litert 2.3.0." in text
    assert "Latency measured on another host: CPU B, 8 cores, ai-edge-litert 2.3.0." in text
    assert "Latency from another host (no latency budget): m/int8." in text


def test_tiny_latencies_read_in_microseconds() -> None:
    from rules.report.variant import duration

    assert [duration(ms) for ms in (0.0041, 0.041, 0.0999, 0.1, 0.42, 12.5)] == [
        "4 µs",
        "41 µs",
        "100 µs",
        "0.10 ms",
        "0.42 ms",
        "12.50 ms",
    ]


def _layers_report(root: Path, variant: str, layers: LayersSection) -> Path:
    path = root / "m" / f"{variant}.report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace(report("m", variant, 1000), layers=layers).to_json())
    return path


def _op(layer: str, rmse_scale: float, op: str = "FULLY_CONNECTED") -> OpError:
    return OpError(layer, op, f"{layer}/{op.lower()}", rmse_scale, rmse_scale * 0.01, 0.01)


def test_rows_keep_the_worst_ops_and_the_kept_layers(tmp_path: Path) -> None:
    # 15 ops, worst first as a report ranks them: an op with no quantization step (an
    # infinite error), then "dense" twice (its worst op ranks it), then 12 more.
    ops = [_op("head", math.inf), _op("dense", 61.25), _op("dense", 2.5, "RELU")]
    ops += [_op(f"block_{i}", round(1.0 - i * 0.05, 4)) for i in range(12)]
    int8 = LayersSection(
        data="test.npz, 30 samples", kept_float=("stem", "features"), ops=tuple(ops)
    )
    paths = [
        _layers_report(tmp_path, "int8", int8),
        _layers_report(tmp_path, "int16x8", LayersSection(skipped="int16x8 is not int8")),
        _report(tmp_path, "m", "float32", 4000, []),
    ]
    summary = collect(paths)
    rows = {r.variant: r for r in summary.variants}
    assert rows["float32"].layers is None and rows["int16x8"].layers is None
    ranking = rows["int8"].layers
    assert ranking is not None and len(ranking.ops) == RANKED_OPS < len(ops)
    assert ranking.measured == len(ops) and ranking.kept_float == ("stem", "features")
    assert [op.layer for op in ranking.ops] == [op.layer for op in ops[:RANKED_OPS]]
    assert ranking.ops[1] == RankedOp("dense", "FULLY_CONNECTED", 61.25, 0.6125)
    assert ranking.ops[0].rmse_scale == "inf"  # as the report's other metrics keep infinity
    assert ranking.worst() == [("head", "inf"), ("dense", 61.25), ("block_0", 1.0)]

    text = summary.to_json()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert Summary.from_dict(json.loads(text)) == summary
    assert json.loads(text)["variants"][2]["layers"]["kept_float"] == ["stem", "features"]
    lines = markdown(summary).splitlines()
    at = lines.index(
        "**Worst int8 layers** (RMSE against float, in output quantization steps; "
        "about 0.29 is rounding alone):"
    )
    assert lines[at + 1 :] == [
        "- m/int8: head (∞ steps), dense (61 steps), block_0 (1.0 steps); "
        "kept in float: stem, features"
    ]


def test_the_layers_line_without_kept_layers_and_without_rankings(tmp_path: Path) -> None:
    ops = (_op("conv", 0.412, "CONV_2D"), _op("logits", 0.3))
    summary = collect([_layers_report(tmp_path, "int8", LayersSection(data="x", ops=ops))])
    assert markdown(summary).splitlines()[-1] == "- m/int8: conv (0.41 steps), logits (0.30 steps)"
    none = collect([_report(tmp_path, "m", "float32", 4000, [])])
    assert "int8 layers" not in markdown(none) and none.variants[0].to_dict()["layers"] is None


def test_an_older_summary_without_rankings_still_reads(tmp_path: Path) -> None:
    ops = (_op("conv", 0.5, "CONV_2D"),)
    summary = collect([_layers_report(tmp_path, "int8", LayersSection(data="x", ops=ops))])
    older = json.loads(summary.to_json())
    del older["variants"][0]["layers"]
    older["format"] = 3
    read = Summary.from_dict(older)
    assert read.variants[0].layers is None and read.format == 3
    assert read == replace(summary, variants=(replace(summary.variants[0], layers=None),), format=3)


def test_odd_reports_are_rows_like_any_other(tmp_path: Path) -> None:
    """Several signatures (the primary's figures), no float32 to compare with, Select TF ops."""
    from rules.report.sections import AccuracySection, LatencySection
    from rules.summary.html import html
    from tests.support.reports import HOST

    two = AccuracySection.per_signature(
        {"embed": accuracy_section(0.8), "predict": accuracy_section(0.9)}
    )
    why = "it uses Select TF ops (FLEX:StringLength), which run only where the Flex delegate is"
    made = [
        report("two", "float32", 2000, accuracy=two),
        replace(
            report("seq", "flex", 3000, accuracy=AccuracySection(skipped=why)),
            latency=LatencySection(HOST, error=why, this_host=True),
        ),
    ]
    made[1] = replace(made[1], size=replace(made[1].size, vs_float32_skipped="no float32"))
    paths = []
    for data in made:
        path = tmp_path / data.model / f"{data.variant}.report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data.to_json())
        paths.append(path)
    summary = collect(paths)
    rows = {row.name: row for row in summary.variants}
    assert rows["two/float32"].accuracy == 0.8  # the primary signature's
    assert rows["seq/flex"].vs_float32 is None and not rows["seq/flex"].runnable
    assert "| two | float32 |" in markdown(summary) and "seq" in html(summary)
