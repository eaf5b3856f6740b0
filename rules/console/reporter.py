"""doit's console output plus one closing line: what was built, fetched, skipped and failed.

doit makes a reporter only for ``run``, in the main process whatever the
parallelism, so the reporter is also where a run's lifecycle hooks are called:
``Build.begin_run`` when it starts (the build state stays read-only for ``list``,
``info`` and the like) and ``Build.end_run`` when it is over.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from doit.exceptions import UnmetDependency
from doit.reporter import ConsoleReporter

from rules.build import layout
from rules.build.context import Build
from rules.console.display import Display, display_for

PREFIX = f"{layout.CONVERT}:"
REPORTS = f"{layout.REPORT}:"
SHADOWS = f"{layout.SHADOW}:"  # a shadow build's conversions (and its summary)
SHADOW_SUMMARY = f"{layout.SHADOW}:summary"


def converts(name: str) -> bool:
    """Whether the task ``name`` is a conversion: a variant's, or its shadow's."""
    return name.startswith(PREFIX) or (name.startswith(SHADOWS) and name != SHADOW_SUMMARY)


NAMED_FAILURES = 5  # the closing line names this many failed tasks, then counts the rest


def reporter_for(build: Build) -> type[ConsoleReporter]:
    """A ConsoleReporter class bound to this build (doit wants a class)."""

    class BuildReporter(ConsoleReporter):  # type: ignore[misc]
        def __init__(self, outstream: Any, options: Any) -> None:
            super().__init__(outstream, options)
            build.begin_run()
            self.counts: Counter[str] = Counter()  # conversions: built, local, remote...
            self.reports: Counter[str] = Counter()  # reports: measured, cache, up to date
            self.failed: list[str] = []
            self.blocked = 0
            self.summary_blocked = False
            self.seen = 0  # tasks doit looked at in any way: none means nothing was selected
            self.started = time.perf_counter()
            self.display: Display | None = None  # from initialize: it needs the tasks

        def write(self, text: str) -> None:
            if self.display is None:
                super().write(text)
            else:
                self.display.write(text)

        def initialize(self, tasks: dict[str, Any], selected_tasks: list[str]) -> None:
            super().initialize(tasks, selected_tasks)
            build.selected = frozenset(selected_tasks)
            self.display = display_for(self.outstream, len(variants_in(tasks, selected_tasks)))

        def _finished(self, task: Any, outcome: str) -> None:
            if self.display is not None and task.actions:
                self.display.finished(task.name, outcome, converts(task.name))

        def execute_task(self, task: Any) -> None:
            super().execute_task(task)
            self.seen += 1
            if self.display is not None and task.actions and not task.name.startswith("_"):
                self.display.started(task.name)

        def skip_ignore(self, task: Any) -> None:
            super().skip_ignore(task)
            self.seen += 1
            self._finished(task, "ignored")

        def add_success(self, task: Any) -> None:
            super().add_success(task)
            if converts(task.name):
                self.counts[task.values.get("origin", "built")] += 1
            elif task.name.startswith(REPORTS):
                self.reports[task.values.get("measurements", "measured")] += 1
            self._finished(task, "built" if converts(task.name) else "done")

        def add_failure(self, task: Any, fail: Any) -> None:
            super().add_failure(task, fail)
            self.seen += 1
            if isinstance(fail, UnmetDependency):  # not run: a task it needs failed
                self.blocked += bool(task.actions)  # a group (`convert`) is no task of its own
                self.summary_blocked |= task.name == layout.SUMMARY
            else:
                self.failed.append(task.name)
                build.failed.add(task.name)
                if task.name.startswith(REPORTS):
                    self.reports["failed"] += 1  # counted with every failure; marks a report run
            self._finished(task, "failed")

        def skip_uptodate(self, task: Any) -> None:
            self.seen += 1
            self._finished(task, "up to date")
            origin = build.state.restored.get(task.name)
            if origin is not None:  # restored by the up-to-date check: say so
                self.write(f"C  {task.name} (from the {origin} cache)\n")
                self.counts[origin] += 1
                return
            super().skip_uptodate(task)
            if converts(task.name):
                self.counts["up to date"] += 1
            elif task.name.startswith(REPORTS):
                self.reports["up to date"] += 1

        def complete_run(self) -> None:
            if self.display is not None:  # doit's failure texts and our closing line follow it
                self.display.close()
                self.display = None
            super().complete_run()
            if not self.seen:
                self.write("tflite-build: no task matched the selection; nothing was done\n")
            if self.summary_blocked:
                self.write(
                    "tflite-build: no summary was written: a report it needs could not be "
                    "made (see the failures above); `doit -s summary` writes one from the "
                    "reports there are, and lists the missing\n"
                )
            if (
                sum(self.counts.values())
                or sum(self.reports.values())
                or self.failed
                or self.blocked
            ):
                elapsed = time.perf_counter() - self.started
                line = closing_line(self.counts, self.failed, self.blocked, elapsed, self.reports)
                self.write(line + "\n")
            build.end_run(stored=bool(self.counts["built"] + self.counts["remote"]))

    return BuildReporter


def variants_in(tasks: dict[str, Any], selected: list[str]) -> set[str]:
    """The conversions a run covers: the selected tasks' ``convert:`` tasks and those they need."""
    seen: set[str] = set()
    stack = list(selected)
    while stack:
        name = stack.pop()
        task = tasks.get(name)
        if name in seen or task is None:
            continue
        seen.add(name)
        stack += [*task.task_dep, *task.setup_tasks]
    return {name for name in seen if converts(name) and tasks[name].actions}


def closing_line(
    counts: Counter[str],
    failed: list[str],
    blocked: int,
    seconds: float,
    reports: Counter[str] | None = None,
) -> str:
    """``tflite-build: 3 built, 2 from cache, 11 up to date, 1 failed (train_digits) in 4.2 s``.

    Conversions a cluster ran count as built: ``3 built (3 on the cluster)``. A run
    that made reports (``doit report``, ``doit summary``) counts them too, after the
    conversions: ``...; reports: 2 measured, 14 from cache, 4 up to date; 0 failed in 3.1 s``.
    """
    cached = counts["local"] + counts["remote"]
    built = counts["built"] + counts["cluster"]
    parts = [
        f"{built} built" + (f" ({counts['cluster']} on the cluster)" if counts["cluster"] else "")
    ]
    parts.append(f"{cached} from cache")
    if counts["remote"]:
        parts[-1] += f" ({counts['remote']} remote)"
    parts.append(f"{counts['up to date']} up to date")
    failures = f"{len(failed)} failed"
    if failed:
        names = ", ".join(failed[:NAMED_FAILURES])
        more = len(failed) - NAMED_FAILURES
        failures += f" ({names}{f' and {more} more' if more > 0 else ''})"
    if blocked:
        failures += f", {blocked} not run (a task they need failed)"
    if reports is None or not sum(reports.values()):
        return f"tflite-build: {', '.join(parts)}, {failures} in {seconds:.1f} s"
    made = (
        f"reports: {reports['measured']} measured, {reports['cache']} from cache, "
        f"{reports['up to date']} up to date"
    )
    return f"tflite-build: {', '.join(parts)}; {made}; {failures} in {seconds:.1f} s"
