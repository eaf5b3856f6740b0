"""The project summary: every variant's report in one table, as data (JSON) and as Markdown.

``summary.md`` is meant to be pasted as a pull-request comment; ``summary.html``
(``rules.summary_html``) is the page people look at. Given a baseline (an
earlier summary), each variant gets its size and accuracy deltas, and a
``max_size_growth`` budget is checked against it. Deterministic: sorted by
model and variant, fixed number formats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUMMARY_FORMAT = 3


def _number(value: Any) -> float | None:
    """A metric as JSON can hold it: infinite SNR (identical outputs) stays the string 'inf'."""
    return value if isinstance(value, (int, float)) or value == "inf" else None


def row(report: dict[str, Any]) -> dict[str, Any]:
    """One variant's line of the summary, from its report."""
    size = report["size"]
    quality = report.get("accuracy", {})
    output = quality.get("output", {})
    checks = report.get("budgets", [])
    return {
        "model": report["model"],
        "variant": report["variant"],
        "size": size["size"],
        "vs_float32": size.get("vs_float32"),
        "parameters": size["parameters"],
        "select_tf_ops": size["select_tf_ops"],
        "custom_ops": size.get("custom_ops", 0),
        "runnable": "median_ms" in report.get("latency", {}),
        "latency_ms": report.get("latency", {}).get("median_ms"),
        # Where the figure came from: the host it was measured on, and whether that is this one.
        "latency_host": report.get("latency", {}).get("host"),
        "latency_this_host": report.get("latency", {}).get("this_host"),
        "accuracy": quality.get("accuracy"),
        "reference_accuracy": quality.get("reference_accuracy"),
        "accuracy_drop": quality.get("accuracy_drop"),
        "top1_agreement": output.get("top1_agreement"),
        "snr_db": _number(output.get("snr_db")),
        "max_abs_error": quality.get("max_abs_error"),
        "budgets_passed": sum(1 for c in checks if c["passed"] is True),
        "budgets_failed": sum(1 for c in checks if c["passed"] is False),
        # A growth budget is the summary's to check (against its baseline), not the report's.
        "budgets_unmeasured": sum(
            1 for c in checks if c["passed"] is None and c["budget"] != "max_size_growth"
        ),
        "breaches": [c["sentence"] for c in checks if c["passed"] is False and "sentence" in c],
        "size_growth_limit": next(
            (c["limit"] for c in checks if c["budget"] == "max_size_growth"), None
        ),
        "baseline": None,
    }


def collect(reports: list[Path]) -> dict[str, Any]:
    """The summary's data from report files (missing ones are listed, not fatal)."""
    rows = []
    missing = []
    for path in sorted(reports):
        try:
            rows.append(row(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError):
            missing.append(path.name)
    rows.sort(key=lambda r: (r["model"], r["variant"]))
    return {
        "format": SUMMARY_FORMAT,
        "variants": rows,
        "total_bytes": sum(r["size"] for r in rows),
        "missing_reports": missing,
        "baseline": None,
    }


def compare(summary: dict[str, Any], baseline: dict[str, Any], source: str) -> list[str]:
    """Lay the baseline's figures beside each variant; return max_size_growth breaches.

    ``summary`` is updated in place: each variant's ``baseline`` and the
    top-level ``baseline`` (where it came from, total delta, added and removed
    variants).
    """
    before = {(r["model"], r["variant"]): r for r in baseline.get("variants", [])}
    breaches = []
    for current in summary["variants"]:
        name = (current["model"], current["variant"])
        old = before.get(name)
        if old is None:
            current["budgets_unmeasured"] += current["size_growth_limit"] is not None
            continue
        delta = current["size"] - old["size"]
        growth = round(delta / old["size"], 6) if old["size"] else 0.0
        accuracy_delta = None
        if current["accuracy"] is not None and old.get("accuracy") is not None:
            accuracy_delta = round(current["accuracy"] - old["accuracy"], 6)
        current["baseline"] = {
            "size": old["size"],
            "size_delta": delta,
            "size_growth": growth,
            "accuracy": old.get("accuracy"),
            "accuracy_delta": accuracy_delta,
        }
        limit = current["size_growth_limit"]
        if limit is not None and growth > limit:
            sentence = (
                f"{name[0]}/{name[1]}: over budget: max_size_growth is {limit:+.2%}, "
                f"measured {growth:+.2%} ({old['size']:,} -> {current['size']:,} bytes "
                f"against the baseline {source})"
            )
            current["breaches"].append(sentence)
            current["budgets_failed"] += 1
            breaches.append(sentence)
        elif limit is not None:
            current["budgets_passed"] += 1
    now = {(r["model"], r["variant"]) for r in summary["variants"]}
    summary["baseline"] = {
        "source": source,
        "total_bytes": baseline.get("total_bytes", 0),
        "total_delta": summary["total_bytes"] - baseline.get("total_bytes", 0),
        "added": sorted(f"{m}/{v}" for m, v in now - set(before)),
        "removed": sorted(f"{m}/{v}" for m, v in set(before) - now),
    }
    return breaches


def no_baseline(summary: dict[str, Any]) -> None:
    """Without a baseline, every growth budget counts as not measured."""
    for current in summary["variants"]:
        current["budgets_unmeasured"] += current["size_growth_limit"] is not None


def _budgets(row: dict[str, Any]) -> str:
    parts = []
    if row["budgets_failed"]:
        parts.append(f"❌ {row['budgets_failed']} over")
    if row["budgets_passed"]:
        parts.append(f"✅ {row['budgets_passed']}")
    if row["budgets_unmeasured"]:
        parts.append(f"{row['budgets_unmeasured']} not measured")
    return ", ".join(parts) or "—"


def size_delta(baseline: dict[str, Any] | None) -> str:
    """'+512 B (+2.10%)', '0 B', or '—' without a baseline."""
    if baseline is None:
        return "—"
    if baseline["size_delta"] == 0:
        return "0 B"
    return f"{baseline['size_delta']:+,} B ({baseline['size_growth']:+.2%})"


def _accuracy(row: dict[str, Any]) -> str:
    if row["accuracy"] is not None:
        text = f"{row['accuracy']:.4f}"
        if row["baseline"] is not None and row["baseline"]["accuracy_delta"] is not None:
            text += f" ({row['baseline']['accuracy_delta']:+.4f})"
        return text
    if row["top1_agreement"] is not None:
        return f"{row['top1_agreement']:.2%} agree"
    return "—"


def markdown(summary: dict[str, Any]) -> str:
    baseline = summary.get("baseline")
    head = "| model | variant | size | vs float32 | parameters | accuracy | budgets |"
    rule = "| --- | --- | ---: | ---: | ---: | ---: | --- |"
    if baseline:
        head, rule = head + " vs baseline |", rule + " ---: |"
    lines = ["## TFLite models", "", head, rule]
    for row in summary["variants"]:
        ratio = f"{row['vs_float32']:.2f}x" if row["vs_float32"] is not None else "—"
        flex = " (Select TF ops)" if row["select_tf_ops"] else ""
        line = (
            f"| {row['model']} | {row['variant']}{flex} | {row['size']:,} B | {ratio} | "
            f"{row['parameters']:,} | {_accuracy(row)} | {_budgets(row)} |"
        )
        if baseline:
            line += f" {size_delta(row['baseline'])} |"
        lines.append(line)
    lines += ["", f"{len(summary['variants'])} variants, {summary['total_bytes']:,} bytes in all."]
    if baseline:
        lines.append(
            f"Against the baseline ({baseline['source']}): {baseline['total_delta']:+,} bytes"
            + "".join(
                f"; {word}: {', '.join(baseline[word])}"
                for word in ("added", "removed")
                if baseline[word]
            )
            + "."
        )
    lines += _latency_lines(summary["variants"])
    breaches = [sentence for row in summary["variants"] for sentence in row["breaches"]]
    if breaches:
        lines += ["", "**Over budget:**", *(f"- {sentence}" for sentence in breaches)]
    if summary["missing_reports"]:
        lines.append(f"Missing or unreadable reports: {', '.join(summary['missing_reports'])}.")
    return "\n".join(lines) + "\n"


def _latency_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Where the latency figures come from: each host once, and the variants measured elsewhere."""
    hosts = {
        (h["cpu"], h["cores"], h["runtime"]): row["latency_this_host"]
        for row in rows
        if (h := row.get("latency_host"))
    }
    lines = [
        f"Latency {'measured here' if here else 'measured on another host'}: {cpu}, "
        f"{cores} cores, {runtime}."
        for (cpu, cores, runtime), here in sorted(hosts.items())
    ]
    elsewhere = [
        f"{r['model']}/{r['variant']}" for r in rows if r.get("latency_this_host") is False
    ]
    if elsewhere:
        lines.append(f"Latency from another host (no latency budget): {', '.join(elsewhere)}.")
    return lines
