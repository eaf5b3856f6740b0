"""doit's console output plus one closing line: how many variants were built, fetched, skipped, failed.

It also keeps the local cache within ``cache_max_size`` once a run is over: the
reporter is the one object doit runs in the main process after every task,
whatever the parallelism.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from doit.reporter import ConsoleReporter

from rules.actions import RESTORED
from rules.cache import CacheSettings
from rules.stores import LocalStore

PREFIX = "convert:"


def reporter_for(settings: CacheSettings) -> type[ConsoleReporter]:
    """A ConsoleReporter class bound to this project's cache settings (doit wants a class)."""

    class BuildReporter(ConsoleReporter):  # type: ignore[misc]
        def __init__(self, outstream: Any, options: Any) -> None:
            super().__init__(outstream, options)
            self.counts: Counter[str] = Counter()
            self.started = time.perf_counter()

        def add_success(self, task: Any) -> None:
            super().add_success(task)
            if task.name.startswith(PREFIX):
                self.counts[task.values.get("origin", "built")] += 1

        def add_failure(self, task: Any, fail: Any) -> None:
            super().add_failure(task, fail)
            if task.name.startswith(PREFIX):
                self.counts["failed"] += 1

        def skip_uptodate(self, task: Any) -> None:
            if task.name in RESTORED:  # restored by the up-to-date check: say so
                self.write(f"C  {task.name} (from the {RESTORED[task.name]} cache)\n")
                self.counts[RESTORED[task.name]] += 1
                return
            super().skip_uptodate(task)
            if task.name.startswith(PREFIX):
                self.counts["up to date"] += 1

        def complete_run(self) -> None:
            super().complete_run()
            if sum(self.counts.values()):
                self.write(summary(self.counts, time.perf_counter() - self.started) + "\n")
            if (
                self.counts["built"] + self.counts["remote"]
                and settings.local
                and settings.max_size
            ):
                LocalStore(settings.local).prune(settings.max_size)

    return BuildReporter


def summary(counts: Counter[str], seconds: float) -> str:
    cached = counts["local"] + counts["remote"]
    parts = [f"{counts['built']} built", f"{cached} from cache"]
    if counts["remote"]:
        parts[-1] += f" ({counts['remote']} remote)"
    parts += [f"{counts['up to date']} up to date", f"{counts['failed']} failed"]
    return f"tflite-build: {', '.join(parts)} in {seconds:.1f} s"
