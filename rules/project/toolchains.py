"""The project's toolchains: which (the defaults, as its settings override them), where, and
the versions that key what each converts (``converter.toolchains``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from rules.errors import RulesError
from rules.project.settings import Settings

if TYPE_CHECKING:
    from converter.toolchains.environments import Toolchain


def chosen(settings: Settings) -> dict[str, Toolchain]:
    """Kind -> toolchain: the defaults, each replaced whole by the project's table of its kind."""
    from converter.toolchains import defaults

    return defaults.chosen(settings.toolchains)


def home(settings: Settings, root: Path | None = None) -> Path:
    """Where the toolchains are made: the setting (from the project root), else the user's cache."""
    from converter.toolchains.environments import home as user_home

    if not settings.toolchains_dir:
        return user_home()
    where = Path(settings.toolchains_dir).expanduser()
    return where if root is None else root / where


def identity(settings: Settings, root: Path, kind: str) -> dict[str, str]:
    """Name -> version of what the ``kind`` toolchain's artifacts depend on (for keys).

    From its pins alone when they name every such package (the defaults do);
    else from its environment, made first if need be.
    """
    toolchain = chosen(settings).get(kind)
    if toolchain is None:
        raise RulesError(
            f"no {kind} toolchain: add [tool.tflite-build.toolchains.{kind}] to pyproject.toml"
        )
    return _identity(toolchain, home(settings, root))


@functools.cache
def _identity(toolchain: Toolchain, where: Path) -> dict[str, str]:
    from converter.toolchains import defaults

    return {
        "toolchain": toolchain.kind,
        **defaults.identity(toolchain, where),
    }
