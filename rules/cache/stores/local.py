"""The local store: a directory with Bazel's layout, atomic writes, and least-recently-used pruning."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from converter.files import sweep, write_atomic
from rules.cache.stores.base import KINDS


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
