"""What a dodo.py calls: ``globals().update(rules.doit_tasks(__file__))``.

Returns DOIT_CONFIG and the task creators for the project whose root holds the
given dodo.py. Manifests are parsed once, when doit first asks for tasks; a
mistake in any of them stops the load with every problem listed (doit prints
it as ``ERROR: ...``, no traceback) before anything is built.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doit.exceptions import InvalidDodoFile

from rules.errors import ManifestError, RulesError
from rules.manifest import Manifest, load_manifests
from rules.project import Project, find_manifests, load_project
from rules.tasks import check_task, convert_tasks


def doit_tasks(dodo_file_or_root: Path | str) -> dict[str, Any]:
    """DOIT_CONFIG, task_convert and task_check for the project at this dodo.py's folder."""
    root = Path(dodo_file_or_root)
    root = root.parent if root.suffix == ".py" else root
    try:
        project: Project | None = load_project(root)
        error: RulesError | None = None
    except RulesError as e:
        project, error = None, e
    state_dir = project.state_dir if project else root.resolve() / "build" / ".tflite-build"
    state_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "backend": "sqlite3",  # parallel doit processes keep each other's results
        "dep_file": str(state_dir / "doit.sqlite"),
        "default_tasks": ["convert"],
    }

    @functools.cache
    def manifests() -> tuple[Project, list[Manifest]]:
        if project is None:
            assert error is not None
            raise InvalidDodoFile(str(error))
        found, problems = load_manifests(project, find_manifests(project))
        if problems:
            raise InvalidDodoFile(str(ManifestError(problems)))
        return project, found

    def task_convert() -> Iterator[dict[str, Any]]:
        """Convert every model variant to .tflite"""
        yield from convert_tasks(*manifests())

    def task_check() -> dict[str, Any]:
        """Validate every manifest without building"""
        return check_task(*manifests())

    return {"DOIT_CONFIG": config, "task_convert": task_convert, "task_check": task_check}
