"""Content digests of files and directories (sha256), the I/O half of every fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
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


def walk_files(root: str) -> list[tuple[str, str]]:
    """(relative POSIX path, absolute path) of every regular file under ``root``, sorted.

    Plain strings, not Path objects: this runs for every input of every variant
    on every build, and pathlib's parsing would dominate a no-op build.
    """
    found: list[tuple[str, str]] = []
    cut = len(root.rstrip(os.sep)) + 1
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        relative_dir = dirpath[cut:].replace(os.sep, "/")
        for name in filenames:
            found.append((f"{relative_dir}/{name}" if relative_dir else name, f"{dirpath}/{name}"))
    found.sort()
    return found


def path_digest(path: Path) -> str:
    """A file's digest, or for a directory the digest of its sorted (relative path, digest) list.

    Names and contents count; mtimes and the directory's own location do not, so a
    copy of a SavedModel elsewhere has the same digest.
    """
    if not path.is_dir():
        return file_digest(path)
    return tree_digest(
        (relative, file_digest(Path(absolute))) for relative, absolute in walk_files(str(path))
    )


def tree_digest(listing: Iterable[tuple[str, str]]) -> str:
    """A directory's digest from its (relative POSIX path, file digest) pairs, in sorted order."""
    return canonical_digest({"tree": [[relative, digest] for relative, digest in listing]})


def canonical_json(value: object) -> str:
    """JSON with sorted keys and fixed separators: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical_digest(value: object) -> str:
    return bytes_digest(canonical_json(value).encode())
