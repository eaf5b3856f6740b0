"""``doit toolchains``: each toolchain, whether it is made, its versions, where it lives, its size.

It never makes one (a build does, on first use): it says what a build would use.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from rules.project import toolchains as project_toolchains
from rules.project.settings import Settings


def toolchains_task(settings: Settings, root: Path | None) -> dict[str, Any]:
    return {
        "basename": "toolchains",
        "doc": "List the toolchains: made or not, their versions, where they live, their size",
        "actions": [(toolchains, [settings, root])],
        "uptodate": [False],
        "verbosity": 2,
    }


def toolchains(settings: Settings, root: Path | None) -> TaskFailed | None:
    from converter.toolchains import environments

    where = project_toolchains.home(settings, root)
    failures = []
    for kind, toolchain in project_toolchains.chosen(settings).items():
        try:
            found = environments.find(toolchain, where)
        except environments.ToolchainError as e:
            failures.append(f"{kind}: {e}")
            continue
        print(describe(toolchain, found, where), file=sys.stdout)
    return TaskFailed("\n".join(failures)) if failures else None


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


def in_toolchain(root: Path | str, kind: str, *command: str | Path) -> tuple[Any, list[Any]]:
    """A doit action that runs ``command`` with the interpreter of the project's ``kind``
    toolchain (made first if need be), in the project root: a project's own task that
    trains a PyTorch or JAX model uses it. ``root``: the dodo.py, or its folder."""
    folder = Path(root)
    folder = folder.parent if folder.suffix == ".py" else folder
    return (_run_in_toolchain, [folder, kind, [str(part) for part in command]])


def _run_in_toolchain(root: Path, kind: str, command: list[str]) -> TaskFailed | None:
    import subprocess

    from converter.errors import ConverterError
    from converter.toolchains import environments
    from rules.project.root import load_project

    project = load_project(root)
    toolchain = project_toolchains.chosen(project.settings).get(kind)
    if toolchain is None:
        return TaskFailed(f"no {kind} toolchain: add [tool.tflite-build.toolchains.{kind}]")
    try:
        # Straight to the terminal: doit holds a task's own output back until it fails.
        made = environments.ensure(
            toolchain,
            project_toolchains.home(project.settings, root),
            lambda line: print(f"tflite-build: {line}", file=sys.__stderr__, flush=True),
        )
    except ConverterError as e:
        return TaskFailed(str(e))
    sys.stdout.flush()
    done = subprocess.run([str(made.python), *command], cwd=root, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        shown = " ".join(command)
        return TaskFailed(f"`{shown}` exited with {done.returncode} in the {kind} toolchain")
    return None
