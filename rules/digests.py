"""The build's memory: file digests by stat signature, folder listings, and what each variant built.

File digests are remembered by (size, mtime, inode): each unchanged file is hashed once.

doit re-hashes a file whose mtime changed on every run, forever, because it only
records state for tasks it executes. Here a file's sha256 is stored in a small
SQLite table keyed by its stat signature, so after a checkout or a cache restore
the first check hashes and every later one is stat-only. SQLite, not JSON:
parallel doit processes share the table without losing each other's rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from converter.digest import file_digest, walk_files

Signature = tuple[int, int, int]  # size, mtime_ns, inode
SCHEMA_VERSION = 2


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _signature(stat: os.stat_result) -> Signature:
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


class DigestMemo:
    """sha256 of files by path, recomputed only when a file's stat signature changes."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.hashed = 0  # files actually read since this memo was opened (for tests and benches)
        self._rows: dict[str, tuple[Signature, str]] | None = None
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._listings: dict[str, list[str]] = {}
        self._saved_listings: dict[str, str] = {}
        self._records: dict[str, tuple[str, str, str]] = {}
        self._stats: dict[str, str] = {}

    def _open(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():  # never reuse a connection across fork
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=OFF")  # a lost row only costs a re-hash
            if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                for table in ("digests", "listings", "records"):  # a memory, not data: start over
                    self._db.execute(f"DROP TABLE IF EXISTS {table}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS digests "
                "(path TEXT PRIMARY KEY, size INT, mtime_ns INT, inode INT, sha256 TEXT)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS listings (path TEXT PRIMARY KEY, listing TEXT)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS records "
                "(name TEXT PRIMARY KEY, key TEXT, sha256 TEXT, stats TEXT)"
            )
            self._pid = os.getpid()
            self._rows = {
                path: ((size, mtime, inode), digest)
                for path, size, mtime, inode, digest in self._db.execute("SELECT * FROM digests")
            }
            self._saved_listings = dict(self._db.execute("SELECT * FROM listings"))
            self._records = {
                name: (key, sha, stats)
                for name, key, sha, stats in self._db.execute("SELECT * FROM records")
            }
        return self._db

    def file(self, path: Path | str) -> str:
        """The sha256 of one file; FileNotFoundError if it is missing."""
        db = self._open()
        assert self._rows is not None
        key = str(path)
        signature = _signature(os.stat(path))
        known = self._rows.get(key)
        if known is not None and known[0] == signature:
            return known[1]
        digest = file_digest(Path(path))
        self.hashed += 1
        # A file written within the filesystem's timestamp granularity could change
        # again without a new mtime; such a file is hashed again next time.
        if signature == _signature(os.stat(path)):
            self._rows[key] = (signature, digest)
            db.execute(
                "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)", (key, *signature, digest)
            )
        return digest

    def learn(self, path: Path | str, digest: str) -> None:
        """Remember the digest of a file just written, whose bytes we already hashed."""
        db = self._open()
        assert self._rows is not None
        key = str(path)
        signature = _signature(os.stat(path))
        self._rows[key] = (signature, digest)
        db.execute(
            "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)", (key, *signature, digest)
        )

    def tree(self, path: str) -> list[tuple[str, str]]:
        """(absolute path, digest) of every file under a directory, or of the file itself.

        A directory is listed once per build (``new_build`` forgets the listings):
        the variants of one model share their source, and each file is still
        checked by its stat signature every time.
        """
        return [(absolute, self.file(absolute)) for absolute in self.files(path)]

    def _listing(self, path: str) -> list[str]:
        """The files under a directory, remembered with every folder's mtime.

        Adding, removing or renaming a file changes its folder's mtime, so when
        no folder's mtime changed the remembered listing is still right and a
        no-op build stats the folders instead of walking them.
        """
        db = self._open()
        saved = self._saved_listings.get(path)
        if saved is not None:
            known_folders, known_files = json.loads(saved)
            if all(_mtime(folder) == mtime for folder, mtime in known_folders):
                return list(known_files)
        # Every folder, empty ones too: a file may appear there.
        folders = [[dirpath, _mtime(dirpath)] for dirpath, _, _ in os.walk(path, followlinks=True)]
        files = [absolute for _, absolute in walk_files(path)]
        text = json.dumps([folders, files])
        self._saved_listings[path] = text
        db.execute("INSERT OR REPLACE INTO listings VALUES (?, ?)", (path, text))
        return files

    def new_build(self) -> None:
        self._listings.clear()
        self._stats.clear()

    def recorded(self, name: str) -> tuple[str, str, str] | None:
        """(key, artifact sha256, stat signature) of the last build of ``name``, if known."""
        self._open()
        return self._records.get(name)

    def remember(self, name: str, key: str, sha256: str, stats: str = "") -> None:
        """Record a finished build at once: a kill a moment later loses nothing."""
        db = self._open()
        self._records[name] = (key, sha256, stats)
        db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", (name, key, sha256, stats))

    def files(self, path: str) -> list[str]:
        """The files a source path stands for (its listing, or the file itself)."""
        listing = self._listings.get(path)
        if listing is None:
            self._open()
            listing = self._listing(path) if os.path.isdir(path) else [path]
            self._listings[path] = listing
        return listing

    def stats(self, paths: list[str], *, this_build: bool = False) -> str:
        """One string of every file's stat signature; a missing file reads as '-'.

        ``this_build``: the files are inputs, which nothing rewrites during a build,
        so each is stat'ed once per build however many variants share it.
        """
        parts = []
        for path in paths:
            part = self._stats.get(path) if this_build else None
            if part is None:
                try:
                    stat = os.stat(path)
                    part = f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"
                except OSError:
                    part = "-"
                if this_build:
                    self._stats[path] = part
            parts.append(part)
        return ",".join(parts)
