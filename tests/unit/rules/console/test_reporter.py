"""rules.console.reporter's closing line: what a run did, in one line."""

from __future__ import annotations

from collections import Counter

from rules.console.reporter import closing_line


def test_a_conversion_run_counts_conversions_only() -> None:
    counts = Counter({"built": 3, "local": 1, "remote": 1, "up to date": 11})
    line = closing_line(counts, ["train", "convert:m/int8"], 2, 4.25, Counter())
    assert line == (
        "tflite-build: 3 built, 2 from cache (1 remote), 11 up to date, "
        "2 failed (train, convert:m/int8), 2 not run (a task they need failed) in 4.2 s"
    )


def test_a_report_run_counts_its_reports_after_the_conversions() -> None:
    reports = Counter({"measured": 2, "cache": 14, "up to date": 4})
    line = closing_line(Counter({"up to date": 20}), [], 0, 3.1, reports)
    assert line == (
        "tflite-build: 0 built, 0 from cache, 20 up to date; "
        "reports: 2 measured, 14 from cache, 4 up to date; 0 failed in 3.1 s"
    )


def test_failures_beyond_five_are_counted_not_named() -> None:
    failed = [f"report:m/v{i}" for i in range(7)]
    line = closing_line(Counter(), failed, 0, 1.0, Counter({"measured": 1}))
    assert (
        "7 failed (report:m/v0, report:m/v1, report:m/v2, report:m/v3, report:m/v4 and 2 more)"
        in line
    )
