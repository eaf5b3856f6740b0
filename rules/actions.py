"""What doit runs: conversions through the engine, the up-to-date check, cleaning.

The only writer of build outputs. A conversion writes ``<variant>.tflite``
(atomically, through the engine or from the cache), then
``<variant>.convert.log`` (what TensorFlow printed) and its sidecar
``<variant>.convert.json`` (key, digest, size, warnings, origin). The sidecar is written last, so a build killed at any point leaves
either a complete record or none; an artifact without a matching record is
rebuilt.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doit.exceptions import TaskFailed

from converter.digest import canonical_json
from converter.errors import ConverterError
from converter.spec import Source, source_to_dict
from rules import fingerprint
from rules.cache import CacheSettings, cache_for
from rules.digests import DigestMemo
from rules.fingerprint import ConvertJob, cache_key
from rules.project import Project, WorkerLimits
from rules.stores import LocalStore, redact, write_atomic

if TYPE_CHECKING:
    from converter.api import Engine
    from rules.report import ReportJob

_memos: dict[Path, DigestMemo] = {}


def engine(limits: WorkerLimits) -> Engine:
    """One engine (one persistent worker) per doit process, closed at exit."""
    from converter.api import default_engine  # here: a build of cache hits never needs it

    return default_engine(limits.timeout, limits.memory_mb)


def memo(path: Path) -> DigestMemo:
    if path not in _memos:
        _memos[path] = DigestMemo(path)
    return _memos[path]


def new_build() -> None:
    """Called when doit loads the tasks: directory listings may have changed since."""
    for digests in _memos.values():
        digests.new_build()


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode())


def read_sidecar(job: ConvertJob) -> dict[str, Any]:
    try:
        data = json.loads(job.sidecar.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# Variants the up-to-date check restored from the cache in this process (the reporter counts them).
RESTORED: dict[str, str] = {}


def up_to_date(task: object, job: ConvertJob, memo_path: Path, settings: CacheSettings) -> bool:
    """doit ``uptodate``: true when the artifact is what the current key says it should be.

    That is the case when the key and the artifact's bytes match the last build's
    record (kept in the build's database, or failing that in the sidecar, and
    written the moment a variant finishes, so a kill loses nothing), or when the
    artifact could be restored from the cache right here. Restoring in the check,
    like Bazel materializing a cached action's outputs, means a cache hit runs
    neither the task that produces the source nor the worker. A missing input is
    'not up to date': the conversion then reports it properly.
    """
    digests = memo(memo_path)
    record = digests.recorded(job.name)
    stats = stat_signature(job, digests)
    if record is not None and record[2] == stats:
        return True  # nothing it depends on was even touched: no hashing, no key
    try:
        key = cache_key(job, digests)
    except FileNotFoundError:
        return False
    from_sidecar = record is None
    if record is None:
        sidecar = read_sidecar(job)
        record = (sidecar.get("key", ""), sidecar.get("sha256", ""), "")
    try:
        matches = record[0] == key and digests.file(job.output) == record[1]
    except FileNotFoundError:
        matches = False
    if matches:
        if from_sidecar or record[2] != stats:  # touched but unchanged: remember the new stats
            digests.remember(job.name, record[0], record[1], stats)
        return True
    return _restore(job, memo_path, settings, key)


def stat_signature(job: ConvertJob, digests: DigestMemo) -> str:
    """What a no-op build compares: the stats of the manifest, every input and the artifact.

    The manifest's own stats stand for the options it sets, and the tool versions
    are part of it too; when all of this is unchanged so is the key.
    """
    inputs = [str(job.manifest)]
    for path in job.inputs:
        inputs += digests.files(str(path))
    versions = ",".join(fingerprint.tool_versions().values())
    output = digests.stats([str(job.output)])
    return f"{versions}|{digests.stats(inputs, this_build=True)}|{output}"


# doit inspects an uptodate callable on every call, for every task; this makes it a lookup.
up_to_date.__signature__ = inspect.signature(up_to_date)  # type: ignore[attr-defined]


def _restore(job: ConvertJob, memo_path: Path, settings: CacheSettings, key: str) -> bool:
    if not (settings.local or settings.remote):
        return False
    hit = cache_for(settings).fetch(key)
    if hit is None:
        return False
    write_atomic(job.output, hit.artifact)
    _finish(job, key, hit.record, hit.log, origin=hit.origin)
    digests = memo(memo_path)
    digests.learn(job.output, hit.record["sha256"])
    digests.remember(job.name, key, hit.record["sha256"], stat_signature(job, digests))
    RESTORED[f"convert:{job.name}"] = hit.origin
    return True


def convert(
    job: ConvertJob, memo_path: Path, settings: CacheSettings, limits: WorkerLimits
) -> dict[str, Any] | TaskFailed:
    """Fetch one variant from the cache, or convert it and store it there.

    Returns the record doit saves (with ``origin``: built, local or remote), or a
    one-sentence failure. A cache hit starts no worker and imports no TensorFlow.
    """
    job.sidecar.unlink(missing_ok=True)
    try:
        key = cache_key(job, memo(memo_path))
    except FileNotFoundError as e:
        return TaskFailed(f"{job.name}: input {e.filename} does not exist")
    cache = cache_for(settings) if settings.local or settings.remote else None
    hit = cache.fetch(key) if cache is not None else None
    if hit is not None:
        write_atomic(job.output, hit.artifact)
        _finish(job, key, hit.record, hit.log, origin=hit.origin)
        digests = memo(memo_path)
        digests.learn(job.output, hit.record["sha256"])
        digests.remember(job.name, key, hit.record["sha256"], stat_signature(job, digests))
        print(f"    {job.name}: from the {hit.origin} cache", file=sys.stderr)
        return {"key": key, "sha256": hit.record["sha256"], "origin": hit.origin}
    provenance = {
        "key": key,
        "model": job.model,
        "variant": job.variant,
        "source": job.fingerprint["source"],
        "options": job.fingerprint["options"],
    }
    try:
        result = engine(limits).convert(job.source, job.options, job.output, provenance=provenance)
    except ConverterError as e:
        if e.log:
            write_text_atomic(job.log, e.log + "\n")
        where = f"\n  (TensorFlow's log: {os.path.relpath(job.log)})" if e.log else ""
        return TaskFailed(f"{job.name}: {e}{where}")
    record = {
        "sha256": result.sha256,
        "size": result.size,
        "seconds": round(result.seconds, 3),
        "warnings": list(result.warnings),
        "fingerprint": job.fingerprint,
    }
    if cache is not None:
        cache.store(key, job.output.read_bytes(), record, result.log)
    _finish(job, key, record, result.log, origin="built")
    digests = memo(memo_path)
    digests.learn(job.output, result.sha256)  # the engine hashed it: no need to read it again
    digests.remember(job.name, key, result.sha256, stat_signature(job, digests))
    for warning in result.warnings:
        print(f"    warning: {job.name}: {warning}", file=sys.stderr)
    print(f"    {job.name}: {result.size:,} bytes in {result.seconds:.1f} s", file=sys.stderr)
    return {"key": key, "sha256": result.sha256, "origin": "built"}


def _finish(job: ConvertJob, key: str, record: dict[str, Any], log: str, origin: str) -> None:
    """The log, then the sidecar: written last, it marks the variant complete."""
    write_text_atomic(job.log, log)
    sidecar = {**record, "key": key, "origin": origin}
    write_text_atomic(job.sidecar, json.dumps(sidecar, indent=2, sort_keys=True) + "\n")


def report_up_to_date(task: object, job: ReportJob, memo_path: Path) -> bool:
    """doit ``uptodate`` for a report: the artifacts, the manifest and the report unchanged."""
    digests = memo(memo_path)
    record = digests.recorded(f"report:{job.name}")
    return record is not None and record[2] == _report_stats(job, digests)


report_up_to_date.__signature__ = inspect.signature(report_up_to_date)  # type: ignore[attr-defined]


def _report_stats(job: ReportJob, digests: DigestMemo) -> str:
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
    return f"{REPORT_FORMAT}|{versions}|{section}|{digests.stats(files)}"


_references: dict[str, dict[str, Any]] = {}


def reference_runner(limits: WorkerLimits) -> Callable[[Source, dict[str, Any]], dict[str, Any]]:
    """Runs a source model in the worker, once per model and inputs in this process.

    Every variant of a model is compared with the same reference outputs, so a
    ``doit report`` loads each source model in TensorFlow once, not once per variant.
    """

    def run(source: Source, inputs: dict[str, Any]) -> dict[str, Any]:
        import hashlib

        digest = hashlib.sha256(canonical_json(source_to_dict(source)).encode())
        for name, values in inputs.items():
            digest.update(f"{name}:{values.dtype}:{values.shape}".encode())
            digest.update(values.tobytes())
        key = digest.hexdigest()
        if key not in _references:
            _references[key] = engine(limits).run_reference(source, inputs)[0]
        return _references[key]

    return run


def report(job: ReportJob, memo_path: Path, limits: WorkerLimits) -> dict[str, Any] | TaskFailed:
    """Write ``<variant>.report.json``; a budget breach fails the task after writing it."""
    from rules.report import SUMMARY_BUDGETS, build_report, summary_line

    try:
        data, checks = build_report(job, reference_runner(limits))
    except FileNotFoundError as e:
        return TaskFailed(f"{job.name}: {e.filename} does not exist (run convert first)")
    write_text_atomic(job.output, json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"    {summary_line(job, data)}", file=sys.stderr)
    for unmeasured in (c for c in checks if c.passed is None and c.budget not in SUMMARY_BUDGETS):
        print(
            f"    note: {job.name}: budget {unmeasured.budget} is not checked: it was not "
            "measured for this variant (the report says why)",
            file=sys.stderr,
        )
    breaches = [c.sentence(job.name) for c in checks if c.passed is False]
    if breaches:
        return TaskFailed("\n".join(breaches))
    digests = memo(memo_path)
    digests.remember(f"report:{job.name}", "", "", _report_stats(job, digests))
    return {"size": data["size"]["size"]}


def summary(reports: list[Path], project: Project, settings: CacheSettings) -> TaskFailed | None:
    """Write build/summary.{json,md,html}; with a baseline, its deltas and growth budgets."""
    from rules.summary import collect, compare, markdown, no_baseline
    from rules.summary_html import html

    data = collect(reports)
    breaches: list[str] = []
    if not project.baseline:
        no_baseline(data)
    else:
        earlier, where = load_baseline(project.baseline, project.root, settings)
        if earlier is None:
            print(
                f"    warning: no baseline: {where}; the summary shows no deltas", file=sys.stderr
            )
        else:
            breaches = compare(data, earlier, where)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    build_dir = project.build_dir
    write_text_atomic(build_dir / "summary.json", text)
    write_text_atomic(build_dir / "summary.md", markdown(data))
    write_text_atomic(build_dir / "summary.html", html(data))
    line = f"    summary: {len(data['variants'])} variants, {data['total_bytes']:,} bytes"
    if data["baseline"]:
        line += f", {data['baseline']['total_delta']:+,} bytes against {data['baseline']['source']}"
    print(f"{line}; see {project.display(build_dir / 'summary.html')}", file=sys.stderr)
    if project.save_baseline:
        cache_for(settings).store(
            baseline_key(project.save_baseline),
            text.encode(),
            {"baseline": project.save_baseline},
            "",
        )
        print(
            f"    summary saved in the cache as baseline {project.save_baseline!r}", file=sys.stderr
        )
    return TaskFailed("\n".join(breaches)) if breaches else None


def baseline_key(name: str) -> str:
    """The cache key a named baseline summary is stored under (names are per cache)."""
    return hashlib.sha256(f"tflite-build baseline\0{name}".encode()).hexdigest()


def load_baseline(
    spec: str, root: Path, settings: CacheSettings
) -> tuple[dict[str, Any] | None, str]:
    """(the earlier summary or None, where it came from or why it is missing)."""
    if spec.startswith("cache:"):
        name = spec.removeprefix("cache:")
        hit = cache_for(settings).fetch(baseline_key(name))
        if hit is None:
            return None, f"no summary saved as {name!r} in the cache ({settings.describe()})"
        raw, where = hit.artifact, f"cache:{name}"
    else:
        path = root / spec
        try:
            raw = path.read_bytes()
        except OSError:
            return None, f"{spec} does not exist"
        where = spec
    try:
        earlier = json.loads(raw)
        if not isinstance(earlier, dict) or not isinstance(earlier.get("variants"), list):
            raise ValueError("not a summary")
    except ValueError:
        return None, f"{where} is not a summary.json"
    return earlier, where


def clean(job: ConvertJob) -> None:
    for path in (job.output, job.sidecar, job.log):
        path.unlink(missing_ok=True)


def cache_stats(settings: CacheSettings) -> TaskFailed | None:
    if settings.local is None:
        return TaskFailed("the cache is off (cache = 'off')")
    usage = LocalStore(settings.local).usage()
    limit = f" of {settings.max_size / 1e9:.1f} GB" if settings.max_size else ""
    print(
        f"{settings.local}: {usage.entries} entries, {usage.blobs} artifacts, "
        f"{usage.bytes / 1e6:.1f} MB{limit}"
    )
    if settings.remote:
        print(f"remote: {redact(settings.remote)}" + (" (read-only)" if settings.read_only else ""))
    return None


def cache_prune(settings: CacheSettings) -> TaskFailed | None:
    if settings.local is None or settings.max_size is None:
        return TaskFailed("nothing to prune: no local cache or no cache_max_size")
    removed = LocalStore(settings.local).prune(settings.max_size)
    print(
        f"removed {removed.entries} entries and {removed.blobs} artifacts "
        f"({removed.bytes / 1e6:.1f} MB); limit {settings.max_size / 1e9:.1f} GB"
    )
    return None


def report_check(manifests: int, variants: int) -> None:
    print(f"{manifests} manifest(s), {variants} variant(s): all valid")
