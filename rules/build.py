"""One doit process's build: the project, its cache, its state, and where conversions run.

Made once when doit loads the tasks (``rules.loader``) and handed to every
action and up-to-date check as an argument, so nothing about a build lives in
module globals. The engine (TensorFlow's persistent worker) and the cache are
opened on first use and belong to the process that opened them: a forked doit
worker opens its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rules.cache import ArtifactCache, CacheSettings
from rules.project import Project
from rules.state import BuildState

if TYPE_CHECKING:
    from converter.api import Engine
    from rules.measurements import Plan


@dataclass
class Build:
    project: Project
    settings: CacheSettings
    state: BuildState
    # Source model outputs by reference key: one TF run per model and inputs per process.
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)  # report name -> its keys and hits
    _cache: tuple[int, ArtifactCache] | None = None

    def engine(self) -> Engine:
        """The process's engine (one persistent worker), started on first use and closed at exit.

        One per process, not per build: a test or tool that runs doit many times
        in one process keeps one TensorFlow worker.
        """
        from converter.api import default_engine  # here: a build of cache hits never needs it

        limits = self.project.limits
        return default_engine(limits.timeout, limits.memory_mb)

    @property
    def caching(self) -> bool:
        return self.settings.local is not None or self.settings.remote is not None

    def cache(self) -> ArtifactCache:
        """This process's view of the cache (a remote that failed is dropped once, here)."""
        if self._cache is None or self._cache[0] != os.getpid():
            self._cache = (os.getpid(), ArtifactCache(self.settings))
        return self._cache[1]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": None, "references": {}, "plans": {}}
