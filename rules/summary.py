"""The project summary: every variant's report in one table, as data (JSON) and as Markdown.

``summary.md`` is meant to be pasted as a pull-request comment. Deterministic:
sorted by model and variant, fixed number formats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUMMARY_FORMAT = 1


def collect(reports: list[Path]) -> dict[str, Any]:
    """The summary's data from report files (missing ones are listed, not fatal)."""
    rows = []
    missing = []
    for path in sorted(reports):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            missing.append(path.name)
            continue
        size = report["size"]
        checks = report.get("budgets", [])
        rows.append(
            {
                "model": report["model"],
                "variant": report["variant"],
                "size": size["size"],
                "vs_float32": size.get("vs_float32"),
                "parameters": size["parameters"],
                "select_tf_ops": size["select_tf_ops"],
                "budgets_passed": sum(1 for c in checks if c["passed"] is True),
                "budgets_failed": sum(1 for c in checks if c["passed"] is False),
                "budgets_unmeasured": sum(1 for c in checks if c["passed"] is None),
            }
        )
    rows.sort(key=lambda r: (r["model"], r["variant"]))
    return {
        "format": SUMMARY_FORMAT,
        "variants": rows,
        "total_bytes": sum(r["size"] for r in rows),
        "missing_reports": missing,
    }


def _budgets(row: dict[str, Any]) -> str:
    parts = []
    if row["budgets_failed"]:
        parts.append(f"❌ {row['budgets_failed']} over")
    if row["budgets_passed"]:
        parts.append(f"✅ {row['budgets_passed']}")
    if row["budgets_unmeasured"]:
        parts.append(f"{row['budgets_unmeasured']} not measured")
    return ", ".join(parts) or "—"


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        "## TFLite models",
        "",
        "| model | variant | size | vs float32 | parameters | budgets |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for row in summary["variants"]:
        ratio = f"{row['vs_float32']:.2f}x" if row["vs_float32"] is not None else "—"
        flex = " (Select TF ops)" if row["select_tf_ops"] else ""
        lines.append(
            f"| {row['model']} | {row['variant']}{flex} | {row['size']:,} B | {ratio} | "
            f"{row['parameters']:,} | {_budgets(row)} |"
        )
    lines += ["", f"{len(summary['variants'])} variants, {summary['total_bytes']:,} bytes in all."]
    if summary["missing_reports"]:
        lines.append(f"Missing or unreadable reports: {', '.join(summary['missing_reports'])}.")
    return "\n".join(lines) + "\n"
