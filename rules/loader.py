"""What a dodo.py calls: ``globals().update(rules.doit_tasks(__file__))``.

Returns DOIT_CONFIG and the task creators for the project whose root holds the
given dodo.py. Manifests are parsed once, when doit first asks for tasks; a
mistake in any of them stops the load with every problem listed (doit prints
it as ``ERROR: ...``, no traceback) before anything is built.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from doit.exceptions import InvalidDodoFile, TaskFailed

from rules.actions.daemon import daemon_tasks
from rules.actions.toolchains import toolchains_task
from rules.build.context import Build
from rules.cache.settings import CacheSettings, settings_for
from rules.console.reporter import reporter_for
from rules.errors import ManifestError, RulesError
from rules.manifest.catalog import load_manifests
from rules.manifest.types import Manifest
from rules.project.root import Project, find_manifests, load_project
from rules.project.settings import Settings
from rules.project.state import BuildState
from rules.tasks import (
    cache_tasks,
    check_task,
    convert_tasks,
    ops_task,
    report_tasks,
    shadow_tasks,
    source_gates,
    summary_task,
)


def doit_tasks(dodo_file_or_root: Path | str) -> dict[str, Any]:
    """DOIT_CONFIG and the task creators for the project at this dodo.py's folder."""
    root = Path(dodo_file_or_root)
    root = root.parent if root.suffix == ".py" else root
    project: Project | None = None
    settings = CacheSettings(None)
    shard: tuple[int, int] | None = None
    error: RulesError | None = None
    try:
        project = load_project(root)
        settings = settings_for(project)
        shard = project.settings.shard
    except RulesError as e:
        error = e
    state_dir = project.state_dir if project else root.resolve() / "build" / ".tflite-build"
    state_dir.mkdir(parents=True, exist_ok=True)
    state = BuildState(state_dir)
    build = Build(project, settings, state) if project is not None else None
    config: dict[str, Any] = {
        "backend": "sqlite3",  # parallel doit processes keep each other's results
        # doit's own database stays a file of its own: after a failed task doit holds
        # a write transaction open until the run ends, which would block our records.
        "dep_file": str(state_dir / "doit.sqlite"),
        "default_tasks": ["convert"],
    }
    if build is not None:
        config["reporter"] = reporter_for(build)

    @functools.cache
    def manifests() -> tuple[Build, list[Manifest]]:
        if build is None or error is not None:
            raise InvalidDodoFile(str(error))
        with _long_lived():
            paths = find_manifests(build.project, state)
            found, problems = load_manifests(build.project, paths, state)
        if problems:
            raise InvalidDodoFile(str(ManifestError(problems)))
        return build, found

    def task_convert() -> Iterator[dict[str, Any]]:
        """Convert every model variant to .tflite"""
        yield from convert_tasks(*manifests(), shard)

    def task_report() -> Iterator[dict[str, Any]]:
        """Report every variant's size, latency and accuracy, and check its budgets"""
        yield from report_tasks(*manifests(), shard)
        yield from source_gates(*manifests(), shard)

    def task_summary() -> dict[str, Any]:
        """Summarize every report in build/summary.json, summary.md and summary.html"""
        return summary_task(*manifests())

    def task_shadow() -> Iterator[dict[str, Any]]:
        """Convert every variant with the shadow toolchain and say what changes"""
        yield from shadow_tasks(*manifests())

    def task_ops() -> dict[str, Any]:
        """Write the fleet's op inventory (build/ops.json) and a selective runtime's registration source"""
        return ops_task(*manifests())

    def task_cache() -> Iterator[dict[str, Any]]:
        yield from cache_tasks(settings)

    def task_daemon() -> Iterator[dict[str, Any]]:
        yield from daemon_tasks(project.settings if project is not None else Settings())

    def task_toolchains() -> dict[str, Any]:
        if project is None:
            return toolchains_task(Settings(), None)
        return toolchains_task(project.settings, project.root)

    def task_check() -> dict[str, Any]:
        """Validate every manifest without building"""
        return check_task(manifests()[1])

    return {
        "DOIT_CONFIG": config,
        "TFLITE_BUILD": build,  # not a task: this build's state, for tools and tests
        "task_convert": task_convert,
        "task_check": task_check,
        "task_report": task_report,
        "task_summary": task_summary,
        "task_ops": task_ops,
        "task_shadow": task_shadow,
        "task_cache": task_cache,
        "task_watch": _watch_task(Path(dodo_file_or_root)),
        "task_daemon": task_daemon,
        "task_toolchains": task_toolchains,
    }


def _watch_task(dodo_file_or_root: Path) -> Callable[[], dict[str, Any]]:
    """The ``watch`` task creator; the watch loop (and watchdog) is imported only when it runs."""
    dodo = dodo_file_or_root
    dodo = dodo if dodo.suffix == ".py" else dodo / "dodo.py"

    def task_watch() -> dict[str, Any]:
        return {
            "basename": "watch",
            "doc": "Rebuild what an edit changes as soon as it is saved (--reports: reports too)",
            "actions": [(_watch, [dodo.resolve()])],
            "params": [
                {
                    "name": "reports",
                    "long": "reports",
                    "type": bool,
                    "default": False,
                    "help": "also rebuild the reports of the variants an edit changes",
                }
            ],
            "uptodate": [False],
            "verbosity": 2,  # its lines, and doit's own for each rebuild, as they come
        }

    return task_watch


def _watch(dodo: Path, reports: bool = False) -> TaskFailed | None:
    from rules.watch import watch

    return watch(dodo, reports)


@contextlib.contextmanager
def _long_lived() -> Iterator[None]:
    """Load data that lives as long as the build: the garbage collector need not trace it.

    A big monorepo's manifests are tens of thousands of objects that live until doit
    exits; the cyclic collector would trace them again and again while doit makes
    and checks its tasks (a tenth of a no-op build of 600 tasks). Collection waits
    while they load, then ``gc.freeze`` puts them out of its reach; ``Build.end_run``
    hands them back, for processes that go on (tests, tools).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()
