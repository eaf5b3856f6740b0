"""Where cache entries and blobs live: a local directory, HTTP (Bazel's layout), or any fsspec URL.

Every store has the layout of Bazel's remote cache: ``ac/<key>`` holds an
action-cache entry (small JSON) and ``cas/<sha256>`` a blob (an artifact's
bytes). A store only moves bytes; checking them is ``rules.cache.artifacts``'s job.
Remote stores raise ``StoreError`` for anything that goes wrong (refused,
timed out, a 5xx), so the cache can fall back to building locally.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from converter.files import sweep, write_atomic

if TYPE_CHECKING:
    from urllib3.util import Retry

KINDS = ("ac", "cas")
# A remote call is retried on connection errors and on 429 and 5xx answers, by the
# client library (urllib3 for HTTP, botocore for S3), then gives up: the cache drops
# the remote for the rest of the process with one warning. The worst case of a call
# is ATTEMPTS connects of CONNECT_TIMEOUT each, READ_ATTEMPTS waits of TIMEOUT for an
# answer and the backoff between attempts: 3 x 5 + 2 x 10 + 1 = 36 s over HTTP (a
# remote that accepts and never answers: 20 s; one that refuses connections: 1 s).
# S3 goes through botocore's standard retry mode with the same attempts and timeouts:
# at most 3 x (5 + 10) s, and a jittered backoff of at most 1 + 2 s between attempts.
TIMEOUT = 10.0  # seconds to wait for an answer (each read of the socket)
CONNECT_TIMEOUT = 5.0  # seconds to wait for a connection
ATTEMPTS = 3  # tries of one call: the first and two retries
# A read that timed out or broke is tried once more: a pooled connection the server
# closed fails that way, and a silent remote should cost two timeouts, not three.
READ_ATTEMPTS = 2
BACKOFF = 0.5  # urllib3 waits 0 s before the second attempt and 2 x BACKOFF before the third
RETRY_STATUSES = (429, 500, 502, 503, 504)
# Every method we send is idempotent: an entry or a blob put twice is the same entry.
RETRY_METHODS = ("GET", "HEAD", "PUT", "DELETE")


class StoreError(Exception):
    """A remote store failed; the message never contains credentials."""


@dataclass(frozen=True)
class Access:
    """What reaching a remote takes besides its URL (from ``rules.project.settings``); never shown."""

    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    options: Mapping[str, Any] = field(default_factory=dict, repr=False, hash=False)


class Store(Protocol):
    def get(self, kind: str, name: str, size: int | None = None) -> bytes | None:
        """A blob or entry; ``size`` is a CAS blob's, when known (REAPI reads need it)."""
        ...

    def put(self, kind: str, name: str, data: bytes) -> None: ...

    def delete(self, kind: str, name: str) -> None: ...


def redact(url: str) -> str:
    """``url`` without user, password or query string (where tokens hide)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass
class Usage:
    entries: int
    blobs: int
    bytes: int


class LocalStore:
    """A directory: ``ac/ab/abcd...``, ``cas/ef/ef01...``; atomic writes; reads refresh the mtime.

    The mtime is the last use, so pruning removes what was used least recently.
    Concurrent writers are safe: each writes a private temporary file and renames it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, kind: str, name: str) -> Path:
        assert kind in KINDS and name.isalnum(), (kind, name)
        return self.root / kind / name[:2] / name

    def get(self, kind: str, name: str, size: int | None = None) -> bytes | None:
        path = self.path(kind, name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return data

    def put(self, kind: str, name: str, data: bytes) -> None:
        write_atomic(self.path(kind, name), data)

    def delete(self, kind: str, name: str) -> None:
        self.path(kind, name).unlink(missing_ok=True)

    def _files(self) -> list[tuple[float, int, Path]]:
        found = []
        for kind in KINDS:
            for path in (self.root / kind).glob("*/*"):
                if path.name.startswith("."):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    found.append((stat.st_mtime, stat.st_size, path))
        return found

    def usage(self) -> Usage:
        files = self._files()
        entries = sum(1 for _, _, p in files if p.parent.parent.name == "ac")
        return Usage(entries, len(files) - entries, sum(size for _, size, _ in files))

    def prune(self, max_bytes: int) -> Usage:
        """Delete least-recently-used files until the store holds at most ``max_bytes``.

        Returns what was removed. An entry whose blob is pruned becomes a miss
        (the cache checks both), so entries and blobs may go independently.
        Temporary files that a killed writer left behind go first.
        """
        for kind in KINDS:
            sweep(self.root / kind, recursive=True)
        files = sorted(self._files(), key=lambda f: f[0])
        total = sum(size for _, size, _ in files)
        removed = Usage(0, 0, 0)
        for _, size, path in files:
            if total <= max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed.bytes += size
            if path.parent.parent.name == "ac":
                removed.entries += 1
            else:
                removed.blobs += 1
        return removed


class HttpStore:
    """Bazel's HTTP remote cache protocol: ``GET``/``PUT <base>/ac/<key>`` and ``<base>/cas/<sha256>``.

    Works with bazel-remote, nginx's WebDAV module and similar servers. Basic
    credentials come from the URL's user info or the settings' cache_user and
    cache_password; a bearer token from cache_token. One connection pool per
    store: a build's many small calls reuse their connections.
    """

    def __init__(self, url: str, timeout: float = TIMEOUT, access: Access | None = None) -> None:
        import urllib3  # here: a build without a remote cache never pays for it

        access = access or Access()
        parts = urllib.parse.urlsplit(url)
        self.display = redact(url)
        self.base = urllib.parse.urlunsplit(
            (parts.scheme, parts.netloc.rpartition("@")[2], parts.path.rstrip("/"), "", "")
        )
        self.timeout = timeout
        self.headers: dict[str, str] = {}
        user = urllib.parse.unquote(parts.username or access.user)
        password = urllib.parse.unquote(parts.password or access.password)
        if access.token:
            self.headers["Authorization"] = f"Bearer {access.token}"
        elif user:
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {basic}"
        self.pool = urllib3.PoolManager(
            retries=retry_policy(),
            timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT, timeout), read=timeout),
        )

    def _request(
        self, method: str, kind: str, name: str, data: bytes | None = None
    ) -> bytes | None:
        import urllib3

        headers = self.headers
        if data is not None:
            headers = {**headers, "Content-Type": "application/octet-stream"}
        where = f"{method} {self.display}/{kind}/…"
        try:
            response = self.pool.request(
                method, f"{self.base}/{kind}/{name}", body=data, headers=headers
            )
        except urllib3.exceptions.MaxRetryError as e:
            raise StoreError(f"{where}: {_reason(e.reason, self.timeout)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise StoreError(f"{where}: {_reason(e, self.timeout)}") from None
        if response.status == 404 and method in ("GET", "DELETE"):
            return None
        if not 200 <= response.status < 300:
            raise StoreError(f"{where}: HTTP {response.status} {response.reason}")
        return response.data

    def get(self, kind: str, name: str, size: int | None = None) -> bytes | None:
        return self._request("GET", kind, name)

    def put(self, kind: str, name: str, data: bytes) -> None:
        self._request("PUT", kind, name, data)

    def delete(self, kind: str, name: str) -> None:
        self._request("DELETE", kind, name)


def retry_policy() -> Retry:
    """urllib3's ``Retry`` for our calls (see ATTEMPTS): bounded, with backoff.

    A server's Retry-After is not obeyed: it could hold a build for hours, and
    after ATTEMPTS the build goes on without the remote anyway.
    """
    from urllib3.util import Retry  # here: see HttpStore

    return Retry(
        total=ATTEMPTS - 1,
        connect=ATTEMPTS - 1,
        read=READ_ATTEMPTS - 1,
        status=ATTEMPTS - 1,
        other=0,
        allowed_methods=RETRY_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=BACKOFF,
        respect_retry_after_header=False,
        raise_on_status=False,  # the last answer is returned, and reported with its status
    )


def _reason(error: BaseException | None, timeout: float) -> str:
    """What went wrong, in a few words (urllib3's own texts repeat the host and the pool)."""
    from urllib3.exceptions import (
        ConnectTimeoutError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
    )

    if isinstance(error, NewConnectionError):  # a subclass of ConnectTimeoutError
        cause = error.__cause__
        return str(cause) if isinstance(cause, OSError) else str(error)
    if isinstance(error, ConnectTimeoutError):
        return f"timed out connecting (after {min(CONNECT_TIMEOUT, timeout):g} s)"
    if isinstance(error, ReadTimeoutError):
        return f"timed out (no answer in {timeout:g} s)"
    if isinstance(error, ProtocolError):
        return f"connection broken: {error.args[-1]}"
    return str(error) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"


class FsspecStore:
    """Any fsspec URL (``s3://bucket/prefix``, ``gs://...``, ``file://...``).

    Credentials come from the backend's usual sources (environment, config
    files); options for the filesystem come from the settings' cache_options,
    e.g. ``{"endpoint_url": "http://127.0.0.1:9000"}`` for an S3-compatible server.
    """

    def __init__(self, url: str, timeout: float = TIMEOUT, access: Access | None = None) -> None:
        try:
            import fsspec
        except ImportError:
            raise StoreError(
                f"the cache {redact(url)} needs fsspec (and its backend, e.g. s3fs): "
                "pip install 'tflite-build[remote]'"
            ) from None
        options = copy.deepcopy(dict((access or Access()).options))  # theirs stay unchanged
        s3 = urllib.parse.urlsplit(url).scheme in ("s3", "s3a")
        if s3:  # botocore's Config; the user's own cache_options win
            config = options.setdefault("config_kwargs", {})
            config.setdefault("connect_timeout", min(CONNECT_TIMEOUT, timeout))
            config.setdefault("read_timeout", timeout)
            config.setdefault("retries", {"mode": "standard", "total_max_attempts": ATTEMPTS})
        self.display = redact(url)
        try:
            self.fs, self.base = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError, TypeError) as e:
            raise StoreError(f"the cache {self.display}: {e}") from None
        if s3:
            # s3fs retries some errors itself, up to 5 times around botocore's attempts
            # (a silent remote would cost 15 timeouts): botocore's policy is the one.
            self.fs.retries = 1
        self.base = self.base.rstrip("/")

    def _path(self, kind: str, name: str) -> str:
        return f"{self.base}/{kind}/{name}"

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except FileNotFoundError:
            return None
        except Exception as e:  # backends raise their own families (botocore, aiohttp...)
            raise StoreError(f"{what} {self.display}: {type(e).__name__}: {e}") from None

    def get(self, kind: str, name: str, size: int | None = None) -> bytes | None:
        result: bytes | None = self._call("read", self.fs.cat_file, self._path(kind, name))
        return result

    def put(self, kind: str, name: str, data: bytes) -> None:
        self._call("write", self.fs.pipe_file, self._path(kind, name), data)

    def delete(self, kind: str, name: str) -> None:
        self._call("delete", self.fs.rm_file, self._path(kind, name))


def open_store(url: str, timeout: float = TIMEOUT, access: Access | None = None) -> Store:
    """A remote store: ``http(s)://`` (Bazel's layout), ``grpc://`` (REAPI), else any fsspec URL."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in ("http", "https"):
        return HttpStore(url, timeout, access)
    if scheme == "grpc":
        from rules.cache.grpcstore import GrpcStore

        return GrpcStore(url, timeout, access)
    return FsspecStore(url, timeout, access)
