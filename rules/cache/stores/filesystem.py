"""The fsspec store: any fsspec URL (S3, GCS, ...), with botocore's retries bounded like HTTP's."""

from __future__ import annotations

import copy
import urllib.parse
from typing import Any

from rules.cache.stores.base import ATTEMPTS, CONNECT_TIMEOUT, TIMEOUT, Access, StoreError, redact


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
