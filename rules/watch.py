"""``doit watch``: rebuild what an edit changed as soon as it is saved, and say how long it took.

doit's own ``auto`` command watches a task's ``file_dep``, and our convert tasks
have none (see ``rules.tasks``), so it cannot see a manifest, a model or a
module an entry point imports. This loop watches them itself, with watchdog:
every manifest, every declared input of every variant, and the files each
variant's Python code was seen to read (the build state's records). A burst of
events (an editor's save: write a temporary file, rename it over the old one)
is one change once it has been quiet for ``DEBOUNCE`` seconds.

Each rebuild is a plain ``doit run`` of the affected tasks in this process, on
a freshly loaded dodo.py: the up-to-date checks, the cache and the reporter
apply as in any build, a new or deleted manifest is picked up, and the
process's engine (its persistent worker, or the warm service) serves every
rebuild, so TensorFlow is imported once per watch, not once per edit.
"""

from __future__ import annotations

import os
import queue
import runpy
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doit.exceptions import TaskFailed

from rules.build import layout
from rules.build.context import Build
from rules.build.keys import inputs_of
from rules.errors import ManifestError
from rules.manifest.catalog import load_manifests
from rules.project.root import find_manifests
from rules.tasks import in_shard

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent

DEBOUNCE = 0.2  # seconds of quiet that end a burst of events
# Events that say a file's bytes, name or stamps changed (not that someone read it:
# the worker opens the very files we watch).
CHANGES = {"created", "modified", "moved", "deleted", "closed", "attrib"}
STRUCTURE = {"created", "moved", "deleted"}  # may add or remove a manifest
NAMED = 3  # a rebuild line names this many changed files, then counts the rest


@dataclass
class Watched:
    """Which variants (``model/variant``) each watched file or folder feeds, at one moment."""

    root: Path
    build_dir: Path
    files: dict[str, set[str]] = field(default_factory=dict)  # manifests included
    folders: dict[str, set[str]] = field(default_factory=dict)  # SavedModel directories
    manifests: dict[str, str] = field(default_factory=dict)  # model name -> manifest path
    error: str | None = None  # the manifests' problems: nothing can be built until fixed

    def add(self, path: Path, variant: str) -> None:
        where = self.folders if path.is_dir() else self.files
        where.setdefault(str(path), set()).add(variant)

    def affected(self, path: str) -> set[str]:
        """The variants a change at ``path`` may rebuild."""
        found = set(self.files.get(path, ()))
        for folder, variants in self.folders.items():
            if path.startswith(folder + os.sep):
                found |= variants
        return found

    def variants(self) -> set[str]:
        return {v for path in self.manifests.values() for v in self.files[path]}

    def knows(self, path: str) -> bool:
        return path in self.files or any(path.startswith(f + os.sep) for f in self.folders)

    def outside(self) -> set[str]:
        """Folders to watch beside the root: inputs a manifest names outside the project."""
        prefix = str(self.root) + os.sep
        found = {os.path.dirname(f) for f in self.files if not f.startswith(prefix)}
        return found | {f for f in self.folders if not f.startswith(prefix)}


def survey(build: Build) -> Watched:
    """What to watch for this build, from its manifests and its state's records."""
    project, state = build.project, build.state
    watched = Watched(project.root, project.build_dir)
    paths = find_manifests(project, state)
    watched.files = {str(path): set() for path in paths}  # broken ones too: a fix must be seen
    manifests, problems = load_manifests(project, paths, state)
    if problems:
        watched.error = str(ManifestError(problems))
    for manifest in manifests:
        if not in_shard(manifest.name, project.settings.shard):
            continue
        watched.manifests[manifest.name] = str(manifest.path)
        for variant in manifest.variants:
            name = f"{manifest.name}/{variant.name}"
            watched.add(manifest.path, name)
            for path in inputs_of(manifest, variant):
                watched.add(path, name)
            record = state.record(layout.task_name(layout.CONVERT, name))
            for relative in record.discovered if record is not None else ():
                watched.add(project.root / relative, name)
    return watched


@dataclass(frozen=True)
class Change:
    seen: float  # perf_counter when the event arrived
    kind: str
    paths: tuple[str, ...]


class Events:
    """watchdog's handler: events from its thread, queued for the loop."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Change] = queue.Queue()

    def dispatch(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGES:
            return
        if event.is_directory and event.event_type not in STRUCTURE:
            return  # a folder's mtime moves with every file written in it
        paths = [os.fsdecode(event.src_path)]
        if event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        self.queue.put(Change(time.perf_counter(), event.event_type, tuple(paths)))

    def burst(self, relevant: Callable[[Change], bool]) -> list[Change]:
        """The next relevant changes, once no relevant event came for DEBOUNCE seconds."""
        changes: list[Change] = []
        while True:
            try:
                # A timeout, not a bare get(): Ctrl-C must reach this thread promptly.
                change = self.queue.get(timeout=DEBOUNCE if changes else 0.5)
            except queue.Empty:
                if changes:
                    return changes
                continue
            if relevant(change):
                changes.append(change)


@dataclass
class Outcome:
    word: str  # built, local, remote, up to date, failed, done
    at: float  # perf_counter when doit reported it


def load(dodo: Path) -> dict[str, Any]:
    """dodo.py run afresh: its manifests, settings and tasks as they are now."""
    return runpy.run_path(str(dodo))


def rebuild(namespace: dict[str, Any], tasks: list[str]) -> dict[str, Outcome]:
    """``doit run`` on ``tasks`` in this process; what became of each, and when."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    build: Build = namespace["TFLITE_BUILD"]
    config = namespace["DOIT_CONFIG"]
    outcomes: dict[str, Outcome] = {}

    def note(task: Any, word: str) -> None:
        outcomes[task.name] = Outcome(word, time.perf_counter())

    reporter: Any = config["reporter"]  # the build's own reporter, with its lines and closing line

    class Recording(reporter):  # type: ignore[misc]
        def add_success(self, task: Any) -> None:
            super().add_success(task)
            convert = task.name.startswith(f"{layout.CONVERT}:")
            note(task, task.values.get("origin", "built") if convert else "done")

        def skip_uptodate(self, task: Any) -> None:
            super().skip_uptodate(task)
            note(task, build.state.restored.get(task.name, "up to date"))

        def add_failure(self, task: Any, fail: Any) -> None:
            super().add_failure(task, fail)
            note(task, "failed")

    loader = ModuleTaskLoader({**namespace, "DOIT_CONFIG": {**config, "reporter": Recording}})
    DoitMain(loader).run(["run", *tasks])
    return outcomes


def describe(changed: Iterable[str], root: Path) -> str:
    """``digits/model.yaml``, or ``a, b, c and 2 more``."""
    names = sorted({os.path.relpath(path, root) for path in changed})
    shown = ", ".join(names[:NAMED])
    more = len(names) - NAMED
    return f"{shown}{f' and {more} more' if more > 0 else ''}"


def line(task: str, outcome: Outcome | None, seen: float, changed: str) -> str:
    """One rebuild's line: ``watch: digits/int8 rebuilt in 0.42 s (digits/model.yaml changed)``.

    ``changed`` names the files whose events led here.
    """
    name = task.removeprefix(f"{layout.CONVERT}:")
    if outcome is None:
        return f"watch: {name} not run ({changed} changed)"
    if outcome.word == "up to date":  # touched, or saved with its old bytes
        return f"watch: {name} up to date, nothing rebuilt ({changed} saved)"
    seconds = f"{outcome.at - seen:.2f} s"
    said = {
        "built": f"rebuilt in {seconds}",
        "local": f"restored from the local cache in {seconds}",
        "remote": f"restored from the remote cache in {seconds}",
        "failed": "failed; still watching",
        "done": f"done in {seconds}",
    }
    return f"watch: {name} {said.get(outcome.word, outcome.word)} ({changed} changed)"


def say(text: str) -> None:
    print(text, flush=True)


class Watcher:
    """The loop: survey, wait for a burst, rebuild the variants it touched, survey again."""

    def __init__(self, dodo: Path, reports: bool) -> None:
        from watchdog.observers import Observer

        self.dodo = dodo
        self.reports = reports
        build: Build | None = load(dodo).get("TFLITE_BUILD")
        if build is None:
            raise NotLoaded(f"watch: the project of {dodo} did not load; `doit check` says why")
        self.watched = survey(build)
        self.events = Events()
        self.observer = Observer()
        self.scheduled: set[str] = set()

    def schedule(self) -> None:
        """Watch the root (new manifests may appear anywhere) and any input outside it."""
        for folder in [str(self.watched.root), *sorted(self.watched.outside())]:
            if folder not in self.scheduled and os.path.isdir(folder):
                self.observer.schedule(self.events, folder, recursive=True)  # type: ignore[arg-type]
                self.scheduled.add(folder)

    def relevant(self, change: Change) -> bool:
        for path in change.paths:
            if self.watched.knows(path):
                return True
            if change.kind in STRUCTURE and not self._ignored(path):
                return True  # perhaps a manifest came or went
        return False

    def _ignored(self, path: str) -> bool:
        build = str(self.watched.build_dir)
        if path == build or path.startswith(build + os.sep):
            return True
        parts = Path(os.path.relpath(path, self.watched.root)).parts
        return any(p.startswith(".") or p == "__pycache__" for p in parts)

    def run(self) -> None:
        self.schedule()
        self.observer.start()
        try:
            self._announce()
            while True:
                self.step(self.events.burst(self.relevant))
        finally:
            self.observer.stop()
            self.observer.join()

    def _announce(self) -> None:
        watched = self.watched
        inputs = len(watched.files) - len(watched.manifests) + len(watched.folders)
        say(
            f"watch: watching {len(watched.manifests)} manifests and {inputs} inputs under "
            f"{watched.root} (Ctrl-C to stop)"
        )
        if watched.error:
            say(f"{watched.error}\nwatch: fix the manifests and save; still watching")

    def step(self, burst: list[Change]) -> None:
        """Rebuild what one burst of changes touched, then look again at what to watch."""
        before = self.watched
        namespace = load(self.dodo)
        build: Build | None = namespace.get("TFLITE_BUILD")
        if build is None:
            say(f"watch: the project of {self.dodo} no longer loads (`doit check` says why)")
            return
        after = survey(build)
        self.watched = after
        self.schedule()
        for model in sorted(set(before.manifests) - set(after.manifests)):
            if before.manifests[model] in after.files:
                continue  # still there, with a mistake: its problems are shown below
            say(f"watch: {model} is gone ({os.path.relpath(before.manifests[model], after.root)})")
        for model in sorted(set(after.manifests) - set(before.manifests)):
            say(f"watch: new model {model} ({os.path.relpath(after.manifests[model], after.root)})")
        if after.error:
            say(f"{after.error}\nwatch: fix the manifests and save; still watching")
            return
        seen: dict[str, float] = {}  # variant -> when its first change was seen
        why: dict[str, set[str]] = {}
        new = set(after.manifests) - set(before.manifests)
        for change in burst:
            for path in change.paths:
                for variant in (before.affected(path) | after.affected(path)) & after.variants():
                    seen.setdefault(variant, change.seen)
                    why.setdefault(variant, set()).add(path)
        first = min((c.seen for c in burst), default=time.perf_counter())
        for model in new:  # a new manifest's variants: its own appearance is their change
            for variant in after.files[after.manifests[model]]:
                seen.setdefault(variant, first)
                why.setdefault(variant, set()).add(after.manifests[model])
        if not seen:
            return
        names = sorted(seen)
        tasks = [layout.task_name(layout.CONVERT, n) for n in names]
        if self.reports:
            tasks += [layout.task_name(layout.REPORT, n) for n in names]
        outcomes = rebuild(namespace, tasks)
        for task in tasks:
            variant = task.split(":", 1)[1]
            say(line(task, outcomes.get(task), seen[variant], describe(why[variant], after.root)))
        self.watched = survey(build)  # a rebuild may have discovered new inputs
        self.schedule()


class NotLoaded(Exception):
    """The project's settings did not load: there is nothing to watch."""


def watch(dodo: Path, reports: bool = False) -> TaskFailed | None:
    """The watch task's action: runs until Ctrl-C, which ends it successfully."""
    # A shell starts a background job with SIGINT ignored; Ctrl-C (or kill -INT) must stop us.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        Watcher(dodo, reports).run()
    except NotLoaded as e:
        return TaskFailed(str(e))
    except KeyboardInterrupt:
        say("watch: stopped")
    finally:
        signal.signal(signal.SIGINT, previous)
    return None
