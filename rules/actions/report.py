"""The report task: measure one variant (size, latency, accuracy against the source in TF), check its budgets."""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Callable
from typing import Any

from doit.exceptions import TaskFailed

from converter.digest import canonical_json
from converter.spec import Source, source_to_dict
from rules import fingerprint
from rules.build import Build
from rules.jobs import ReportJob
from rules.state import BuildState, Record
from rules.stores import write_atomic


def report_up_to_date(task: object, job: ReportJob, build: Build) -> bool:
    """doit ``uptodate`` for a report: the artifacts, its part of the manifest and the report unchanged."""
    record = build.state.record(f"report:{job.name}")
    return record is not None and record.stats == _report_stats(job, build.state)


report_up_to_date.__signature__ = inspect.signature(report_up_to_date)  # type: ignore[attr-defined]


def _report_stats(job: ReportJob, state: BuildState) -> str:
    from rules.report import REPORT_FORMAT

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


def reference_runner(build: Build) -> Callable[[Source, dict[str, Any]], dict[str, Any]]:
    """Runs a source model in the worker, once per model and inputs in this process.

    Every variant of a model is compared with the same reference outputs, so a
    ``doit report`` loads each source model in TensorFlow once, not once per variant.
    """

    def run(source: Source, inputs: dict[str, Any]) -> dict[str, Any]:
        digest = hashlib.sha256(canonical_json(source_to_dict(source)).encode())
        for name, values in inputs.items():
            digest.update(f"{name}:{values.dtype}:{values.shape}".encode())
            digest.update(values.tobytes())
        key = digest.hexdigest()
        if key not in build.references:
            build.references[key] = build.engine().run_reference(source, inputs)[0]
        return build.references[key]

    return run


def report(job: ReportJob, build: Build) -> dict[str, Any] | TaskFailed:
    """Write ``<variant>.report.json``; a budget breached or not measurable fails the task after."""
    from rules.report import SUMMARY_BUDGETS, build_report, summary_line, unmeasured_reason

    try:
        data, checks = build_report(job, reference_runner(build))
    except FileNotFoundError as e:
        return TaskFailed(f"{job.name}: {e.filename} does not exist (run convert first)")
    write_atomic(job.output, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    print(f"    {summary_line(job, data)}", file=sys.stderr)
    failures = [c.sentence(job.name) for c in checks if c.passed is False]
    failures += [
        f"{job.name}: budget {c.budget} cannot be checked: {unmeasured_reason(c.budget, data)}"
        for c in checks
        if c.passed is None and c.budget not in SUMMARY_BUDGETS
    ]
    if failures:
        return TaskFailed("\n".join(failures))
    state = build.state
    state.remember(f"report:{job.name}", Record("", "", "", _report_stats(job, state)))
    return {"size": data["size"]["size"]}
