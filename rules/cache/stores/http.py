"""The HTTP store: Bazel's remote cache protocol over one pooled, retrying urllib3 client."""

from __future__ import annotations

import base64
import urllib.parse
from typing import TYPE_CHECKING

from rules.cache.stores.base import (
    ATTEMPTS,
    BACKOFF,
    CONNECT_TIMEOUT,
    READ_ATTEMPTS,
    RETRY_METHODS,
    RETRY_STATUSES,
    TIMEOUT,
    Access,
    StoreError,
    redact,
)

if TYPE_CHECKING:
    from urllib3.util import Retry


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
