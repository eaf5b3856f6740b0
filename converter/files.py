"""Writing files atomically: one naming scheme for temporary files, one writer, one sweep.

A file appears under its name only when complete: it is written to a temporary
file beside it, ``.<name>.<pid>-<random>.tmp``, then renamed into place, so
readers see the old file or the new one, never a part, even with concurrent
writers. The writer's pid in the name lets ``sweep`` remove what a killed
process left behind, and nothing a live one is still writing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path


def _read_umask() -> int:
    # The only way to read the umask is to set it; done once, at import, before any
    # thread could create a file in between.
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_read_umask()  # what a plain open() gives a new file


def temporary_for(path: Path) -> Path:
    """A fresh temporary name beside ``path``, marked with this process's id."""
    return path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (see the module docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_for(path)
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def orphans(folder: Path, recursive: bool = False) -> Iterator[Path]:
    """Temporary files under ``folder`` whose writing process no longer runs."""
    pattern = "**/.*.tmp" if recursive else ".*.tmp"
    for temporary in folder.glob(pattern):
        pid = temporary.name.rpartition(".tmp")[0].rpartition(".")[2].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            yield temporary


def sweep(folder: Path, recursive: bool = False) -> int:
    """Remove the orphaned temporary files under ``folder``; how many there were."""
    removed = 0
    for temporary in orphans(folder, recursive):
        temporary.unlink(missing_ok=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
