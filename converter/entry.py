"""Entry points, ``file.py:function`` or ``package.module:function``, and the modules they name.

Manifests, the converter and the build all read entry points (and a Keras source's
``imports``, plain ``file.py`` or ``package.module``) through this module, so the
syntax and the files it names are decided in one place. Resolving a module to its
files uses Python's own path finder, which executes nothing.
"""

from __future__ import annotations

import importlib.machinery
import os
from dataclasses import dataclass
from pathlib import Path

SYNTAX = "'file.py:function' or 'package.module:function'"
CLASS_SYNTAX = "'file.py:Class' or 'package.module:Class'"
MODULE_SYNTAX = "'file.py' or 'package.module'"
# The same syntaxes as regular expressions, for the manifest's JSON Schema.
_TARGET = r"(?:[^:]*\.py|[^:]*/[^:]*|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
ENTRY_PATTERN = rf"^{_TARGET}:[A-Za-z_]\w*$"
MODULE_PATTERN = rf"^{_TARGET}$"


@dataclass(frozen=True)
class Module:
    """A Python file (``layers.py``, ``tools/layers.py``) or a dotted module name (``pkg.layers``)."""

    target: str

    @classmethod
    def parse(cls, text: str) -> Module | None:
        """The module ``text`` names, or None when it does not follow the syntax."""
        if ":" in text or not text:
            return None
        if not _is_file(text) and not all(part.isidentifier() for part in text.split(".")):
            return None
        return cls(text)

    @property
    def is_file(self) -> bool:
        return _is_file(self.target)

    def file(self, base_dir: Path) -> Path | None:
        """The file a ``file.py`` target names (relative to ``base_dir``, ``..`` resolved); else None.

        Normalized, so that ``../shared/layers.py`` is the same input, under the same
        name, as the file the code is seen to read.
        """
        if not self.is_file:
            return None
        return Path(os.path.normpath(base_dir / self.target))

    def files(self, base_dir: Path) -> tuple[Path, ...]:
        """Every file the module's own code comes from, as far as it can be known without running it.

        A file is itself. A module found under ``base_dir`` is its module file plus
        the ``__init__.py`` of each package on the way; an installed module (not
        under ``base_dir``) resolves to nothing here.
        """
        file = self.file(base_dir)
        if file is not None:
            return (file,)
        found: list[Path] = []
        search = [str(base_dir)]
        for part in self.target.split("."):
            spec = importlib.machinery.PathFinder.find_spec(part, search)
            if spec is None or spec.origin is None or spec.origin in ("built-in", "frozen"):
                return ()
            found.append(Path(spec.origin))
            if spec.submodule_search_locations is None:
                break
            search = list(spec.submodule_search_locations)
        return tuple(found)

    def __str__(self) -> str:
        return self.target


@dataclass(frozen=True)
class EntryPoint:
    """``target:function``: a function (or a class) of a Python file or module."""

    target: str  # a file path (``build.py``, ``tools/make.py``) or a dotted module name
    function: str

    @classmethod
    def parse(cls, text: str) -> EntryPoint | None:
        """The entry point ``text`` names, or None when it does not follow the syntax."""
        target, sep, function = text.rpartition(":")
        if not sep or not function.isidentifier() or Module.parse(target) is None:
            return None
        return cls(target, function)

    @property
    def module(self) -> Module:
        return Module(self.target)

    @property
    def is_file(self) -> bool:
        return self.module.is_file

    def file(self, base_dir: Path) -> Path | None:
        """The file a ``file.py:function`` entry names (relative to ``base_dir``); else None."""
        return self.module.file(base_dir)

    def files(self, base_dir: Path) -> tuple[Path, ...]:
        """Every file the entry's own code comes from (``Module.files``)."""
        return self.module.files(base_dir)

    def __str__(self) -> str:
        return f"{self.target}:{self.function}"


def _is_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target
