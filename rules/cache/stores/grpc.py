"""The cache on a REAPI server over gRPC: ``grpc://host:port[/instance]``.

The store Bazel teams already run (bazel-remote's gRPC port, BuildBuddy,
buildbarn, EngFlow, NativeLink, BuildGrid) serves us through two of REAPI's
services: ``ac/`` entries are ``ActionResult`` messages kept by the
ActionCache, keyed by a digest whose hash is our key; ``cas/`` blobs travel by
ByteStream (``{instance}/blobs/{hash}/{size}``), which needs each blob's size:
an entry names it. REAPI has no delete, so a corrupt remote entry stays a miss
for us until it is written again. A failing call is tried again a few times
(gRPC's own retry policy) on UNAVAILABLE, then becomes a StoreError, which
drops the remote for the build with one warning.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from rules.cache.stores.base import TIMEOUT, Access, StoreError, redact

CHUNK = 1024 * 1024  # ByteStream messages stay well under gRPC's 4 MiB default
# gRPC's retry policy, as its service config states it: UNAVAILABLE covers a refused or
# broken connection and a server restarting.
RETRIES = {
    "methodConfig": [
        {
            "name": [{}],
            "retryPolicy": {
                "maxAttempts": 3,
                "initialBackoff": "0.2s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ]
}


class GrpcStore:
    """ActionCache and ByteStream calls on one channel, kept for the whole build."""

    def __init__(self, url: str, timeout: float = TIMEOUT, access: Access | None = None) -> None:
        try:
            import grpc  # here: a build without a gRPC cache never pays for it
        except ImportError:
            raise StoreError(
                f"{redact(url)}: a gRPC cache needs grpcio: pip install 'tflite-build[grpc]'"
            ) from None
        from buildgrid.common.protos.build.bazel.remote.execution.v2 import (
            remote_execution_pb2_grpc as rex_grpc,
        )
        from buildgrid.common.protos.google.bytestream import bytestream_pb2_grpc

        parts = urllib.parse.urlsplit(url)
        if not parts.hostname or not parts.port:
            raise StoreError(f"{redact(url)}: a gRPC cache URL is grpc://HOST:PORT[/instance]")
        self.display = redact(url)
        self.instance = parts.path.strip("/")
        self.timeout = timeout
        options = [("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(RETRIES))]
        self.channel = grpc.insecure_channel(f"{parts.hostname}:{parts.port}", options=options)
        self.metadata: tuple[tuple[str, str], ...] = ()
        if access is not None and access.token:
            self.metadata = (("authorization", f"Bearer {access.token}"),)
        self.actions = rex_grpc.ActionCacheStub(self.channel)
        self.bytestream = bytestream_pb2_grpc.ByteStreamStub(self.channel)

    def _call(self, what: str, method: Any, request: Any) -> Any:
        """``method(request)``; None when the server has no such thing, StoreError when it fails."""
        return self._run(
            what, lambda: method(request, timeout=self.timeout, metadata=self.metadata)
        )

    def _run(self, what: str, call: Callable[[], Any]) -> Any:
        import grpc

        try:
            return call()
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else None
            if code == grpc.StatusCode.NOT_FOUND:
                return None
            name = code.name if code is not None else "failed"
            detail = e.details() if hasattr(e, "details") else ""
            raise StoreError(f"{what} {self.display}: {name} {detail}".rstrip()) from None

    def _prefix(self) -> str:
        return f"{self.instance}/" if self.instance else ""

    def get(self, kind: str, name: str, size: int | None = None) -> bytes | None:
        if kind == "ac":
            return self._get_action(name)
        if size is None:
            raise StoreError(f"{self.display}: a CAS read by gRPC needs the blob's size")
        return self._read_blob(name, size)

    def put(self, kind: str, name: str, data: bytes) -> None:
        if kind == "ac":
            self._put_action(name, data)
        else:
            self._write_blob(name, data)

    def delete(self, kind: str, name: str) -> None:
        """REAPI cannot delete: the entry stays, a miss to every reader that checks it."""

    def _action_digest(self, key: str) -> Any:
        from buildgrid.common.protos.build.bazel.remote.execution.v2 import (
            remote_execution_pb2 as rex,
        )

        return rex.Digest(hash=key, size_bytes=0)

    def _get_action(self, key: str) -> bytes | None:
        from buildgrid.common.protos.build.bazel.remote.execution.v2 import (
            remote_execution_pb2 as rex,
        )

        request = rex.GetActionResultRequest(
            instance_name=self.instance,
            action_digest=self._action_digest(key),
            inline_stdout=True,
        )
        result = self._call("GetActionResult", self.actions.GetActionResult, request)
        if result is None:
            return None
        data: bytes = result.SerializeToString(deterministic=True)
        return data

    def _put_action(self, key: str, entry: bytes) -> None:
        from buildgrid.common.protos.build.bazel.remote.execution.v2 import (
            remote_execution_pb2 as rex,
        )
        from google.protobuf.message import DecodeError

        result = rex.ActionResult()
        try:
            result.ParseFromString(entry)
        except DecodeError as e:
            raise StoreError(f"{self.display}: an entry is not an ActionResult ({e})") from None
        request = rex.UpdateActionResultRequest(
            instance_name=self.instance,
            action_digest=self._action_digest(key),
            action_result=result,
        )
        self._call("UpdateActionResult", self.actions.UpdateActionResult, request)

    def _read_blob(self, sha256: str, size: int) -> bytes | None:
        from buildgrid.common.protos.google.bytestream import bytestream_pb2

        if size == 0:
            return b""  # the empty blob is always there, and ByteStream need not serve it
        request = bytestream_pb2.ReadRequest(resource_name=f"{self._prefix()}blobs/{sha256}/{size}")

        def read() -> bytes:
            stream = self.bytestream.Read(request, timeout=self.timeout, metadata=self.metadata)
            return b"".join(part.data for part in stream)

        data: bytes | None = self._run("ByteStream.Read", read)
        return data

    def _write_blob(self, sha256: str, data: bytes) -> None:
        from buildgrid.common.protos.google.bytestream import bytestream_pb2

        if not data:
            return
        resource = f"{self._prefix()}uploads/{uuid.uuid4()}/blobs/{sha256}/{len(data)}"

        def chunks() -> Iterator[Any]:
            for offset in range(0, len(data), CHUNK):
                yield bytestream_pb2.WriteRequest(
                    resource_name=resource if offset == 0 else "",
                    write_offset=offset,
                    data=data[offset : offset + CHUNK],
                    finish_write=offset + CHUNK >= len(data),
                )

        self._call("ByteStream.Write", self.bytestream.Write, chunks())
