"""The artifact cache: a variant's key -> its .tflite bytes and record, verified on every read.

Like Bazel's action cache plus content-addressed storage: ``ac/<key>`` is an
entry naming its blobs by digest, ``cas/<sha256>`` holds them: the artifact,
its record and its log. Entries are REAPI ``ActionResult`` messages
(``rules.cache.reapi``), so Bazel's cache servers accept them as they come. The
local store is always consulted first; a remote one (HTTP with Bazel's layout,
or any fsspec URL) second, and what it returns fills the local store. A
corrupt or truncated entry or blob is a miss, evicted with a warning: never a
wrong artifact. A remote that fails in any way is dropped for the rest of the
process with one warning, and the build goes on locally.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from converter import errors
from rules.cache import reapi
from rules.cache.settings import CacheSettings
from rules.cache.stores import open_store
from rules.cache.stores.base import Store, StoreError
from rules.cache.stores.local import LocalStore

DISCOVERED_SETS = 8  # sets of discovered files kept per declared key


@dataclass(frozen=True)
class Hit:
    artifact: bytes
    record: dict[str, Any]
    log: str
    origin: str  # "local" or "remote"


class ArtifactCache:
    """Fetch and store artifacts by key; see the module docstring for the guarantees."""

    def __init__(self, settings: CacheSettings, warn: Callable[[str], None] = errors.warn) -> None:
        self.settings = settings
        self.warn = warn
        self.pid = os.getpid()  # a forked doit worker must not inherit a dropped remote
        self.local = LocalStore(settings.local) if settings.local else None
        self.remote: Store | None = None
        self.remote_failed = False
        if settings.remote:
            try:
                self.remote = open_store(settings.remote, settings.timeout, settings.access)
            except StoreError as e:
                self._drop_remote(str(e))

    def _drop_remote(self, reason: str) -> None:
        if not self.remote_failed:
            self.warn(f"remote cache unavailable, building locally: {reason}")
        self.remote_failed = True
        self.remote = None

    def fetch(self, key: str) -> Hit | None:
        if self.local is not None:
            hit = self._read(self.local, key, "local")
            if hit is not None:
                return hit
        if self.remote is None:
            return None
        try:
            hit = self._read(self.remote, key, "remote")
        except StoreError as e:
            self._drop_remote(str(e))
            return None
        if hit is not None and self.local is not None:
            self._write_local(key, hit)
        return hit

    def store(self, key: str, artifact: bytes, record: dict[str, Any], log: str) -> None:
        hit = Hit(artifact, record, log, "local")
        self._write_local(key, hit)
        if self.remote is not None and not self.settings.read_only:
            try:
                self._write(self.remote, key, hit)
            except StoreError as e:
                self._drop_remote(str(e))

    def _write_local(self, key: str, hit: Hit) -> None:
        if self.local is None:
            return
        try:
            self._write(self.local, key, hit)
        except OSError as e:  # a full disk or a read-only home must not fail the build
            self.warn(f"could not write the local cache {self.local.root}: {e.strerror or e}")

    @staticmethod
    def _write(store: Store, key: str, hit: Hit) -> None:
        record, log = reapi.record_blob(key, hit.record), hit.log.encode()
        # The blobs first: an entry is only ever visible once its bytes are.
        for blob in dict.fromkeys((hit.artifact, record, log)):
            store.put("cas", hashlib.sha256(blob).hexdigest(), blob)
        store.put("ac", key, reapi.encode(hit.artifact, record, log))

    def _read(self, store: Store, key: str, origin: str) -> Hit | None:
        raw = store.get("ac", key)
        if raw is None or reapi.earlier_format(raw):
            return None
        entry = reapi.decode(raw)
        if entry is None:
            self._evict(store, origin, key, None, "its entry is not an ActionResult of ours")
            return None
        blobs = {}
        for name, blob, inline in (
            ("record", entry.record, entry.inline_record),
            ("log", entry.log, entry.inline_log),
            ("artifact", entry.artifact, None),
        ):
            known = inline is not None and blob.matches(inline)
            data = inline if known else store.get("cas", blob.sha256, blob.size)
            if data is None:
                return None  # pruned or never uploaded: a plain miss
            if not blob.matches(data):
                self._evict(
                    store, origin, key, blob.sha256, f"its {name} does not match its sha256"
                )
                return None
            blobs[name] = data
        record = reapi.read_record(key, blobs["record"])
        if record is None:
            self._evict(store, origin, key, None, "its record is not one of this key")
            return None
        return Hit(blobs["artifact"], record, blobs["log"].decode(errors="replace"), origin)

    def put_blob(self, data: bytes) -> str:
        """Keep one blob in the CAS (the remote's too, unless read-only); its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        stores = [s for s in (self.local, None if self.settings.read_only else self.remote) if s]
        for store in stores:
            try:
                store.put("cas", digest, data)
            except StoreError as e:
                if store is self.remote:
                    self._drop_remote(str(e))
                    raise
        return digest

    def get_blob(self, sha256: str, size: int) -> bytes | None:
        """One CAS blob by digest, checked, from the local store, else the remote; None: missing."""
        for store in (self.local, self.remote):
            if store is None:
                continue
            try:
                data = store.get("cas", sha256, size)
            except StoreError as e:
                self._drop_remote(str(e))
                return None
            if data is not None and reapi.Blob(sha256, size).matches(data):
                return data
        return None

    def fetch_discovered(self, declared: str) -> list[tuple[str, ...]]:
        """The sets of discovered files seen for a declared key, most recent first.

        The first level of the two-level lookup (see ``rules.build.keys``): a
        fresh clone learns here which files complete an artifact's key.
        """
        hit = self.fetch(_discovered_key(declared))
        if hit is None:
            return []
        try:
            sets = json.loads(hit.artifact)["sets"]
            return [tuple(str(p) for p in paths) for paths in sets if isinstance(paths, list)]
        except (ValueError, KeyError, TypeError):
            return []

    def store_discovered(self, declared: str, paths: tuple[str, ...]) -> None:
        """Add a set of discovered files to those kept for ``declared`` (a few, newest first).

        Several sets are kept, as ccache keeps several per manifest: two branches
        whose code imports different files then share one cache without evicting
        each other's entries.
        """
        sets = [paths, *(s for s in self.fetch_discovered(declared) if s != paths)]
        text = json.dumps({"sets": [list(s) for s in sets[:DISCOVERED_SETS]]}).encode()
        self.store(_discovered_key(declared), text, {"discovered_for": declared}, "")

    def _evict(self, store: Store, origin: str, key: str, digest: str | None, why: str) -> None:
        self.warn(f"{origin} cache entry {key[:12]}… is corrupt ({why}); evicted, rebuilding")
        try:
            store.delete("ac", key)
            if digest is not None:
                store.delete("cas", digest)
        except StoreError:
            pass  # a read-only or failing remote: the entry stays a miss for us anyway


def _discovered_key(declared: str) -> str:
    return hashlib.sha256(f"tflite-build discovered\0{declared}".encode()).hexdigest()
