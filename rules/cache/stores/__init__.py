"""Where cache entries and blobs live: one module per scheme behind ``base``, opened by URL.

``local`` is the cache directory on this machine; remote stores are chosen by the
URL's scheme: ``http``/``https`` (Bazel's HTTP layout), ``grpc`` (REAPI), anything
else through fsspec (``s3://``, ``gs://``...). Each is imported on first use, so a
build without a remote cache never imports urllib3, grpc or fsspec; a store whose
client library is missing says which extra installs it.

May import: ``converter``'s face (files), and the libraries of each scheme inside
its own module. Nothing else of ``rules``.
"""

from __future__ import annotations

import importlib
import urllib.parse

from rules.cache.stores.base import TIMEOUT, Access, Store

# scheme -> (module of this package, class); schemes not listed go through fsspec.
SCHEMES: dict[str, tuple[str, str]] = {
    "http": ("http", "HttpStore"),
    "https": ("http", "HttpStore"),
    "grpc": ("grpc", "GrpcStore"),
}
FALLBACK = ("filesystem", "FsspecStore")


def open_store(url: str, timeout: float = TIMEOUT, access: Access | None = None) -> Store:
    """The remote store for ``url``, its module imported now."""
    module, name = SCHEMES.get(urllib.parse.urlsplit(url).scheme, FALLBACK)
    store: Store = getattr(importlib.import_module(f"{__name__}.{module}"), name)(
        url, timeout, access
    )
    return store
