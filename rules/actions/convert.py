"""The convert task: its up-to-date check, restoring from the cache, converting, cleaning.

A conversion writes ``<variant>.tflite`` (atomically, through the engine or from
the cache), then ``<variant>.convert.log`` (what TensorFlow printed) and its
sidecar ``<variant>.convert.json`` (keys, digest, size, warnings, discovered
inputs, origin). The sidecar is written last, so a build killed at any point
leaves either a complete record or none; an artifact without a matching record
is rebuilt. The same record goes into the build state the moment a variant
finishes.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from dataclasses import replace
from typing import Any

from doit.exceptions import TaskFailed

from converter.errors import ConverterError
from converter.files import sweep, write_atomic
from rules.build import keys as fingerprint
from rules.build.context import Build
from rules.build.jobs import ConvertJob
from rules.build.keys import (
    declared_key,
    discovered_digests,
    full_key,
    input_digests,
)
from rules.project.state import BuildState, Record


def up_to_date(task: object, job: ConvertJob, build: Build) -> bool:
    """doit ``uptodate``: true when the artifact is what a clean build would give now.

    That is so when nothing the variant depends on was even touched since its
    record (a few ``stat`` calls); or when the declared inputs, the discovered
    ones and the artifact's bytes still match the record; or, during a run, when
    the artifact could be restored from the cache right here. Restoring in the
    check, like Bazel materializing a cached action's outputs, means a cache hit
    runs neither the task that produces the source nor the worker. Asking
    (``doit list --status``, ``doit info``) never restores: it would write.
    A missing input is 'not up to date': the conversion then reports it properly.
    """
    state = build.state
    record = state.record(job.name)
    if record is not None and record.stats == stat_signature(job, state, record.discovered):
        return True
    try:
        declared = declared_key(job, state)
    except FileNotFoundError:
        return False
    if record is None:
        record = _sidecar_record(job)
    if record is not None and record.declared == declared and _still_built(job, state, record):
        if state.writable:  # touched but unchanged: remember the new stats
            stats = stat_signature(job, state, record.discovered)
            state.remember(job.name, replace(record, stats=stats))
        return True
    if state.writable and build.caching:
        origin = restore(job, build, declared)
        if origin is not None:
            state.restored[f"convert:{job.name}"] = origin
            return True
    return False


# doit inspects an uptodate callable on every call, for every task; this makes it a lookup.
up_to_date.__signature__ = inspect.signature(up_to_date)  # type: ignore[attr-defined]


def stat_signature(job: ConvertJob, state: BuildState, discovered: tuple[str, ...]) -> str:
    """What a no-op build compares: the stats of the manifest, every input and the artifact.

    The manifest's own stats stand for the options it sets, and the tool versions
    are part of it too; when all of this is unchanged so is the key.
    """
    inputs = [str(job.manifest)]
    for path in job.inputs:
        inputs += state.files(str(path))
    inputs += [str(job.root / path) for path in discovered]
    versions = ",".join(fingerprint.tool_versions().values())
    output = state.stats([str(job.output)])
    return f"{versions}|{state.stats(inputs, this_build=True)}|{output}"


def _still_built(job: ConvertJob, state: BuildState, record: Record) -> bool:
    """Whether the record's discovered inputs and artifact are still what it says."""
    digests = discovered_digests(job, state, record.discovered)
    if digests is None or full_key(job, record.declared, digests) != record.key:
        return False
    try:
        return state.digest(job.output) == record.sha256
    except FileNotFoundError:
        return False


def _sidecar_record(job: ConvertJob) -> Record | None:
    """The record a sidecar holds (the build state was deleted, the artifact was not)."""
    try:
        data = json.loads(job.sidecar.read_text())
        return Record(
            data["declared"], data["key"], data["sha256"], "", tuple(data.get("discovered", ()))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def restore(job: ConvertJob, build: Build, declared: str) -> str | None:
    """Take the artifact from the cache when it holds it: the origin ("local"/"remote"), or None.

    A variant with discovered inputs looks up the sets of files its code read
    before (first level), then the artifact keyed by their digests (second).
    """
    cache = build.cache()
    candidates = cache.fetch_discovered(declared) if job.discovers else [()]
    for paths in candidates:
        digests = discovered_digests(job, build.state, paths)
        if digests is None:
            continue  # a file that code read is gone: that set cannot be this build
        key = full_key(job, declared, digests)
        hit = cache.fetch(key)
        if hit is None:
            continue
        write_atomic(job.output, hit.artifact)
        record = Record(declared, key, hit.record["sha256"], discovered=paths)
        _finish(job, build, record, hit.record, hit.log, origin=hit.origin)
        return hit.origin
    return None


def convert(job: ConvertJob, build: Build) -> dict[str, Any] | TaskFailed:
    """Restore one variant from the cache, or convert it and store it there.

    Returns the record doit saves (with ``origin``: built, local or remote), or a
    one-sentence failure. A cache hit starts no worker and imports no TensorFlow.
    """
    job.sidecar.unlink(missing_ok=True)
    sweep(job.output.parent)  # what a killed build left half-written here
    try:
        declared = declared_key(job, build.state)
    except FileNotFoundError as e:
        return TaskFailed(f"{job.name}: input {e.filename} does not exist")
    if build.caching:
        origin = restore(job, build, declared)
        if origin is not None:
            print(f"    {job.name}: from the {origin} cache", file=sys.stderr)
            return {"key": declared, "origin": origin}
    cluster = build.cluster()
    try:
        if cluster is not None and cluster.available():
            return cluster.convert(job, build, declared)
        return build_here(job, build, declared)
    except ConverterError as e:
        if e.log:
            write_atomic(job.log, (e.log + "\n").encode())
        where = f"\n  (TensorFlow's log: {os.path.relpath(job.log)})" if e.log else ""
        return TaskFailed(f"{job.name}: {e}{where}")


def build_here(job: ConvertJob, build: Build, declared: str) -> dict[str, Any]:
    """Convert in this process's engine and store the result; raises ConverterError.

    A cluster worker runs this too, on a job moved under its own root.
    """
    provenance = {
        "key": declared,
        "model": job.model,
        "variant": job.variant,
        "source": job.fingerprint["source"],
        "options": job.fingerprint["options"],
    }
    result = build.engine().convert(
        job.source,
        job.options,
        job.output,
        provenance=provenance,
        track=job.root if job.discovers else None,
        track_ignore=(build.state.folder,),
    )
    declared_inputs = input_digests(job, build.state)
    discovered = {p: d for p, d in result.discovered.items() if p not in declared_inputs}
    key = full_key(job, declared, discovered)
    details = {
        "sha256": result.sha256,
        "size": result.size,
        "seconds": round(result.seconds, 3),
        "warnings": list(result.warnings),
        "fingerprint": job.fingerprint,
        "discovered": discovered,
    }
    if job.options.keep_float is not None:
        details["kept_float"] = list(result.kept_float)
        if result.search is not None:
            details["search"] = result.search
    if build.caching:
        cache = build.cache()
        cache.store(key, job.output.read_bytes(), details, result.log)
        if job.discovers:
            cache.store_discovered(declared, tuple(discovered))
    build.state.learn(job.output, result.sha256)  # the engine hashed it: no need to read it again
    record = Record(declared, key, result.sha256, discovered=tuple(discovered))
    _finish(job, build, record, details, result.log, origin="built")
    for warning in result.warnings:
        print(f"    warning: {job.name}: {warning}", file=sys.stderr)
    if job.options.keep_float is not None:
        print(f"    {job.name}: {_kept(result.kept_float, result.search)}", file=sys.stderr)
    print(f"    {job.name}: {result.size:,} bytes in {result.seconds:.1f} s", file=sys.stderr)
    return {"key": key, "sha256": result.sha256, "origin": "built"}


def _finish(
    job: ConvertJob, build: Build, record: Record, details: dict[str, Any], log: str, origin: str
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
    state = build.state
    state.learn(job.output, record.sha256)
    state.remember(job.name, replace(record, stats=stat_signature(job, state, record.discovered)))


def _kept(layers: tuple[str, ...], search: dict[str, Any] | None) -> str:
    kept = f"kept in float: {', '.join(layers)}" if layers else "no layer kept in float"
    if search is None:
        return kept
    return (
        f"{kept} (searched {search['layers']} layers in {search['conversions']} conversions, "
        f"{search['seconds']:.1f} s)"
    )


def clean(job: ConvertJob) -> None:
    for path in (job.output, job.sidecar, job.log):
        path.unlink(missing_ok=True)
