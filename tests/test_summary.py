"""The project summary, from report files: data, baseline deltas and the Markdown table (no TF)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rules.summary import collect, compare, markdown


def _report(
    root: Path,
    model: str,
    variant: str,
    size: int,
    passed: list[bool | None],
    accuracy: float | None = None,
    growth: float | None = None,
) -> Path:
    path = root / model / f"{variant}.report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    budgets: list[dict[str, Any]] = [
        {
            "budget": "max_size",
            "limit": 3000,
            "measured": size,
            "passed": p,
            **({"sentence": f"{model}/{variant}: over budget: max_size"} if p is False else {}),
        }
        for p in passed
    ]
    if growth is not None:
        budgets.append(
            {"budget": "max_size_growth", "limit": growth, "measured": None, "passed": None}
        )
    report = {
        "model": model,
        "variant": variant,
        "size": {"size": size, "parameters": 1000, "select_tf_ops": 0,
                 **({"vs_float32": round(size / 4000, 4)} if variant != "float32" else {})},
        "latency": {"median_ms": 0.5},
        "accuracy": {} if accuracy is None else {
            "accuracy": accuracy, "reference_accuracy": 0.9, "accuracy_drop": 0.9 - accuracy,
            "output": {"top1_agreement": 0.97, "snr_db": "inf"}, "max_abs_error": 0.01},
        "budgets": budgets,
    }  # fmt: skip
    path.write_text(json.dumps(report))
    return path


def test_summary_table(tmp_path: Path) -> None:
    reports = [
        _report(tmp_path, "b", "int8", 1200, [True, None], accuracy=0.875),
        _report(tmp_path, "b", "float32", 4000, [False]),
        _report(tmp_path, "a", "float32", 2500, []),
        tmp_path / "gone" / "x.report.json",
    ]
    summary = collect(reports)
    assert [(r["model"], r["variant"]) for r in summary["variants"]] == [
        ("a", "float32"),
        ("b", "float32"),
        ("b", "int8"),
    ]
    assert summary["total_bytes"] == 7700 and summary["missing_reports"] == ["x.report.json"]
    int8 = summary["variants"][2]
    assert (int8["accuracy"], int8["top1_agreement"], int8["snr_db"]) == (0.875, 0.97, "inf")
    assert markdown(summary).splitlines()[4:7] == [
        "| a | float32 | 2,500 B | — | 1,000 | — | — |",
        "| b | float32 | 4,000 B | — | 1,000 | — | ❌ 1 over |",
        "| b | int8 | 1,200 B | 0.30x | 1,000 | 0.8750 | ✅ 1, 1 not measured |",
    ]
    assert "3 variants, 7,700 bytes in all." in markdown(summary)
    assert "- b/float32: over budget: max_size" in markdown(summary)
    assert markdown(summary) == markdown(collect(reports))  # deterministic


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
    breaches = compare(now, before, "cache:main")

    # Computed here: 1000 -> 1050 bytes is +5.00%, over a +2% limit; 4000 -> 4000 passes.
    assert breaches == [
        "m/int8: over budget: max_size_growth is +2.00%, measured +5.00% "
        "(1,000 -> 1,050 bytes against the baseline cache:main)"
    ]
    rows = {r["variant"]: r for r in now["variants"]}
    assert rows["int8"]["baseline"] == {
        "size": 1000,
        "size_delta": 50,
        "size_growth": 0.05,
        "accuracy": 0.9,
        "accuracy_delta": -0.025,
    }
    assert rows["float32"]["baseline"]["size_delta"] == 0 and rows["float32"]["budgets_passed"] == 1
    assert rows["int8"]["budgets_failed"] == 1 and rows["fresh"]["baseline"] is None
    assert now["baseline"] == {
        "source": "cache:main",
        "total_bytes": 5500,
        "total_delta": 5750 - 5500,
        "added": ["m/fresh"],
        "removed": ["m/gone"],
    }
    table = markdown(now)
    assert (
        "| m | int8 | 1,050 B | 0.26x | 1,000 | 0.8750 (-0.0250) | ❌ 1 over | +50 B (+5.00%) |"
        in table
    )
    assert (
        "Against the baseline (cache:main): +250 bytes; added: m/fresh; removed: m/gone." in table
    )


def test_summary_says_where_each_latency_came_from(tmp_path: Path) -> None:
    here = {"cpu": "CPU A", "cores": 2, "runtime": "ai-edge-litert 2.3.0"}
    there = {"cpu": "CPU B", "cores": 8, "runtime": "ai-edge-litert 2.3.0"}
    paths = [
        _report(tmp_path, "m", "float32", 4000, []),
        _report(tmp_path, "m", "int8", 1000, []),
    ]
    for path, host, this in ((paths[0], here, True), (paths[1], there, False)):
        data = json.loads(path.read_text())
        data["latency"] = {"median_ms": 0.5, "host": host, "this_host": this}
        path.write_text(json.dumps(data))
    summary = collect(paths)
    rows = {r["variant"]: r for r in summary["variants"]}
    assert rows["int8"]["latency_host"] == there and rows["int8"]["latency_this_host"] is False
    text = markdown(summary)
    assert "Latency measured here: CPU A, 2 cores, ai-edge-litert 2.3.0." in text
    assert "Latency measured on another host: CPU B, 8 cores, ai-edge-litert 2.3.0." in text
    assert "Latency from another host (no latency budget): m/int8." in text


def test_tiny_latencies_read_in_microseconds() -> None:
    from rules.report import duration

    assert [duration(ms) for ms in (0.0041, 0.041, 0.0999, 0.1, 0.42, 12.5)] == [
        "4 µs",
        "41 µs",
        "100 µs",
        "0.10 ms",
        "0.42 ms",
        "12.50 ms",
    ]
