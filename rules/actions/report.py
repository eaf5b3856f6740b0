"""The report task: measure one variant (size, latency, accuracy against the source in TF), check its budgets."""

from __future__ import annotations

import sys
from typing import Any

from doit.exceptions import TaskFailed

from converter.files import write_atomic
from rules.build import layout
from rules.build.context import Build
from rules.build.jobs import ReportJob
from rules.project.state import Record
from rules.report.uptodate import report_stats


def report(job: ReportJob, build: Build) -> dict[str, Any] | TaskFailed:
    """Write ``<variant>.report.json``; a budget breached or not measurable fails the task after.

    The measurements come from the cache when it holds them (no TensorFlow, no
    source model needed); else they are measured and stored. The budgets are
    checked against them on every run.
    """
    from rules.report import measurements
    from rules.report.variant import build_report, headline

    on = measurements.Measuring.of(build)
    try:
        found = measurements.fetch(job, on)
        measured = found.cached
        origin = "cache"
        if measured is None:
            measured = measurements.measure(job, on, found)
            origin = "measured"
        timing = measurements.latency_for(job, on, found, measured)
    except FileNotFoundError as e:
        return TaskFailed(f"{job.name}: {e.filename} does not exist (run convert first)")
    data = build_report(job, measured, timing)
    write_atomic(job.output, data.to_json().encode())
    print(
        f"    {headline(data)}" + (" (measurements from the cache)" if origin == "cache" else ""),
        file=sys.stderr,
    )
    failures = [c.sentence for c in data.budgets if c.sentence is not None]
    failures += [
        f"{job.name}: budget {c.budget} cannot be checked: {c.why}"
        for c in data.budgets
        if c.why is not None
    ]
    if failures and layout.SUMMARY in build.selected:
        # The summary runs after every report and fails with each breach, shown in its
        # tables: the report is written and the summary told, but not remembered as done,
        # so that the next `doit report` checks its budgets again.
        print("\n".join(f"    {line}" for line in failures), file=sys.stderr)
        return {"size": data.size.size, "measurements": origin, "breaches": len(failures)}
    if failures:
        return TaskFailed("\n".join(failures))
    state = build.state
    state.remember(job.task, Record("", "", "", report_stats(job, state)))
    return {"size": data.size.size, "measurements": origin}
