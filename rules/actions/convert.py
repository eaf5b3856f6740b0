"""The convert task's action: restore one variant from the cache, or convert it where the settings say.

What a conversion writes, and when a variant counts as current, is
``rules.build.variants``'s; where it runs is ``rules.execute.choice``'s. This
module turns their outcome into what doit shows: a record, or a one-sentence
``TaskFailed`` with the path of the converter's log.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from converter.errors import ConverterError
from converter.files import sweep, write_atomic
from converter.spec import source_file
from rules.build import keys, variants
from rules.build.context import Build
from rules.build.jobs import ConvertJob
from rules.execute import choice


def convert(job: ConvertJob, build: Build) -> dict[str, Any] | TaskFailed:
    """Restore one variant from the cache, or convert it and store it there.

    Returns the record doit saves (with ``origin``: built, local or remote), or a
    one-sentence failure. A cache hit starts no worker and imports no TensorFlow.
    """
    job.sidecar.unlink(missing_ok=True)
    sweep(job.output.parent)  # what a killed build left half-written here
    try:
        declared = keys.declared_key(job, build.state)
    except FileNotFoundError as e:
        return TaskFailed(missing_input(job, e.filename, build))
    if build.caching:
        origin = variants.restore(job, build.cache(), build.state, declared)
        if origin is not None:
            print(f"    {job.name}: from the {origin} cache", file=sys.stderr)
            return {"key": declared, "origin": origin}
    made = source_file(job.source) if job.fingerprint.get("task") else None
    if made is not None and not made.exists():  # its task failed, or does not make it
        return TaskFailed(missing_input(job, str(made), build))
    try:
        return choice.convert(job, build, declared)
    except ConverterError as e:
        if e.log:
            write_atomic(job.log, (e.log + "\n").encode())
        where = f"\n  (the converter's log: {os.path.relpath(job.log)})" if e.log else ""
        return TaskFailed(f"{job.name}: {e}{where}")


def missing_input(job: ConvertJob, filename: str, build: Build) -> str:
    """Why an input is missing, naming the task that makes the source when there is one."""
    shown = build.project.relative(Path(filename))  # as the manifest spells it
    task = job.fingerprint.get("task")
    if not task:
        return f"{job.name}: input {shown} does not exist"
    if task in build.failed:
        return f"{job.name}: input {shown} does not exist: the task {task!r} that makes it failed"
    return (
        f"{job.name}: input {shown} does not exist, and the task {task!r} that makes the "
        "source did not make it"
    )
