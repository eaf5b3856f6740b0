"""The report tasks' up-to-date checks: a report's inputs unchanged, or its source not needed."""

from __future__ import annotations

import hashlib

from converter import versions
from converter.digest import canonical_json
from converter.spec import source_to_dict
from rules.build.context import Build
from rules.build.jobs import ReportJob
from rules.build.uptodate import UpToDate
from rules.project.state import BuildState


class ReportUpToDate(UpToDate):
    """A report's check: the artifacts, its part of the manifest and the report unchanged."""

    def __init__(self, job: ReportJob, state: BuildState) -> None:
        self.job = job
        self.state = state

    def __call__(self, task: object) -> bool:
        record = self.state.record(self.job.task)
        return record is not None and record.stats == report_stats(self.job, self.state)


class WithoutSource(UpToDate):
    """A report's source gate: true when the report needs no source on disk.

    The gate task has the user's task that makes the source as its ``setup``, so
    that task runs only when this report's measurements and reference are both
    missing from the cache: a warm cache never retrains a model to report on it.
    """

    def __init__(self, job: ReportJob, build: Build) -> None:
        self.job = job
        self.build = build

    def __call__(self, task: object) -> bool:
        from rules.report import measurements  # here: numpy, only when a gate is asked

        on = measurements.Measuring.of(self.build)
        return measurements.can_do_without_source(self.job, on)


def report_stats(job: ReportJob, state: BuildState) -> str:
    """What a no-op report compares: its format, the tool versions, its manifest part, file stats."""
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
    tools = ",".join(versions.measurement().values())
    return f"{REPORT_FORMAT}|{tools}|{section}|{state.stats(files)}"
