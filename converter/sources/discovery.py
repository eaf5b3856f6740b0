"""The files a user's Python code reads while it runs in the worker: a depfile, as compilers write.

While ``recording`` is active, every file under the project root that the code
opens for reading (``open``, ``os.open``, ``numpy.load``...: PEP 578's ``open``
audit event) or imports (modules that appear in ``sys.modules``, by their
``__file__``) is noted, then hashed. Modules under the root are dropped from
``sys.modules`` first, so a persistent worker imports an edited helper afresh
and sees the import. Python's own installation, virtual environments and this
package are never recorded. Files that TensorFlow reads natively (in C++)
cannot be seen this way; a manifest lists those in ``deps``.

The same line between the environment and user code lets a warm worker forget,
after each request, every module user code imported (``forget_user_modules``):
the next request may come from another project with its own ``helpers.py``.
"""

from __future__ import annotations

import contextlib
import os
import site
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from converter.digest import file_digest
from converter.versions import OWN_PACKAGES, PACKAGE_ROOT

# The import path and folder this interpreter started with: the folders on it hold
# the environment's packages too (a .pth file or PYTHONPATH can add site-packages
# beyond sys.prefix, as a layered virtual environment does).
_STARTUP_PATH = tuple(sys.path)
_STARTUP_CWD = os.getcwd()
_WRITING = ("w", "a", "x")
_WRITE_FLAGS = os.O_CREAT | os.O_TRUNC | os.O_WRONLY


class Recorder:
    """The files one recording saw, filtered to the root and hashed at the end."""

    def __init__(self, root: Path, ignore: tuple[Path, ...] = ()) -> None:
        self.root = str(root.resolve()).rstrip(os.sep) + os.sep
        self.excluded = environment_roots() + _folders(ignore)
        self.seen: set[str] = set()

    def wanted(self, path: str) -> bool:
        """Whether a file at this absolute, real path counts as a project file."""
        if not path.startswith(self.root) or path.startswith(self.excluded):
            return False
        parts = path[len(self.root) :].split(os.sep)
        return not any(p in ("__pycache__", "site-packages", "dist-packages") for p in parts[:-1])

    def note(self, path: Any) -> None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        elif isinstance(path, os.PathLike):
            path = os.fspath(path)
        if isinstance(path, str):
            self.seen.add(path)

    def user_modules(self) -> dict[str, str]:
        """Loaded modules whose file is a project file: name -> file."""
        found = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if isinstance(file, str):
                real = os.path.realpath(file)
                if self.wanted(real):
                    found[name] = real
        return found

    def digests(self) -> dict[str, str]:
        """Project-relative POSIX path -> sha256 of every project file seen (that still exists)."""
        out = {}
        for path in sorted({os.path.realpath(os.path.abspath(p)) for p in self.seen}):
            if not self.wanted(path) or not os.path.isfile(path):
                continue
            relative = path[len(self.root) :].replace(os.sep, "/")
            out[relative] = file_digest(Path(path))
        return out


def environment_roots() -> tuple[str, ...]:
    """The folders of the environment rather than of user code: Python's, site-packages, ours."""
    roots = [sys.prefix, sys.base_prefix, sys.exec_prefix]
    roots += [str(PACKAGE_ROOT / name) for name in OWN_PACKAGES]
    with contextlib.suppress(AttributeError):
        roots += site.getsitepackages()
    with contextlib.suppress(AttributeError):
        roots.append(site.getusersitepackages())
    # Not the working folder nor our checkout's root: user projects live there.
    mine = {os.path.realpath(p) for p in (_STARTUP_CWD, PACKAGE_ROOT)}
    roots += [p for p in _STARTUP_PATH if p and os.path.realpath(p) not in mine]
    return _folders(roots)


def _folders(paths: Iterable[str | Path]) -> tuple[str, ...]:
    """Absolute and real paths with a trailing separator, ready for ``str.startswith``."""
    forms = {f(p) for p in paths for f in (os.path.abspath, os.path.realpath)}
    return tuple(sorted(form.rstrip(os.sep) + os.sep for form in forms))


def is_user_module(module: object, roots: tuple[str, ...]) -> bool:
    """Whether a module was loaded from a file (or a namespace folder) outside ``roots``."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        places = [file]
    else:  # a namespace package has folders, no file
        path = getattr(module, "__path__", None)
        places = [p for p in path if isinstance(p, str)] if isinstance(path, Iterable) else []
    # A module is the environment's if it lies under one of its folders as named or as
    # resolved: site-packages may be a folder of links into another (a layered venv).
    return any(
        not os.path.abspath(p).startswith(roots) and not os.path.realpath(p).startswith(roots)
        for p in places
    )


def forget_user_modules() -> set[str]:
    """Drop every module imported from user code; returns their names.

    A persistent worker calls this after each request, so a module that one
    project's code imported (its ``helpers``) cannot shadow another project's
    module of the same name, nor an edited copy of itself.
    """
    roots = environment_roots()
    forgotten = {
        name for name, module in list(sys.modules.items()) if is_user_module(module, roots)
    }
    for name in forgotten:
        sys.modules.pop(name, None)
    return forgotten


_active: list[Recorder] = []
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not _active:
        return
    path, mode, flags = (*args, None, None)[:3]
    if isinstance(mode, str):
        if any(c in mode for c in _WRITING):
            return
    elif isinstance(flags, int) and flags & _WRITE_FLAGS:
        return
    if isinstance(path, int):
        return
    _active[-1].note(path)


@contextlib.contextmanager
def unrecorded() -> Iterator[None]:
    """Record no file read inside the block: the model file a source's code is loaded for.

    That file is a declared input, or the product of a task (keyed by the task's
    recipe, not its bytes): either way it is not something the code was seen to read.
    """
    saved = _active[:]
    _active.clear()
    try:
        yield
    finally:
        _active[:] = saved


@contextlib.contextmanager
def recording(root: Path, ignore: tuple[Path, ...] = ()) -> Iterator[Recorder]:
    """Record the project files read inside the block (see the module docstring)."""
    global _hooked
    if not _hooked:
        sys.addaudithook(_audit)  # hooks cannot be removed: one, switched by _active
        _hooked = True
    recorder = Recorder(root, ignore)
    for name in recorder.user_modules():
        sys.modules.pop(name, None)  # imported afresh, and so seen, inside the block
    _active.append(recorder)
    try:
        yield recorder
    finally:
        _active.pop()
        for name, file in recorder.user_modules().items():
            recorder.note(file)
            sys.modules.pop(name, None)  # the next entry point must import it again too
