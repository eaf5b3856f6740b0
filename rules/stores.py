"""Where cache entries and blobs live: a local directory, HTTP (Bazel's layout), or any fsspec URL.

Every store has the layout of Bazel's remote cache: ``ac/<key>`` holds an
action-cache entry (small JSON) and ``cas/<sha256>`` a blob (an artifact's
bytes). A store only moves bytes; checking them is ``rules.cache``'s job.
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
from typing import Any, Protocol

from converter.files import sweep, write_atomic

KINDS = ("ac", "cas")
TIMEOUT = 10.0  # seconds a remote call may wait


class StoreError(Exception):
    """A remote store failed; the message never contains credentials."""


@dataclass(frozen=True)
class Access:
    """What reaching a remote takes besides its URL (from ``rules.settings``); never shown."""

    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    options: Mapping[str, Any] = field(default_factory=dict, repr=False, hash=False)


class Store(Protocol):
    def get(self, kind: str, name: str) -> bytes | None: ...

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

    def get(self, kind: str, name: str) -> bytes | None:
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
    cache_password; a bearer token from cache_token.
    """

    def __init__(self, url: str, timeout: float = TIMEOUT, access: Access | None = None) -> None:
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

    def _request(
        self, method: str, kind: str, name: str, data: bytes | None = None
    ) -> bytes | None:
        import urllib.error
        import urllib.request  # here: a build without a remote cache never pays for it

        url = f"{self.base}/{kind}/{name}"
        request = urllib.request.Request(url, data=data, method=method, headers=self.headers)
        if data is not None:
            request.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as e:
            if e.code == 404 and method in ("GET", "DELETE"):
                return None
            raise StoreError(
                f"{method} {self.display}/{kind}/…: HTTP {e.code} {e.reason}"
            ) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise StoreError(f"{method} {self.display}/{kind}/…: {reason}") from None

    def get(self, kind: str, name: str) -> bytes | None:
        return self._request("GET", kind, name)

    def put(self, kind: str, name: str, data: bytes) -> None:
        self._request("PUT", kind, name, data)

    def delete(self, kind: str, name: str) -> None:
        self._request("DELETE", kind, name)


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
        protocol = urllib.parse.urlsplit(url).scheme
        if protocol == "s3":
            config = options.setdefault("config_kwargs", {})
            config.setdefault("connect_timeout", timeout)
            config.setdefault("read_timeout", timeout)
            config.setdefault("retries", {"max_attempts": 1})
        self.display = redact(url)
        try:
            self.fs, self.base = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError) as e:
            raise StoreError(f"the cache {self.display}: {e}") from None
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

    def get(self, kind: str, name: str) -> bytes | None:
        result: bytes | None = self._call("read", self.fs.cat_file, self._path(kind, name))
        return result

    def put(self, kind: str, name: str, data: bytes) -> None:
        self._call("write", self.fs.pipe_file, self._path(kind, name), data)

    def delete(self, kind: str, name: str) -> None:
        self._call("delete", self.fs.rm_file, self._path(kind, name))


def open_store(url: str, timeout: float = TIMEOUT, access: Access | None = None) -> Store:
    """A remote store for an ``http(s)://`` URL (Bazel layout) or any other fsspec URL."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in ("http", "https"):
        return HttpStore(url, timeout, access)
    return FsspecStore(url, timeout, access)
