"""The artifact cache on its local store: hits, misses, corrupt entries, concurrent writers (no TF)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

from rules.cache.artifacts import ArtifactCache
from rules.cache.settings import CacheSettings
from rules.cache.stores.local import LocalStore
from tests.support.caches import KEY, OTHER, artifact, make_cache


def test_local_hit_and_miss(tmp_path: Path) -> None:
    cache, warnings = make_cache(tmp_path)
    assert cache.fetch(KEY) is None
    cache.store(KEY, artifact(1), {"sha256": hashlib.sha256(artifact(1)).hexdigest()}, "log text")
    hit = cache.fetch(KEY)
    assert hit is not None and hit.artifact == artifact(1) and hit.origin == "local"
    assert hit.log == "log text" and hit.record["sha256"] == hashlib.sha256(artifact(1)).hexdigest()
    assert cache.fetch(OTHER) is None
    assert warnings == []


def _blob_path(tmp_path: Path, data: bytes) -> Path:
    return LocalStore(tmp_path / "local").path("cas", hashlib.sha256(data).hexdigest())


def test_corrupted_blob_is_a_miss_and_evicted(tmp_path: Path) -> None:
    cache, warnings = make_cache(tmp_path)
    cache.store(KEY, artifact(1), {}, "")
    blob = _blob_path(tmp_path, artifact(1))
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF  # one flipped bit, same size
    blob.write_bytes(bytes(data))
    assert cache.fetch(KEY) is None
    assert len(warnings) == 1 and "does not match its sha256" in warnings[0]
    assert not blob.exists() and not LocalStore(tmp_path / "local").path("ac", KEY).exists()
    cache.store(KEY, artifact(1), {}, "")  # the next build stores it again
    assert cache.fetch(KEY) is not None


def test_truncated_blob_and_garbage_entry_are_misses(tmp_path: Path) -> None:
    cache, warnings = make_cache(tmp_path)
    cache.store(KEY, artifact(1), {}, "")
    blob = _blob_path(tmp_path, artifact(1))
    blob.write_bytes(blob.read_bytes()[:10])
    assert cache.fetch(KEY) is None
    cache.store(OTHER, artifact(2), {}, "")
    LocalStore(tmp_path / "local").path("ac", OTHER).write_bytes(b"\x0agarbage")
    assert cache.fetch(OTHER) is None
    assert len(warnings) == 2 and "not an ActionResult of ours" in warnings[1]


def test_an_entry_of_the_json_format_is_a_plain_miss(tmp_path: Path) -> None:
    cache, warnings = make_cache(tmp_path)
    cache.store(KEY, artifact(1), {}, "")
    old = {"format": 1, "key": KEY, "sha256": "0" * 64, "size": 1, "record": {}, "log": ""}
    LocalStore(tmp_path / "local").path("ac", KEY).write_bytes(json.dumps(old).encode())
    assert cache.fetch(KEY) is None and warnings == []
    cache.store(KEY, artifact(1), {"n": 1}, "log")  # the next build writes it anew
    hit = cache.fetch(KEY)
    assert hit is not None and hit.record == {"n": 1} and hit.log == "log"


def test_entry_for_another_key_is_refused(tmp_path: Path) -> None:
    cache, warnings = make_cache(tmp_path)
    cache.store(KEY, artifact(1), {}, "")
    store = LocalStore(tmp_path / "local")
    store.put("ac", OTHER, store.path("ac", KEY).read_bytes())  # a misplaced entry
    assert cache.fetch(OTHER) is None and warnings


def _writer(root: str, worker: int) -> None:
    cache = ArtifactCache(CacheSettings(Path(root)))
    for i in range(40):
        cache.store(KEY, artifact(0, 64 * 1024), {"worker": worker}, "")  # all write the same key
        cache.store(f"{worker:02d}{i:062d}", artifact(i, 8192), {"i": i}, "")


def test_concurrent_writers_corrupt_nothing(tmp_path: Path) -> None:
    processes = [
        multiprocessing.get_context("spawn").Process(
            target=_writer, args=(str(tmp_path / "local"), w)
        )
        for w in range(4)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
        assert p.exitcode == 0
    cache, warnings = make_cache(tmp_path)
    hit = cache.fetch(KEY)
    assert hit is not None and hit.artifact == artifact(0, 64 * 1024)
    for w in range(4):
        for i in range(40):
            found = cache.fetch(f"{w:02d}{i:062d}")
            assert found is not None and found.artifact == artifact(i, 8192)
    assert warnings == []
    assert not list((tmp_path / "local").rglob("*.tmp"))
