"""Action-cache entries as REAPI ``ActionResult`` messages: the form Bazel's cache servers accept.

bazel-remote (and BuildBuddy, buildbarn...) validate what is uploaded to
``ac/``: an ``ActionResult`` whose blobs are all in the CAS. So an entry of
ours is one, naming three CAS blobs by digest:

- the output file ``artifact``: the artifact's bytes;
- the output file ``record.json``: the entry's record, with the key it was
  stored under (its contents are inlined too, to save a read);
- stdout: the conversion log (inlined in ``stdout_raw`` as well when small).

The messages come from REAPI's published protocol buffers, as BuildGrid's
common package generates them; nothing here encodes protobuf by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

ARTIFACT = "artifact"
RECORD = "record.json"
ENTRY_FORMAT = 2  # 1 was a JSON entry: read as a miss
INLINE_LOG = 64 * 1024  # a log up to this size also travels inside the entry


@dataclass(frozen=True)
class Blob:
    """A CAS blob: its sha256 and size, as REAPI's Digest names it."""

    sha256: str
    size: int

    @classmethod
    def of(cls, data: bytes) -> Blob:
        return cls(hashlib.sha256(data).hexdigest(), len(data))

    def matches(self, data: bytes) -> bool:
        return len(data) == self.size and hashlib.sha256(data).hexdigest() == self.sha256


@dataclass(frozen=True)
class Entry:
    """A decoded entry: the blobs it names, and what it inlines (checked against their digests)."""

    artifact: Blob
    record: Blob
    log: Blob
    inline_record: bytes = b""
    inline_log: bytes = b""


def record_blob(key: str, record: dict[str, Any]) -> bytes:
    """The record as the entry stores it: with its format and the key it belongs to."""
    wrapped = {"format": ENTRY_FORMAT, "key": key, "record": record}
    return json.dumps(wrapped, sort_keys=True).encode()


def read_record(key: str, data: bytes) -> dict[str, Any] | None:
    """The record in a ``record.json`` blob; None when it is not one of this key."""
    try:
        wrapped = json.loads(data)
        ok = wrapped["format"] == ENTRY_FORMAT and wrapped["key"] == key
        record = wrapped["record"]
    except (ValueError, KeyError, TypeError):
        return None
    return record if ok and isinstance(record, dict) else None


def encode(artifact: bytes, record: bytes, log: bytes) -> bytes:
    """The ``ActionResult`` naming the three blobs (which the caller stores in the CAS first)."""
    from buildgrid.common.protos.build.bazel.remote.execution.v2 import (
        remote_execution_pb2 as rex,
    )

    result = rex.ActionResult(exit_code=0)
    for path, data in ((ARTIFACT, artifact), (RECORD, record)):
        output = result.output_files.add(path=path)
        _digest(output.digest, data)
        if path == RECORD:
            output.contents = data
    _digest(result.stdout_digest, log)
    if len(log) <= INLINE_LOG:
        result.stdout_raw = log
    encoded: bytes = result.SerializeToString(deterministic=True)
    return encoded


def _digest(target: Any, data: bytes) -> None:
    blob = Blob.of(data)
    target.hash = blob.sha256
    target.size_bytes = blob.size


def earlier_format(data: bytes) -> bool:
    """Whether an entry is of format 1, JSON: a plain miss, replaced on the next store."""
    return data.lstrip()[:1] == b"{"


def decode(data: bytes) -> Entry | None:
    """The entry in an ``ActionResult``; None when it is not one of the form we write (damage)."""
    from buildgrid.common.protos.build.bazel.remote.execution.v2 import (
        remote_execution_pb2 as rex,
    )
    from google.protobuf.message import DecodeError

    result = rex.ActionResult()
    try:
        result.ParseFromString(data)
    except DecodeError:
        return None
    files = {f.path: f for f in result.output_files}
    if set(files) != {ARTIFACT, RECORD} or not result.HasField("stdout_digest"):
        return None
    blobs = [files[ARTIFACT].digest, files[RECORD].digest, result.stdout_digest]
    if not all(len(d.hash) == 64 and d.hash.isalnum() and d.size_bytes >= 0 for d in blobs):
        return None
    artifact, record, log = (Blob(d.hash, d.size_bytes) for d in blobs)
    return Entry(artifact, record, log, files[RECORD].contents, result.stdout_raw)
