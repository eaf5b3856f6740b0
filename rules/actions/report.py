"""The report task: measure one variant (size, latency, accuracy against the source in TF), check its budgets."""

from __future__ import annotations

import hashlib
import inspect
import sys
from typing import Any

from doit.exceptions import TaskFailed

from converter.digest import canonical_json
from converter.files import write_atomic
from converter.spec import source_to_dict
from rules.build import keys as fingerprint
from rules.build.context import Build
from rules.build.jobs import ReportJob
from rules.project.state import BuildState, Record


def report_up_to_date(task: object, job: ReportJob, build: Build) -> bool:
    """doit ``uptodate`` for a report: the artifacts, its part of the manifest and the report unchanged."""
    record = build.state.record(f"report:{job.name}")
    return record is not None and record.stats == _report_stats(job, build.state)


report_up_to_date.__signature__ = inspect.signature(report_up_to_date)  # type: ignore[attr-defined]


def _report_stats(job: ReportJob, state: BuildState) -> str:
    from rules.report.variant import REPORT_FORMAT

    # The manifest's part that concerns this report, not the whole file: another
    # variant's budget or options do not rerun it (its own options change its artifact).
    section = hashlib.sha256(
        canonical_json(
            {
                "budget": repr(job.budget),  # frozen dataclasses: a stable repr
                "evaluate": repr(job.evaluate),
                "source": source_to_dict(job.model_source),
                "float32": str(job.float32),
            }
        ).encode()
    ).hexdigest()[:16]
    files = [str(job.artifact), str(job.output)]
    if job.source is not None:  # whether it is on disk decides the reference
        files.append(str(job.source))
    if job.float32 is not None:
        files.append(str(job.float32))
    if job.evaluate is not None:
        files.append(str(job.evaluate.data))
    versions = ",".join(fingerprint.tool_versions().values())
    return f"{REPORT_FORMAT}|{versions}|{section}|{state.stats(files)}"


def report(job: ReportJob, build: Build) -> dict[str, Any] | TaskFailed:
    """Write ``<variant>.report.json``; a budget breached or not measurable fails the task after.

    The measurements come from the cache when it holds them (no TensorFlow, no
    source model needed); else they are measured and stored. The budgets are
    checked against them on every run.
    """
    from rules.report import measurements
    from rules.report.variant import build_report, summary_line

    try:
        found = measurements.fetch(job, build)
        measured = found.cached
        origin = "cache"
        if measured is None:
            measured = measurements.measure(job, build, found)
            origin = "measured"
        timing = measurements.latency_for(job, build, found, measured)
    except FileNotFoundError as e:
        return TaskFailed(f"{job.name}: {e.filename} does not exist (run convert first)")
    data = build_report(job, measured, timing)
    write_atomic(job.output, data.to_json().encode())
    print(
        f"    {summary_line(data)}"
        + (" (measurements from the cache)" if origin == "cache" else ""),
        file=sys.stderr,
    )
    failures = [c.sentence for c in data.budgets if c.sentence is not None]
    failures += [
        f"{job.name}: budget {c.budget} cannot be checked: {c.why}"
        for c in data.budgets
        if c.why is not None
    ]
    if failures:
        return TaskFailed("\n".join(failures))
    state = build.state
    state.remember(f"report:{job.name}", Record("", "", "", _report_stats(job, state)))
    return {"size": data.size.size, "measurements": origin}


def without_source(task: object, job: ReportJob, build: Build) -> bool:
    """doit ``uptodate`` of a report's source gate: true when the report needs no source on disk.

    The gate task has the user's task that makes the source as its ``setup``, so
    that task runs only when this report's measurements and reference are both
    missing from the cache: a warm cache never retrains a model to report on it.
    """
    from rules.report import measurements

    return measurements.can_do_without_source(job, build)


without_source.__signature__ = inspect.signature(without_source)  # type: ignore[attr-defined]
