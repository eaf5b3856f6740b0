"""What doit runs: conversions through the engine, the up-to-date check, cleaning.

The only writer of build outputs. A conversion writes ``<variant>.tflite``
(atomically, through the engine), then its sidecar ``<variant>.convert.json``
(key, digest, size, warnings) and ``<variant>.convert.log`` (what TensorFlow
printed). The sidecar is written last, so a build killed at any point leaves
either a complete record or none; an artifact without a matching record is
rebuilt.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from converter.api import Engine, default_engine
from converter.errors import ConverterError
from rules.digests import DigestMemo
from rules.fingerprint import ConvertJob, cache_key

_memos: dict[Path, DigestMemo] = {}


def engine() -> Engine:
    """One engine (one persistent worker) per doit process, closed at exit."""
    return default_engine()


def memo(path: Path) -> DigestMemo:
    if path not in _memos:
        _memos[path] = DigestMemo(path)
    return _memos[path]


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temporary, path)


def read_sidecar(job: ConvertJob) -> dict[str, Any]:
    try:
        data = json.loads(job.sidecar.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class UpToDate:
    """doit ``uptodate``: true when the key and the artifact's bytes match the last build's.

    The record is doit's saved values, or failing that the sidecar, so work
    finished before a kill (when doit saved nothing) is not redone. A missing
    input is 'not up to date': the conversion then reports it properly.
    """

    def __init__(self, job: ConvertJob, memo_path: Path) -> None:
        self.job = job
        self.memo_path = memo_path

    def __call__(self, task: object, values: dict[str, Any]) -> bool:
        record = values if values.get("key") else read_sidecar(self.job)
        if not record.get("key") or not self.job.output.is_file():
            return False
        digests = memo(self.memo_path)
        try:
            key = cache_key(self.job, digests)
        except FileNotFoundError:
            return False
        return bool(record["key"] == key and digests.file(self.job.output) == record.get("sha256"))


def convert(job: ConvertJob, memo_path: Path) -> dict[str, Any] | TaskFailed:
    """Convert one variant; returns the record doit saves, or a one-sentence failure."""
    job.sidecar.unlink(missing_ok=True)
    try:
        key = cache_key(job, memo(memo_path))
    except FileNotFoundError as e:
        return TaskFailed(f"{job.name}: input {e.filename} does not exist")
    provenance = {
        "key": key,
        "model": job.model,
        "variant": job.variant,
        "source": job.fingerprint["source"],
        "options": job.fingerprint["options"],
    }
    try:
        result = engine().convert(job.source, job.options, job.output, provenance=provenance)
    except ConverterError as e:
        if e.log:
            write_atomic(job.log, e.log + "\n")
        where = f"\n  (TensorFlow's log: {os.path.relpath(job.log)})" if e.log else ""
        return TaskFailed(f"{job.name}: {e}{where}")
    write_atomic(job.log, result.log)
    record = {
        "key": key,
        "sha256": result.sha256,
        "size": result.size,
        "seconds": round(result.seconds, 3),
        "warnings": list(result.warnings),
        "fingerprint": job.fingerprint,
    }
    write_atomic(job.sidecar, json.dumps(record, indent=2, sort_keys=True) + "\n")
    for warning in result.warnings:
        print(f"    warning: {job.name}: {warning}", file=sys.stderr)
    print(f"    {job.name}: {result.size:,} bytes in {result.seconds:.1f} s", file=sys.stderr)
    return {"key": key, "sha256": result.sha256}


def clean(job: ConvertJob) -> None:
    for path in (job.output, job.sidecar, job.log):
        path.unlink(missing_ok=True)


def report_check(manifests: int, variants: int) -> None:
    print(f"{manifests} manifest(s), {variants} variant(s): all valid")
