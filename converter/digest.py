"""Content digests of files and directories (sha256), the I/O half of every fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The sha256 hex digest of one file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def bytes_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_files(root: Path) -> list[Path]:
    """Every regular file under ``root``, sorted by relative POSIX path; symlinks followed."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        found.extend(Path(dirpath) / name for name in filenames)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def path_digest(path: Path) -> str:
    """A file's digest, or for a directory the digest of its sorted (relative path, digest) list.

    Names and contents count; mtimes and the directory's own location do not, so a
    copy of a SavedModel elsewhere has the same digest.
    """
    if not path.is_dir():
        return file_digest(path)
    listing = [[p.relative_to(path).as_posix(), file_digest(p)] for p in tree_files(path)]
    return canonical_digest({"tree": listing})


def canonical_json(value: object) -> str:
    """JSON with sorted keys and fixed separators: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical_digest(value: object) -> str:
    return bytes_digest(canonical_json(value).encode())
