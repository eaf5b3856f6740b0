"""The artifact cache against real stores: a directory, nginx WebDAV (Bazel's layout), moto's S3.

The cache moves bytes; these tests use random artifacts, no TensorFlow. Faulty remotes
are real servers too: a proxy that answers 503 on purpose (and counts every request it
sees), a closed port, a port that accepts and never answers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rules.cache.artifacts import ArtifactCache
from rules.cache.stores.base import (
    ATTEMPTS,
    READ_ATTEMPTS,
    Access,
)
from tests.support.caches import KEY, OTHER, Warnings, artifact, make_cache
from tests.support.servers import (
    buildgrid,
    failing_proxy,
    free_port,
    moto_s3,
    nginx_webdav,
    silent_server,
)


def origin(url: str) -> str:
    """``http://host:port`` of a URL: what a proxy in front of it forwards to."""
    return "/".join(url.split("/")[:3])


def test_dead_remote_degrades_to_local_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        cache, warnings = make_cache(tmp_path, f"http://user:secret@127.0.0.1:{free_port()}/cache")
        assert cache.fetch(KEY) is None
    # Nothing listens, so the attempts are counted on the client's side: urllib3 logs a retry.
    retries = [r for r in caplog.records if r.getMessage().startswith("Retrying")]
    assert len(retries) == ATTEMPTS - 1
    cache.store(KEY, artifact(1), {}, "")
    assert cache.fetch(KEY) is not None  # from the local store
    assert cache.fetch(OTHER) is None
    assert len(warnings) == 1 and "remote cache unavailable, building locally" in warnings[0]
    assert "Connection refused" in warnings[0]
    assert "secret" not in warnings[0] and "user" not in warnings[0]


def test_a_silent_remote_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    with silent_server() as server:
        cache, warnings = make_cache(tmp_path, f"http://127.0.0.1:{server.port}/cache", timeout=1.0)
        assert cache.fetch(KEY) is None
        assert cache.fetch(OTHER) is None  # dropped: no more waiting
        assert server.connections == READ_ATTEMPTS
    assert warnings == [
        f"remote cache unavailable, building locally: GET http://127.0.0.1:{server.port}"
        "/cache/ac/…: timed out (no answer in 1 s)"
    ]


@pytest.fixture
def webdav(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with nginx_webdav(tmp_path / "server") as server:
        yield server


def test_http_remote_hit_fills_the_local_cache(tmp_path: Path, webdav: tuple[str, Path]) -> None:
    url, served = webdav
    writer, warnings = make_cache(tmp_path / "ci", url)
    writer.store(KEY, artifact(1), {"size": 4096}, "the log")
    assert (served / "ac" / KEY).is_file()
    assert (served / "cas" / hashlib.sha256(artifact(1)).hexdigest()).is_file()
    reader, _ = make_cache(tmp_path / "laptop", url)
    hit = reader.fetch(KEY)
    assert hit is not None and hit.origin == "remote" and hit.artifact == artifact(1)
    assert reader.fetch(OTHER) is None
    offline, _ = make_cache(tmp_path / "laptop")  # the same local directory, no remote at all
    local = offline.fetch(KEY)
    assert local is not None and local.origin == "local" and local.log == "the log"
    assert warnings == []


def test_http_remote_returning_garbage_is_a_miss(tmp_path: Path, webdav: tuple[str, Path]) -> None:
    url, served = webdav
    writer, _ = make_cache(tmp_path / "ci", url)
    writer.store(KEY, artifact(1), {}, "")
    (served / "cas" / hashlib.sha256(artifact(1)).hexdigest()).write_bytes(b"<html>oops</html>")
    reader, warnings = make_cache(tmp_path / "laptop", url)
    assert reader.fetch(KEY) is None
    assert len(warnings) == 1 and "remote cache entry" in warnings[0]
    assert not (served / "ac" / KEY).exists(), "the corrupt remote entry is evicted"


def test_read_only_mode_never_writes_the_remote(tmp_path: Path, webdav: tuple[str, Path]) -> None:
    url, served = webdav
    cache, _ = make_cache(tmp_path / "pr", url, read_only=True)
    cache.store(KEY, artifact(1), {}, "")
    assert not (served / "ac" / KEY).exists()
    assert cache.fetch(KEY) is not None  # still kept locally
    trusted, _ = make_cache(tmp_path / "main", url)
    trusted.store(OTHER, artifact(2), {}, "")
    pr, _ = make_cache(tmp_path / "pr2", url, read_only=True)
    hit = pr.fetch(OTHER)
    assert hit is not None and hit.origin == "remote"


def test_http_remote_retries_a_failing_call_and_reuses_its_connection(
    tmp_path: Path, webdav: tuple[str, Path]
) -> None:
    url, _ = webdav
    writer, _ = make_cache(tmp_path / "ci", url)
    writer.store(KEY, artifact(1), {}, "")
    with failing_proxy(origin(url), failing=ATTEMPTS - 1) as proxy:
        reader, warnings = make_cache(tmp_path / "laptop", proxy.url + "/cache")
        hit = reader.fetch(KEY)
        assert reader.fetch(OTHER) is None
    assert hit is not None and hit.origin == "remote" and hit.artifact == artifact(1)
    assert warnings == []
    assert [method for method, _ in proxy.requests] == ["GET"] * (ATTEMPTS + 2)
    assert [path.split("/")[2] for _, path in proxy.requests] == ["ac"] * ATTEMPTS + ["cas", "ac"]
    assert len(set(proxy.client_ports)) == 1, "one connection for every call, 503s included"


def test_http_remote_that_always_fails_costs_bounded_attempts_and_one_warning(
    tmp_path: Path, webdav: tuple[str, Path]
) -> None:
    url, _ = webdav
    with failing_proxy(origin(url), failing=-1) as proxy:
        cache, warnings = make_cache(tmp_path, proxy.url + "/cache")
        assert cache.fetch(KEY) is None
        assert len(proxy.requests) == ATTEMPTS
        cache.store(KEY, artifact(1), {}, "")
        assert cache.fetch(KEY) is not None and cache.fetch(OTHER) is None
        assert len(proxy.requests) == ATTEMPTS, "the remote is dropped for the rest of the run"
    assert warnings == [
        f"remote cache unavailable, building locally: GET {proxy.url}/cache/ac/…: "
        "HTTP 503 Service Unavailable"
    ]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 on loopback with the bucket tflite-cache; yields its endpoint."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto_s3("tflite-cache") as endpoint:
        yield endpoint


def s3_cache(tmp_path: Path, endpoint: str) -> tuple[ArtifactCache, Warnings]:
    access = Access(options={"endpoint_url": endpoint})
    return make_cache(tmp_path, "s3://tflite-cache/team", access=access)


def test_s3_remote_hit_and_miss(tmp_path: Path, s3: str) -> None:
    writer, warnings = s3_cache(tmp_path / "ci", s3)
    writer.store(KEY, artifact(1), {"n": 1}, "")
    reader, _ = s3_cache(tmp_path / "laptop", s3)
    hit = reader.fetch(KEY)
    assert hit is not None and hit.origin == "remote" and hit.artifact == artifact(1)
    assert reader.fetch(OTHER) is None
    assert warnings == []


def test_s3_remote_retries_a_failing_call(tmp_path: Path, s3: str) -> None:
    writer, _ = s3_cache(tmp_path / "ci", s3)
    writer.store(KEY, artifact(1), {}, "")
    with failing_proxy(s3, failing=ATTEMPTS - 1) as proxy:
        reader, warnings = s3_cache(tmp_path / "laptop", proxy.url)
        hit = reader.fetch(KEY)
    assert hit is not None and hit.origin == "remote" and hit.artifact == artifact(1)
    assert warnings == []
    assert [method for method, _ in proxy.requests[:ATTEMPTS]] == ["HEAD"] * ATTEMPTS
    assert len({path for _, path in proxy.requests[:ATTEMPTS]}) == 1  # one call, tried again


def test_s3_remote_that_always_fails_costs_bounded_attempts_and_one_warning(
    tmp_path: Path, s3: str
) -> None:
    with failing_proxy(s3, failing=-1) as proxy:
        cache, warnings = s3_cache(tmp_path, proxy.url)
        assert cache.fetch(KEY) is None
        assert len(proxy.requests) == ATTEMPTS  # s3fs's own retries do not multiply botocore's
        cache.store(KEY, artifact(1), {}, "")
        assert cache.fetch(KEY) is not None
        assert len(proxy.requests) == ATTEMPTS
    assert len(warnings) == 1 and "Service Unavailable" in warnings[0]


def test_a_silent_s3_remote_is_bounded_by_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with silent_server() as server:
        access = Access(options={"endpoint_url": f"http://127.0.0.1:{server.port}"})
        cache, warnings = make_cache(tmp_path, "s3://tflite-cache/team", access=access, timeout=1.0)
        assert cache.fetch(KEY) is None
        assert cache.fetch(OTHER) is None
        assert server.connections == ATTEMPTS
    assert len(warnings) == 1 and "timeout" in warnings[0].lower()


def test_an_http_entry_passes_the_validation_bazel_remote_applies(
    tmp_path: Path, webdav: tuple[str, Path]
) -> None:
    """What the server holds is an ActionResult whose every blob is in the CAS, as uploaded.

    Read with bbpb, which decodes protobuf without a schema (none of our code):
    ActionResult.output_files is field 2 (OutputFile: path 1, digest 2),
    stdout_digest field 6 (Digest: hash 1, size_bytes 2).
    """
    import blackboxprotobuf

    url, served = webdav
    cache, _ = make_cache(tmp_path, url)
    cache.store(KEY, artifact(1), {"size": 4096}, "the log")
    message, _ = blackboxprotobuf.decode_message((served / "ac" / KEY).read_bytes())
    named = [f["2"] for f in message["2"]]
    named.append(message["6"])
    for blob in named:
        stored = (served / "cas" / blob["1"]).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == blob["1"] and len(stored) == blob["2"]
    assert any((served / "cas" / b["1"]).read_bytes() == artifact(1) for b in named)
    assert any((served / "cas" / b["1"]).read_bytes() == b"the log" for b in named)


# --- the gRPC cache, against BuildGrid ----------------------------------------------------------


@pytest.fixture
def reapi_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with buildgrid(tmp_path / "buildgrid", instance="main") as server:
        yield server


def test_grpc_cache_hit_and_miss(tmp_path: Path, reapi_server: tuple[str, Path]) -> None:
    url, cas = reapi_server
    large = bytes(range(256)) * 12_000  # 3 MB: ByteStream writes and reads it in chunks
    writer, warnings = make_cache(tmp_path / "ci", url)
    writer.store(KEY, large, {"size": len(large)}, "the log")
    digest = hashlib.sha256(large).hexdigest()
    assert (cas / digest[:2] / digest[2:]).is_file()  # BuildGrid's disk layout
    reader, _ = make_cache(tmp_path / "laptop", url)
    hit = reader.fetch(KEY)
    assert hit is not None and hit.origin == "remote" and hit.artifact == large
    assert hit.record == {"size": len(large)} and hit.log == "the log"
    assert reader.fetch(OTHER) is None
    assert warnings == []
    offline, _ = make_cache(tmp_path / "laptop")  # the hit filled the local cache
    local = offline.fetch(KEY)
    assert local is not None and local.origin == "local" and local.artifact == large


def test_grpc_cache_corrupt_blob_is_a_miss_with_one_warning(
    tmp_path: Path, reapi_server: tuple[str, Path]
) -> None:
    url, cas = reapi_server
    writer, _ = make_cache(tmp_path / "ci", url)
    writer.store(KEY, artifact(1), {}, "")
    digest = hashlib.sha256(artifact(1)).hexdigest()
    stored = cas / digest[:2] / digest[2:]  # BuildGrid's disk layout
    stored.write_bytes(b"tampered" + stored.read_bytes()[8:])
    reader, warnings = make_cache(tmp_path / "laptop", url)
    assert reader.fetch(KEY) is None
    assert len(warnings) == 1 and "does not match its sha256" in warnings[0], warnings
    # REAPI has no delete, and the server keeps the blob it has: a miss each time, never
    # a wrong artifact, until the server drops the blob.
    reader.store(KEY, artifact(1), {}, "")
    again, later = make_cache(tmp_path / "other", url)
    assert again.fetch(KEY) is None and "does not match its sha256" in later[0]


def test_grpc_cache_down_costs_one_warning_and_the_build_goes_on(tmp_path: Path) -> None:
    cache, warnings = make_cache(tmp_path, f"grpc://127.0.0.1:{free_port()}")
    assert cache.fetch(KEY) is None
    cache.store(KEY, artifact(1), {}, "")
    assert cache.fetch(KEY) is not None  # from the local store
    assert len(warnings) == 1 and "remote cache unavailable, building locally" in warnings[0]
    assert "UNAVAILABLE" in warnings[0]


def test_grpc_entries_are_actionresults_another_implementation_reads(
    tmp_path: Path, reapi_server: tuple[str, Path]
) -> None:
    """BuildGrid's own client code reads our entry back, and finds its blobs by digest."""
    url, _ = reapi_server
    cache, _ = make_cache(tmp_path, url)
    cache.store(KEY, artifact(1), {"n": 1}, "log")
    import grpc
    from buildgrid.common.protos.build.bazel.remote.execution.v2 import (
        remote_execution_pb2 as rex,
    )
    from buildgrid.common.protos.build.bazel.remote.execution.v2 import (
        remote_execution_pb2_grpc as rex_grpc,
    )

    with grpc.insecure_channel(url.removeprefix("grpc://").split("/")[0]) as channel:
        result = rex_grpc.ActionCacheStub(channel).GetActionResult(
            rex.GetActionResultRequest(
                instance_name="main", action_digest=rex.Digest(hash=KEY, size_bytes=0)
            ),
            timeout=10,
        )
        files = {f.path: f.digest for f in result.output_files}
        missing = rex_grpc.ContentAddressableStorageStub(channel).FindMissingBlobs(
            rex.FindMissingBlobsRequest(
                instance_name="main", blob_digests=[*files.values(), result.stdout_digest]
            ),
            timeout=10,
        )
    assert set(files) == {"artifact", "record.json"}
    assert files["artifact"].hash == hashlib.sha256(artifact(1)).hexdigest()
    assert list(missing.missing_blob_digests) == []
