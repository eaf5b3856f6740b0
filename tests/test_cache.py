"""The artifact cache against real stores: a directory, nginx WebDAV (Bazel's layout), moto's S3.

The cache moves bytes; these tests use random artifacts, no TensorFlow.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import moto_s3, nginx_webdav, silent_server

from converter.files import sweep
from rules.cache import ArtifactCache, CacheSettings
from rules.stores import Access, LocalStore

KEY = "a" * 64
OTHER = "b" * 64


def artifact(seed: int, size: int = 4096) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32)


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def make(
    tmp_path: Path, remote: str | None = None, **kwargs: object
) -> tuple[ArtifactCache, Warnings]:
    warnings = Warnings()
    settings = CacheSettings(tmp_path / "local", remote, **kwargs)  # type: ignore[arg-type]
    return ArtifactCache(settings, warn=warnings), warnings


def test_local_hit_and_miss(tmp_path: Path) -> None:
    cache, warnings = make(tmp_path)
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
    cache, warnings = make(tmp_path)
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
    cache, warnings = make(tmp_path)
    cache.store(KEY, artifact(1), {}, "")
    blob = _blob_path(tmp_path, artifact(1))
    blob.write_bytes(blob.read_bytes()[:10])
    assert cache.fetch(KEY) is None
    cache.store(OTHER, artifact(2), {}, "")
    LocalStore(tmp_path / "local").path("ac", OTHER).write_bytes(b"{not json")
    assert cache.fetch(OTHER) is None
    assert len(warnings) == 2 and "not valid JSON" in warnings[1]


def test_entry_for_another_key_is_refused(tmp_path: Path) -> None:
    cache, warnings = make(tmp_path)
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
    cache, warnings = make(tmp_path)
    hit = cache.fetch(KEY)
    assert hit is not None and hit.artifact == artifact(0, 64 * 1024)
    for w in range(4):
        for i in range(40):
            found = cache.fetch(f"{w:02d}{i:062d}")
            assert found is not None and found.artifact == artifact(i, 8192)
    assert warnings == []
    assert not list((tmp_path / "local").rglob("*.tmp"))


def test_prune_removes_least_recently_used(tmp_path: Path) -> None:
    cache, _ = make(tmp_path)
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
    assert (before.entries, before.blobs) == (5, 5)
    removed = store.prune(2_500_000)
    assert store.usage().bytes <= 2_500_000 and removed.blobs >= 3
    assert cache.fetch(keys[0]) is not None


def test_dead_remote_degrades_to_local_with_one_warning(tmp_path: Path) -> None:
    from servers import free_port

    cache, warnings = make(tmp_path, f"http://user:secret@127.0.0.1:{free_port()}/cache")
    assert cache.fetch(KEY) is None
    cache.store(KEY, artifact(1), {}, "")
    assert cache.fetch(KEY) is not None  # from the local store
    assert cache.fetch(OTHER) is None
    assert len(warnings) == 1 and "remote cache unavailable, building locally" in warnings[0]
    assert "secret" not in warnings[0] and "user" not in warnings[0]


def test_a_silent_remote_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    with silent_server() as port:
        cache, warnings = make(tmp_path, f"http://127.0.0.1:{port}/cache", timeout=1.0)
        start = time.monotonic()
        assert cache.fetch(KEY) is None
        assert time.monotonic() - start < 10
        assert len(warnings) == 1 and "timed out" in warnings[0]


@pytest.fixture
def webdav(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with nginx_webdav(tmp_path / "server") as server:
        yield server


def test_http_remote_hit_fills_the_local_cache(tmp_path: Path, webdav: tuple[str, Path]) -> None:
    url, served = webdav
    writer, warnings = make(tmp_path / "ci", url)
    writer.store(KEY, artifact(1), {"size": 4096}, "the log")
    assert (served / "ac" / KEY).is_file()
    assert (served / "cas" / hashlib.sha256(artifact(1)).hexdigest()).is_file()
    reader, _ = make(tmp_path / "laptop", url)
    hit = reader.fetch(KEY)
    assert hit is not None and hit.origin == "remote" and hit.artifact == artifact(1)
    assert reader.fetch(OTHER) is None
    offline, _ = make(tmp_path / "laptop")  # the same local directory, no remote at all
    local = offline.fetch(KEY)
    assert local is not None and local.origin == "local" and local.log == "the log"
    assert warnings == []


def test_http_remote_returning_garbage_is_a_miss(tmp_path: Path, webdav: tuple[str, Path]) -> None:
    url, served = webdav
    writer, _ = make(tmp_path / "ci", url)
    writer.store(KEY, artifact(1), {}, "")
    (served / "cas" / hashlib.sha256(artifact(1)).hexdigest()).write_bytes(b"<html>oops</html>")
    reader, warnings = make(tmp_path / "laptop", url)
    assert reader.fetch(KEY) is None
    assert len(warnings) == 1 and "remote cache entry" in warnings[0]
    assert not (served / "ac" / KEY).exists(), "the corrupt remote entry is evicted"


def test_read_only_mode_never_writes_the_remote(tmp_path: Path, webdav: tuple[str, Path]) -> None:
    url, served = webdav
    cache, _ = make(tmp_path / "pr", url, read_only=True)
    cache.store(KEY, artifact(1), {}, "")
    assert not (served / "ac" / KEY).exists()
    assert cache.fetch(KEY) is not None  # still kept locally
    trusted, _ = make(tmp_path / "main", url)
    trusted.store(OTHER, artifact(2), {}, "")
    pr, _ = make(tmp_path / "pr2", url, read_only=True)
    hit = pr.fetch(OTHER)
    assert hit is not None and hit.origin == "remote"


def test_s3_remote_hit_and_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto_s3("tflite-cache") as endpoint:
        access = Access(options={"endpoint_url": endpoint})
        writer, warnings = make(tmp_path / "ci", "s3://tflite-cache/team", access=access)
        writer.store(KEY, artifact(1), {"n": 1}, "")
        reader, _ = make(tmp_path / "laptop", "s3://tflite-cache/team", access=access)
        hit = reader.fetch(KEY)
        assert hit is not None and hit.origin == "remote" and hit.artifact == artifact(1)
        assert reader.fetch(OTHER) is None
        assert warnings == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_follow_the_umask_like_any_new_file(tmp_path: Path, umask: int) -> None:
    """The umask is read once, when the process starts writing: as a build process sets it."""
    script = (
        "import os, sys\n"
        f"os.umask({umask})\n"
        "from pathlib import Path\n"
        "from converter.files import write_atomic\n"
        "root = Path(sys.argv[1])\n"
        "write_atomic(root / 'artifact.tflite', b'bytes')\n"
        "(root / 'plain').write_bytes(b'bytes')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    mode = (tmp_path / "artifact.tflite").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777 == 0o666 & ~umask


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
