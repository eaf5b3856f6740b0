"""The build's state: one SQLite database in the build's state folder, with one owner (this module).

It remembers, between builds:
- ``digests``: each file's sha256 by its stat signature (size, mtime, inode), so a
  touched-but-unchanged file is hashed once and then only stat'ed;
- ``listings``: the files under a source directory, with every folder's mtime;
- ``records``: what each variant (and report) last built, and from which inputs,
  the discovered ones included;
- ``manifests``: every parsed manifest as JSON (``rules.manifest.catalog``), with what it relied on;
- ``meta``: small named values, such as the manifest search's answer.

doit keeps its own database beside it (``doit.sqlite``; we rely on none of
it): after a failed task doit holds a write transaction open until the run
ends, which would block our records in a shared file. SQLite, not JSON files:
parallel doit processes share it without losing each other's rows. Records are written the moment a variant finishes, so
a kill loses nothing.

Asking never writes: the state starts read-only, and what loading tasks learns
(digests, listings, parsed manifests) waits in memory until a run begins
(``begin_run``, called by the reporter, which doit makes only for ``run``).
``doit list --status``, ``doit info`` and ``doit clean --dry-run`` leave the
build folder as they found it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.digest import file_digest, walk_files

SCHEMA_VERSION = 4
Signature = tuple[int, int, int]  # size, mtime_ns, inode
TABLES = {
    "digests": "path TEXT PRIMARY KEY, size INT, mtime_ns INT, inode INT, sha256 TEXT",
    "listings": "path TEXT PRIMARY KEY, listing TEXT",
    "records": "name TEXT PRIMARY KEY, declared TEXT, key TEXT, sha256 TEXT, stats TEXT, "
    "discovered TEXT",
    "manifests": "path TEXT PRIMARY KEY, entry TEXT",
    "meta": "name TEXT PRIMARY KEY, value TEXT",
}


def _signature(stat: os.stat_result) -> Signature:
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@dataclass(frozen=True)
class Record:
    """What one task last produced, and from what.

    ``declared`` is the key of the inputs the manifest declares; ``key`` adds the
    digests of the ``discovered`` files (project-relative) that the variant's
    Python code was seen to read. ``stats`` is the stat signature of everything
    involved: while it is unchanged, nothing needs hashing.
    """

    declared: str
    key: str
    sha256: str
    stats: str = ""
    discovered: tuple[str, ...] = ()

    def row(self) -> tuple[str, str, str, str, str]:
        discovered = json.dumps(list(self.discovered)) if self.discovered else ""
        return self.declared, self.key, self.sha256, self.stats, discovered

    @classmethod
    def from_row(cls, declared: str, key: str, sha256: str, stats: str, discovered: str) -> Record:
        return cls(
            declared, key, sha256, stats, tuple(json.loads(discovered)) if discovered else ()
        )


class _Tables:
    """The database's rows, read once per process."""

    def __init__(self) -> None:
        self.digests: dict[str, tuple[Signature, str]] | None = None  # read on first use
        self.listings: dict[str, str] = {}
        # A row becomes a Record when first asked for: a no-op `doit convert` asks for
        # the conversions' records only.
        self.records: dict[str, Record | tuple[str, str, str, str, str]] = {}
        self.manifests: dict[str, str] = {}
        self.meta: dict[str, str] = {}


class BuildState:
    """The state of one build folder; see the module docstring. One per doit process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "state.sqlite"
        self.writable = False
        self.hashed = 0  # files actually read since this state was opened (tests and benches)
        self.restored: dict[str, str] = {}  # task name -> cache origin, restored in this run
        self._tables: _Tables | None = None
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._listings: dict[str, list[str]] = {}  # this build's listings
        self._stats: dict[str, str] = {}  # this build's input stats
        self._input_sets: dict[Hashable, str] = {}  # and of whole input sets, by the caller's key

    # --- the database -----------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a doit worker): the path and mode travel, connections and memos do not."""
        return {"folder": self.folder, "writable": self.writable}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["folder"])  # type: ignore[misc]
        self.writable = state["writable"]

    def _rows(self) -> _Tables:
        if self._tables is None or self._pid != os.getpid():
            self._db = None  # never reuse a connection across fork
            self._pid = os.getpid()
            self._tables = self._load()
        return self._tables

    def _load(self) -> _Tables:
        tables = _Tables()
        if not self.path.exists():
            return tables
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        except sqlite3.Error:
            return tables
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                return tables  # another version's memory: start afresh (it is only a memory)
            tables.listings = dict(db.execute("SELECT * FROM listings"))
            tables.records = {
                name: (declared, key, sha256, stats, discovered)
                for name, declared, key, sha256, stats, discovered in db.execute(
                    "SELECT * FROM records"
                )
            }
            tables.manifests = dict(db.execute("SELECT * FROM manifests"))
            tables.meta = dict(db.execute("SELECT * FROM meta"))
        except (sqlite3.Error, ValueError, TypeError):
            return _Tables()
        finally:
            db.close()
        return tables

    def _digests(self) -> dict[str, tuple[Signature, str]]:
        """The digests table, read when a file is first hashed or learned: a no-op build
        compares stats only, and never needs it."""
        tables = self._rows()
        if tables.digests is None:
            tables.digests = {}
            with contextlib.suppress(sqlite3.Error, ValueError, TypeError):
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
                try:
                    if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                        tables.digests = {
                            path: ((size, mtime_ns, inode), digest)
                            for path, size, mtime_ns, inode, digest in db.execute(
                                "SELECT * FROM digests"
                            )
                        }
                finally:
                    db.close()
        return tables.digests

    def _connection(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():
            self._rows()
            self.folder.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA synchronous=OFF")  # a lost row only costs a re-hash or a rebuild
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                for table in TABLES:
                    db.execute(f"DROP TABLE IF EXISTS {table}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            for table, columns in TABLES.items():
                db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            self._db = db
        return self._db

    def _write(self, sql: str, *params: Any) -> None:
        if not self.writable:
            self._pending.append((sql, params))
            return
        self._connection().execute(sql, params)

    def begin_run(self) -> None:
        """From now on writes reach the database; what loading learned is committed first."""
        self.writable = True
        if not self._pending:
            return
        db = self._connection()
        with _transaction(db):
            for sql, params in self._pending:
                db.execute(sql, params)
        self._pending.clear()

    def new_build(self) -> None:
        """Called when doit loads the tasks: folders and inputs may have changed since."""
        self._listings.clear()
        self._stats.clear()
        self._input_sets.clear()

    # --- file digests -----------------------------------------------------------------------

    def digest(self, path: Path | str) -> str:
        """The sha256 of one file; FileNotFoundError if it is missing."""
        rows = self._digests()
        key = str(path)
        signature = _signature(os.stat(path))
        known = rows.get(key)
        if known is not None and known[0] == signature:
            return known[1]
        digest = file_digest(Path(path))
        self.hashed += 1
        # A file written within the filesystem's timestamp granularity could change
        # again without a new mtime; such a file is hashed again next time.
        if signature == _signature(os.stat(path)):
            self._remember_digest(key, signature, digest)
        return digest

    def learn(self, path: Path | str, digest: str) -> None:
        """Remember the digest of a file just written, whose bytes we already hashed."""
        self._rows()
        self._remember_digest(str(path), _signature(os.stat(path)), digest)

    def _remember_digest(self, key: str, signature: Signature, digest: str) -> None:
        self._digests()[key] = (signature, digest)
        self._write(
            "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)", key, *signature, digest
        )

    def files(self, path: str) -> list[str]:
        """The files a source path stands for (its listing, or the file itself)."""
        listing = self._listings.get(path)
        if listing is None:
            listing = self._listing(path) if os.path.isdir(path) else [path]
            self._listings[path] = listing
        return listing

    def tree(self, path: str) -> Iterator[tuple[str, str]]:
        """(absolute path, digest) of every file under a directory, or of the file itself."""
        for absolute in self.files(path):
            yield absolute, self.digest(absolute)

    def _listing(self, path: str) -> list[str]:
        """The files under a directory, remembered with every folder's mtime.

        Adding, removing or renaming a file changes its folder's mtime, so when
        no folder's mtime changed the remembered listing is still right and a
        no-op build stats the folders instead of walking them.
        """
        saved = self._rows().listings.get(path)
        if saved is not None:
            known_folders, known_files = json.loads(saved)
            if all(mtime(folder) == stamp for folder, stamp in known_folders):
                return list(known_files)
        # Every folder, empty ones too: a file may appear there.
        folders = [[dirpath, mtime(dirpath)] for dirpath, _, _ in os.walk(path, followlinks=True)]
        files = [absolute for _, absolute in walk_files(path)]
        text = json.dumps([folders, files])
        self._rows().listings[path] = text
        self._write("INSERT OR REPLACE INTO listings VALUES (?, ?)", path, text)
        return files

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

    def input_stats(self, key: Hashable, paths: Callable[[], list[str]]) -> str:
        """``stats(paths(), this_build=True)``, worked out once per build for each ``key``:
        a model's variants share their inputs."""
        known = self._input_sets.get(key)
        if known is None:
            known = self._input_sets[key] = self.stats(paths(), this_build=True)
        return known

    # --- records ----------------------------------------------------------------------------

    def record(self, name: str) -> Record | None:
        """What ``name`` (a task) last built, if known."""
        records = self._rows().records
        found = records.get(name)
        if isinstance(found, tuple):
            found = records[name] = Record.from_row(*found)
        return found

    def remember(self, name: str, record: Record) -> None:
        """Record a finished task at once: a kill a moment later loses nothing."""
        self._rows().records[name] = record
        self._write("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)", name, *record.row())

    # --- parsed manifests and other named values --------------------------------------------

    def manifest_entries(self) -> dict[str, str]:
        """Path -> JSON entry of every manifest parsed earlier (see ``rules.manifest.catalog``)."""
        return self._rows().manifests

    def keep_manifests(self, entries: dict[str, str]) -> None:
        """Replace the parsed manifests with ``entries`` (path -> JSON), writing only the change."""
        rows = self._rows().manifests
        for path in set(rows) - set(entries):
            del rows[path]
            self._write("DELETE FROM manifests WHERE path = ?", path)
        for path, entry in entries.items():
            if rows.get(path) != entry:
                rows[path] = entry
                self._write("INSERT OR REPLACE INTO manifests VALUES (?, ?)", path, entry)

    def meta(self, name: str) -> str | None:
        return self._rows().meta.get(name)

    def set_meta(self, name: str, value: str) -> None:
        if self._rows().meta.get(name) != value:
            self._rows().meta[name] = value
            self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", name, value)


class _transaction:
    """BEGIN ... COMMIT around a batch of writes (ROLLBACK on error): one fsync, not hundreds."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
