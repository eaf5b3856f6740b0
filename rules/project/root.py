"""The project: its root, its settings, and where its manifests are."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from rules.project.settings import Settings, load_settings
from rules.project.state import BuildState

# Never searched for manifests: tool and VCS folders, virtual environments.
ALWAYS_EXCLUDED = ("node_modules", "__pycache__", "venv", "site-packages")


MISSING, FILE, DIRECTORY = 0, 1, 2


def path_state(path: Path | str) -> int:
    """MISSING, FILE or DIRECTORY, with one stat call."""
    try:
        return DIRECTORY if stat.S_ISDIR(os.stat(path).st_mode) else FILE
    except OSError:
        return MISSING


@dataclass(frozen=True)
class WorkerLimits:
    """Per-conversion limits of the conversion worker (see converter.execution.worker)."""

    timeout: float  # seconds
    memory_mb: float | None  # None: 80% of physical memory


@dataclass(frozen=True)
class Project:
    """A project root and its settings (``rules.project.settings``, read once when it is loaded)."""

    root: Path
    build_dir: Path  # settings.build_dir, resolved against the root
    settings: Settings

    @property
    def state_dir(self) -> Path:
        """Our bookkeeping inside the build dir (doit's database, the digest memo)."""
        return self.build_dir / ".tflite-build"

    @property
    def limits(self) -> WorkerLimits:
        memory = self.settings.worker_memory
        return WorkerLimits(
            self.settings.worker_timeout, memory / 2**20 if memory is not None else None
        )

    # Settings other modules read through the project, by the names they always had.
    @property
    def cache(self) -> str:
        return self.settings.cache

    @property
    def baseline(self) -> str | None:
        return self.settings.baseline

    @property
    def save_baseline(self) -> str | None:
        return self.settings.save_baseline

    @property
    def measure_latency(self) -> str:
        return self.settings.measure_latency

    def display(self, path: Path) -> str:
        """A path as the user should read it: relative to the working directory when inside it."""
        try:
            return os.path.relpath(path)
        except ValueError:
            return str(path)

    def relative(self, path: Path) -> str:
        """A path relative to the project root, in POSIX form (machine-independent)."""
        return Path(os.path.relpath(path, self.root)).as_posix()


def load_project(root: Path | str) -> Project:
    """The project at ``root``: its ``pyproject.toml`` settings with the environment over them."""
    root = Path(root).resolve()
    settings = load_settings(root)
    return Project(root, (root / settings.build_dir).resolve(), settings)


def find_manifests(project: Project, state: BuildState) -> list[Path]:
    """Every manifest under the root matching the globs, sorted.

    Skips hidden, build and virtual-environment folders, and never descends
    into a SavedModel (no manifest lives in one; big monorepos have hundreds).
    The answer is remembered in the build state with the mtime of every folder
    walked: adding or removing a file or folder changes its parent's mtime, so
    while none changed the answer stands and a no-op build stats folders
    instead of walking them.
    """
    settings = [
        list(project.settings.manifests),
        list(project.settings.exclude),
        str(project.build_dir),
    ]
    with contextlib.suppress(ValueError, TypeError, KeyError):
        saved = json.loads(state.meta("found manifests") or "null")
        if saved["settings"] == settings and all(
            _mtime(folder) == mtime for folder, mtime in saved["folders"]
        ):
            return [Path(p) for p in saved["found"]]
    found, folders = _walk(project)
    state.set_meta(
        "found manifests", json.dumps({"settings": settings, "folders": folders, "found": found})
    )
    return [Path(p) for p in found]


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _walk(project: Project) -> tuple[list[str], list[tuple[str, int | None]]]:
    root = str(project.root)
    cut = len(root.rstrip(os.sep)) + 1
    build = str(project.build_dir)
    wanted = [_compile(p) for p in project.settings.manifests]
    skipped = [_compile(p) for p in project.settings.exclude]
    found: list[str] = []
    folders: list[tuple[str, int | None]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        folders.append((dirpath, _mtime(dirpath)))
        relative_dir = dirpath[cut:].replace(os.sep, "/")
        prefix = f"{relative_dir}/" if relative_dir else ""
        if "saved_model.pb" in filenames:
            dirnames[:] = []
        else:
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not d.startswith(".")
                and d not in ALWAYS_EXCLUDED
                and f"{dirpath}{os.sep}{d}" != build
                and not any(s.match(prefix + d) for s in skipped)
            )
        for name in filenames:
            relative = prefix + name
            if any(w.match(relative) for w in wanted) and not any(
                s.match(relative) for s in skipped
            ):
                found.append(os.path.join(dirpath, name))
    return sorted(found), folders


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    """A glob as a regex, with real ``**`` semantics: ``*`` stays within one folder, ``**``
    spans any number of them, and ``**/x`` also matches ``x`` at the root."""
    from wcmatch import glob  # here: only a walk of the tree needs it

    (regex,), _ = glob.translate(pattern, flags=glob.GLOBSTAR | glob.DOTGLOB)
    return re.compile(regex)
