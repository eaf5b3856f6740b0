"""One doit process's build: the project, its cache, its state, and its engine.

Made once when doit loads the tasks (``rules.loader``) and handed to every
action and up-to-date check as an argument, so nothing about a build lives in
module globals. The engine (TensorFlow's persistent worker, or the warm
conversion service when the ``daemon`` setting is on) and the cache are opened
on first use and belong to the process that opened them: a forked doit worker
opens its own.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from converter import errors
from rules.cache.settings import CacheSettings
from rules.project.root import Project
from rules.project.settings import Settings
from rules.project.state import BuildState

if TYPE_CHECKING:
    from converter.api import Engine
    from converter.service.client import ServiceConfig
    from rules.cache.artifacts import ArtifactCache


@dataclass
class Build:
    project: Project
    cache_settings: (
        CacheSettings  # where the cache is (the project's own settings: project.settings)
    )
    state: BuildState
    # Source model outputs by reference key: one TF run per model and inputs per process.
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Report name -> its keys and hits (rules.report.measurements.Plan), once per process.
    plans: dict[str, object] = field(default_factory=dict)
    # A shadow toolchain's identity, or why it cannot be made: found once per build.
    shadows: dict[object, object] = field(default_factory=dict)
    # This run, as the reporter sees it: the tasks the command line selected, and those that
    # have failed so far (a later task can then name the cause of what it misses).
    selected: frozenset[str] = frozenset()
    failed: set[str] = field(default_factory=set)
    _cache: tuple[int, ArtifactCache] | None = None

    def engine(self) -> Engine:
        """The process's engine, made on first use and closed at exit.

        One per process, not per build: a test or tool that runs doit many times
        in one process keeps one TensorFlow worker. With the daemon setting on,
        it sends requests to the warm service (started by the first build that
        needs it); if the service cannot be reached it warns once, like the
        cache, and converts in this process.
        """
        from converter.api import default_engine  # here: a build of cache hits never needs it
        from rules.project import toolchains

        limits = self.project.limits
        settings = self.project.settings
        daemon = service_config(settings) if settings.daemon_on else False
        return default_engine(
            limits.timeout,
            limits.memory_mb,
            daemon,
            warn=errors.warn,
            toolchains=toolchains.chosen(settings),
            toolchains_dir=toolchains.home(settings, self.project.root),
        )

    @property
    def caching(self) -> bool:
        return self.cache_settings.local is not None or self.cache_settings.remote is not None

    def cache(self) -> ArtifactCache:
        """This process's view of the cache (a remote that failed is dropped once, here)."""
        if self._cache is None or self._cache[0] != os.getpid():
            from rules.cache.artifacts import ArtifactCache  # here: a no-op build opens no cache

            self._cache = (os.getpid(), ArtifactCache(self.cache_settings))
        return self._cache[1]

    def begin_run(self) -> None:
        """A run starts (not a listing): the build state may be written from now on."""
        self.state.begin_run()

    def end_run(self, stored: bool) -> None:
        """A run is over; when it stored anything locally, keep the cache within its size.

        The objects the loader set aside from the garbage collector go back to it.
        """
        gc.unfreeze()
        settings = self.cache_settings
        if stored and settings.local and settings.max_size:
            from rules.cache.stores.local import LocalStore  # here: only after a run that stored

            LocalStore(settings.local).prune(settings.max_size)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": None, "references": {}, "plans": {}}


def service_config(settings: Settings) -> ServiceConfig:
    """Where this environment's warm service lives, and how a build starts it."""
    from converter.service.client import ServiceConfig  # here: loading the tasks never needs it

    directory = Path(settings.daemon_dir).expanduser() if settings.daemon_dir else None
    return ServiceConfig(
        directory=directory,
        workers=settings.daemon_workers,
        idle_timeout=settings.daemon_idle_timeout,
    )
