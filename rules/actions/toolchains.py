"""``doit toolchains``: each toolchain, whether it is made, its versions, where it lives, its size.

It never makes one (a build does, on first use): it says what a build would use.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from rules.project.settings import Settings


def toolchains_task(settings: Settings) -> dict[str, Any]:
    return {
        "basename": "toolchains",
        "doc": "List the toolchains: made or not, their versions, where they live, their size",
        "actions": [(toolchains, [settings])],
        "uptodate": [False],
        "verbosity": 2,
    }


def toolchains(settings: Settings) -> TaskFailed | None:
    from converter.toolchains import defaults, environments

    where = toolchains_home(settings)
    failures = []
    for kind, toolchain in defaults.chosen(settings.toolchains).items():
        try:
            found = environments.find(toolchain, where)
        except environments.ToolchainError as e:
            failures.append(f"{kind}: {e}")
            continue
        print(describe(toolchain, found, where), file=sys.stdout)
    return TaskFailed("\n".join(failures)) if failures else None


def toolchains_home(settings: Settings) -> Path:
    """Where this build's toolchains live: the setting, else the user's cache directory."""
    from converter.toolchains.environments import home

    return Path(settings.toolchains_dir).expanduser() if settings.toolchains_dir else home()


def describe(toolchain: Any, found: Any, where: Path) -> str:
    """One line: what a toolchain is, and whether (and where) it is made."""
    wanted = ", ".join(toolchain.requirements) or "no requirements"
    if found is None:
        folder = toolchain.folder(where)
        return f"{toolchain.kind}: not made yet ({wanted}); a build makes it in {folder}"
    names = [_name(r) for r in toolchain.requirements] if toolchain.requirements else []
    versions = ", ".join(f"{name} {found.version(name) or 'missing'}" for name in names)
    what = (
        f"{versions}; python {found.python_version}"
        if versions
        else f"python {found.python_version}"
    )
    if found.folder is None:
        return f"{toolchain.kind}: your environment {found.python} ({what})"
    from converter.toolchains.environments import size

    megabytes = size(found.folder) / 1e6
    return f"{toolchain.kind}: made, {what}, in {found.folder} ({megabytes:,.0f} MB)"


def _name(requirement: str) -> str:
    """A requirement's distribution name: ``torch==2.13.0`` -> ``torch``."""
    return re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0]
