"""Cache entries as REAPI ActionResult messages, read back by a decoder that knows no schema.

The field numbers below are REAPI's (build/bazel/remote/execution/v2/
remote_execution.proto): ActionResult.output_files = 2, stdout_raw = 5,
stdout_digest = 6; OutputFile.path = 1, digest = 2, contents = 5; Digest.hash
= 1, size_bytes = 2. bbpb decodes the wire format with none of our code.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
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


# Builds a record from (key, value) pairs in the order given (nested pairs as dicts too),
# encodes the entry and prints it: what another process, another hash seed, writes.
ENCODE = """
import json, sys
from rules.cache import reapi

def build(pairs):
    return {k: build(v) if isinstance(v, list) and v and isinstance(v[0], list) else v
            for k, v in pairs}

record = build(json.loads(sys.argv[2]))
print(reapi.encode(b"TFL3 artifact", reapi.record_blob(sys.argv[1], record), b"log\\n").hex())
"""
RECORD = [
    ["sha256", "ab" * 32],
    ["size", 13],
    ["discovered", ["m/helper.py", "m/weights.npz"]],
    ["provenance", [["tensorflow", "2.21.0"], ["keras", "3.11.0"], ["tflite-build", "0.1.0"]]],
    ["seconds", 0.25],
]


def _reversed(pairs: list[Any]) -> list[Any]:
    """The same record with every dict's keys inserted in the opposite order."""
    return [
        [k, _reversed(v) if isinstance(v, list) and v and isinstance(v[0], list) else v]
        for k, v in reversed(pairs)
    ]


def test_the_same_entry_gives_the_same_bytes_in_any_process() -> None:
    """A key names one entry: every process must write it byte for byte alike, whatever its
    hash seed (set and dict internals) or the order its record's keys were inserted in."""
    runs = []
    for seed, pairs in [("0", RECORD), ("1", _reversed(RECORD)), ("4242", RECORD)]:
        run = subprocess.run(
            [sys.executable, "-c", ENCODE, KEY, json.dumps(pairs)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        runs.append(bytes.fromhex(run.stdout.strip()))
    assert runs[0] == runs[1] == runs[2]
    # The record inside is the canonical JSON of the record, whatever the insertion order.
    (record,) = [f["5"] for f in independently(runs[1])["2"] if f["1"] == "record.json"]
    assert json.loads(record)["record"]["provenance"] == {
        "keras": "3.11.0",
        "tensorflow": "2.21.0",
        "tflite-build": "0.1.0",
    }
    assert record.index('"discovered"') < record.index('"provenance"') < record.index('"sha256"')
