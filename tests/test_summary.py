"""The project summary, from report files: data and the Markdown table (pure, no TF)."""

from __future__ import annotations

import json
from pathlib import Path

from rules.summary import collect, markdown


def _report(root: Path, model: str, variant: str, size: int, passed: list[bool | None]) -> Path:
    path = root / model / f"{variant}.report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "model": model,
        "variant": variant,
        "size": {"size": size, "parameters": 1000, "select_tf_ops": 0,
                 **({"vs_float32": round(size / 4000, 4)} if variant != "float32" else {})},
        "budgets": [{"budget": "max_size", "limit": 3000, "measured": size, "passed": p} for p in passed],
    }  # fmt: skip
    path.write_text(json.dumps(report))
    return path


def test_summary_table(tmp_path: Path) -> None:
    reports = [
        _report(tmp_path, "b", "int8", 1200, [True, None]),
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
    assert markdown(summary).splitlines()[4:7] == [
        "| a | float32 | 2,500 B | — | 1,000 | — |",
        "| b | float32 | 4,000 B | — | 1,000 | ❌ 1 over |",
        "| b | int8 | 1,200 B | 0.30x | 1,000 | ✅ 1, 1 not measured |",
    ]
    assert "3 variants, 7,700 bytes in all." in markdown(summary)
    assert markdown(summary) == markdown(collect(reports))  # deterministic
