"""A variant's artifact on disk: whether it is current, restoring it from the cache, recording it.

A conversion writes ``<variant>.tflite`` (atomically, through the engine or from
the cache), then ``<variant>.convert.log`` (what TensorFlow printed) and its
sidecar ``<variant>.convert.json`` (keys, digest, size, warnings, discovered
inputs, origin). The sidecar is written last, so a build killed at any point
leaves either a complete record or none; an artifact without a matching record
is rebuilt. The same record goes into the build state the moment a variant
finishes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from converter import versions
from converter.digest import bytes_digest
from converter.files import write_atomic
from rules.build import keys, layout
from rules.build.context import Build
from rules.build.jobs import ConvertJob
from rules.build.uptodate import UpToDate
from rules.project.state import BuildState, Record

if TYPE_CHECKING:
    from rules.cache.artifacts import ArtifactCache


class ConvertUpToDate(UpToDate):
    """The convert task's check: true when the artifact is what a clean build would give now.

    That is so when nothing the variant depends on was even touched since its
    record (a few ``stat`` calls); or when the declared inputs, the discovered
    ones and the artifact's bytes still match the record; or, during a run, when
    the artifact could be restored from the cache right here. Restoring in the
    check, like Bazel materializing a cached action's outputs, means a cache hit
    runs neither the task that produces the source nor the worker. Asking
    (``doit list --status``, ``doit info``) never restores: it would write.
    A missing input is 'not up to date': the conversion then reports it properly.
    """

    def __init__(self, job: ConvertJob, build: Build) -> None:
        self.job = job
        self.build = build

    def __call__(self, task: object) -> bool:
        job, state = self.job, self.build.state
        record = state.record(job.task)
        if record is not None and record.stats == stat_signature(job, state, record.discovered):
            return True
        try:
            declared = keys.declared_key(job, state)
        except FileNotFoundError:
            return False
        if record is None:
            record = sidecar_record(job)
        if record is not None and record.declared == declared and still_built(job, state, record):
            if state.writable:  # touched but unchanged: remember the new stats
                stats = stat_signature(job, state, record.discovered)
                state.remember(job.task, replace(record, stats=stats))
            return True
        if state.writable and self.build.caching:
            origin = restore(job, self.build.cache(), state, declared)
            if origin is not None:
                state.restored[job.task] = origin
                return True
        return False


def stat_signature(job: ConvertJob, state: BuildState, discovered: tuple[str, ...]) -> str:
    """What a no-op build compares: the stats of the manifest, every input and the artifact.

    The manifest's own stats stand for the options it sets, and the tool versions
    are part of it too; when all of this is unchanged so is the key. A toolchain's
    identity (and a shadow build's) comes from the settings, not the environment: such
    a job adds a digest of its whole fingerprint.
    """

    def paths() -> list[str]:
        inputs = [str(job.manifest)]
        for path in job.inputs:
            inputs += state.files(str(path))
        return inputs + [str(job.root / path) for path in discovered]

    tools = ",".join(versions.environment().values())
    if job.toolchain is not None or "toolchain" in job.fingerprint:
        tools += "|" + bytes_digest(job.fingerprint_json.encode())
    inputs = state.input_stats((job.manifest, job.inputs, discovered), paths)
    output = state.stats([job.stem + layout.ARTIFACT])
    return f"{tools}|{inputs}|{output}"


def still_built(job: ConvertJob, state: BuildState, record: Record) -> bool:
    """Whether the record's discovered inputs and artifact are still what it says."""
    digests = keys.discovered_digests(job, state, record.discovered)
    if digests is None or keys.full_key(job, record.declared, digests) != record.key:
        return False
    try:
        return state.digest(job.output) == record.sha256
    except FileNotFoundError:
        return False


def sidecar_record(job: ConvertJob) -> Record | None:
    """The record a sidecar holds (the build state was deleted, the artifact was not)."""
    try:
        data = json.loads(job.sidecar.read_text())
        return Record(
            data["declared"], data["key"], data["sha256"], "", tuple(data.get("discovered", ()))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def restore(job: ConvertJob, cache: ArtifactCache, state: BuildState, declared: str) -> str | None:
    """Take the artifact from the cache when it holds it: the origin ("local"/"remote"), or None.

    A variant with discovered inputs looks up the sets of files its code read
    before (first level), then the artifact keyed by their digests (second).
    """
    candidates = cache.fetch_discovered(declared) if job.discovers else [()]
    for paths in candidates:
        digests = keys.discovered_digests(job, state, paths)
        if digests is None:
            continue  # a file that code read is gone: that set cannot be this build
        key = keys.full_key(job, declared, digests)
        hit = cache.fetch(key)
        if hit is None:
            continue
        write_atomic(job.output, hit.artifact)
        record = Record(declared, key, hit.record["sha256"], discovered=paths)
        finish(job, state, record, hit.record, hit.log, origin=hit.origin)
        return hit.origin
    return None


def finish(
    job: ConvertJob,
    state: BuildState,
    record: Record,
    details: dict[str, Any],
    log: str,
    origin: str,
) -> None:
    """The log, then the sidecar (written last, it marks the variant complete), then the state."""
    write_atomic(job.log, log.encode())
    sidecar = {
        **details,
        "declared": record.declared,
        "key": record.key,
        "discovered": list(record.discovered),
        "origin": origin,
    }
    write_atomic(job.sidecar, (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode())
    state.learn(job.output, record.sha256)
    state.remember(job.task, replace(record, stats=stat_signature(job, state, record.discovered)))


def clean(job: ConvertJob) -> None:
    """doit ``clean``: the artifact, its sidecar and its log."""
    for path in (job.output, job.sidecar, job.log):
        path.unlink(missing_ok=True)
