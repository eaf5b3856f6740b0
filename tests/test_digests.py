"""The digest memo: files hashed once per content, folder listings remembered by folder mtimes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import write_files

from rules.digests import DigestMemo


def _model(root: Path) -> Path:
    write_files(root, {"sm/saved_model.pb": b"graph", "sm/variables/v.data": b"weights"})
    (root / "sm/assets").mkdir()
    return root / "sm"


def test_touched_files_are_hashed_once(tmp_path: Path) -> None:
    sm = _model(tmp_path)
    first = DigestMemo(tmp_path / "d.sqlite")
    digests = first.tree(str(sm))
    assert first.hashed == 2
    later = time.time() + 10
    for path in (sm / "saved_model.pb", sm / "variables/v.data"):
        os.utime(path, (later, later))
    second = DigestMemo(tmp_path / "d.sqlite")  # a new build: a new process
    assert second.tree(str(sm)) == digests and second.hashed == 2
    third = DigestMemo(tmp_path / "d.sqlite")
    assert third.tree(str(sm)) == digests and third.hashed == 0


def test_listing_notices_files_added_or_removed_anywhere(tmp_path: Path) -> None:
    sm = _model(tmp_path)
    DigestMemo(tmp_path / "d.sqlite").tree(str(sm))
    (sm / "assets/vocab.txt").write_text("new")  # in a folder that was empty
    names = [Path(p).name for p, _ in DigestMemo(tmp_path / "d.sqlite").tree(str(sm))]
    assert names == ["vocab.txt", "saved_model.pb", "v.data"]  # by relative path
    (sm / "variables/v.data").unlink()
    names = [Path(p).name for p, _ in DigestMemo(tmp_path / "d.sqlite").tree(str(sm))]
    assert names == ["vocab.txt", "saved_model.pb"]


def test_changed_bytes_change_the_digest(tmp_path: Path) -> None:
    sm = _model(tmp_path)
    before = dict(DigestMemo(tmp_path / "d.sqlite").tree(str(sm)))
    (sm / "variables/v.data").write_bytes(b"other weights")
    after = dict(DigestMemo(tmp_path / "d.sqlite").tree(str(sm)))
    assert before[str(sm / "saved_model.pb")] == after[str(sm / "saved_model.pb")]
    assert before[str(sm / "variables/v.data")] != after[str(sm / "variables/v.data")]


def test_a_learned_digest_is_not_read_again(tmp_path: Path) -> None:
    artifact = tmp_path / "model.tflite"
    artifact.write_bytes(b"converted bytes")
    memo = DigestMemo(tmp_path / "d.sqlite")
    memo.learn(artifact, "d" * 64)  # what the engine computed while writing it
    assert memo.file(artifact) == "d" * 64 and memo.hashed == 0
    artifact.write_bytes(b"edited by hand!")
    assert memo.file(artifact) != "d" * 64 and memo.hashed == 1
