"""The local store: least recently used entries pruned first, killed writers' files swept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from converter.files import sweep
from rules.cache.stores.local import LocalStore
from tests.support.caches import artifact, make_cache


def test_prune_removes_least_recently_used(tmp_path: Path) -> None:
    cache, _ = make_cache(tmp_path)
    keys = [f"{i}" * 64 for i in range(1, 6)]
    for n, key in enumerate(keys):
        cache.store(key, artifact(n, 1_000_000), {}, "")
    past = time.time() - 1000
    for n, path in enumerate(sorted((tmp_path / "local").rglob("*"))):
        if path.is_file():
            os.utime(path, (past + n, past + n))
    assert cache.fetch(keys[0]) is not None  # used just now: must survive
    store = LocalStore(tmp_path / "local")
    before = store.usage()
    # Each entry's artifact and record, and one (empty) log they all share.
    assert (before.entries, before.blobs) == (5, 11)
    removed = store.prune(2_500_000)
    assert store.usage().bytes <= 2_500_000 and removed.blobs >= 3
    assert cache.fetch(keys[0]) is not None


def test_temporary_files_of_killed_writers_are_swept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone, alive = int(dead.stdout), os.getpid()
    store = LocalStore(tmp_path / "cache")
    store.put("cas", "ab" * 32, b"blob")
    folder = tmp_path / "cache" / "cas" / "ab"
    orphan = folder / f".{'ab' * 32}.{gone}-deadbeef.tmp"
    busy = folder / f".{'cd' * 32}.{alive}-0badf00d.tmp"
    orphan.write_bytes(b"half")
    busy.write_bytes(b"being written")
    store.prune(10**9)  # pruning sweeps first, whatever the size
    assert not orphan.exists() and busy.exists() and store.get("cas", "ab" * 32) == b"blob"
    build = tmp_path / "build" / "m"
    build.mkdir(parents=True)
    (build / f".float32.tflite.{gone}-12345678.tmp").write_bytes(b"half")
    assert sweep(build) == 1 and not list(build.iterdir())
