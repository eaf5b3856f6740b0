"""What every cache store is: the layout, the protocol, the errors, and the limits of a remote call.

Every store has the layout of Bazel's remote cache: ``ac/<key>`` holds an
action-cache entry (small JSON) and ``cas/<sha256>`` a blob (an artifact's
bytes). A store only moves bytes; checking them is ``rules.cache.artifacts``'s job.
Remote stores raise ``StoreError`` for anything that goes wrong (refused,
timed out, a 5xx), so the cache can fall back to building locally.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

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
