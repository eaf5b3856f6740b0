"""Cache entries as REAPI ActionResult messages, read back by a decoder that knows no schema.

The field numbers below are REAPI's (build/bazel/remote/execution/v2/
remote_execution.proto): ActionResult.output_files = 2, stdout_raw = 5,
stdout_digest = 6; OutputFile.path = 1, digest = 2, contents = 5; Digest.hash
= 1, size_bytes = 2. bbpb decodes the wire format with none of our code.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import blackboxprotobuf

from rules.cache import reapi

KEY = "ab" * 32


def digest(data: bytes) -> dict[str, Any]:
    return {"1": hashlib.sha256(data).hexdigest(), "2": len(data)}


def independently(entry: bytes) -> dict[str, Any]:
    message, _ = blackboxprotobuf.decode_message(entry)
    return {str(field): value for field, value in message.items()}


def test_an_entry_names_its_blobs_as_reapi_says() -> None:
    artifact, log = b"TFL3 model bytes", b"TensorFlow said things\n"
    record = reapi.record_blob(KEY, {"sha256": "x", "size": 16})
    message = independently(reapi.encode(artifact, record, log))
    files = {f["1"]: f for f in message["2"]}
    assert set(files) == {"artifact", "record.json"}
    assert files["artifact"]["2"] == digest(artifact)
    assert files["record.json"]["2"] == digest(record)
    assert json.loads(files["record.json"]["5"]) == {
        "format": 2,
        "key": KEY,
        "record": {"sha256": "x", "size": 16},
    }
    assert message["6"] == digest(log) and message["5"] == log.decode()


def test_a_large_log_is_named_not_inlined() -> None:
    log = b"x" * (reapi.INLINE_LOG + 1)
    message = independently(reapi.encode(b"a", reapi.record_blob(KEY, {}), log))
    assert message["6"] == digest(log) and "5" not in message


def test_decode_reads_what_encode_writes_and_refuses_the_rest() -> None:
    record = reapi.record_blob(KEY, {"n": 1})
    entry = reapi.decode(reapi.encode(b"artifact", record, b""))
    assert entry is not None
    assert entry.artifact == reapi.Blob.of(b"artifact") and entry.inline_record == record
    assert entry.log == reapi.Blob.of(b"") and entry.log.matches(entry.inline_log)
    assert reapi.read_record(KEY, record) == {"n": 1}
    assert reapi.read_record("cd" * 32, record) is None  # stored under another key
    assert reapi.decode(b"\x0agarbage") is None
    assert reapi.decode(b"") is None  # an empty ActionResult names no artifact
    assert reapi.earlier_format(b'{"format": 1}') and not reapi.earlier_format(b"\x12\x0b")


def test_the_same_entry_gives_the_same_bytes() -> None:
    record = reapi.record_blob(KEY, {"b": 2, "a": 1})
    assert reapi.encode(b"x", record, b"log") == reapi.encode(b"x", record, b"log")
