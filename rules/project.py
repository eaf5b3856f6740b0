"""The project: its root, its ``[tool.tflite-build]`` settings, and where its manifests are."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from converter.options import suggest
from rules.errors import Problem, RulesError
from rules.quantities import parse_size
from rules.state import BuildState

CONFIG_KEYS = (
    "build_dir",
    "cache",
    "cache_read_only",
    "cache_max_size",
    "manifests",
    "exclude",
    "worker_timeout",
    "worker_memory",
    "baseline",
    "save_baseline",
    "measure_latency",
)
MEASURE_LATENCY = ("budgets", "always")  # on another host: re-measure for budgets only, or all
MEASURE_LATENCY_ENV = "TFLITE_BUILD_MEASURE_LATENCY"
BASELINE_ENV = "TFLITE_BUILD_BASELINE"
SAVE_BASELINE_ENV = "TFLITE_BUILD_SAVE_BASELINE"
DEFAULT_MANIFESTS = ("**/model.yaml",)
# Never searched for manifests: tool and VCS folders, virtual environments.
ALWAYS_EXCLUDED = ("node_modules", "__pycache__", "venv", "site-packages")
CACHE_ENV = "TFLITE_BUILD_CACHE"
DEFAULT_CACHE = "~/.cache/tflite-build"  # also the local cache in front of a remote one
DEFAULT_CACHE_MAX_SIZE = "10GB"


MISSING, FILE, DIRECTORY = 0, 1, 2


def path_state(path: Path | str) -> int:
    """MISSING, FILE or DIRECTORY, with one stat call."""
    try:
        return DIRECTORY if stat.S_ISDIR(os.stat(path).st_mode) else FILE
    except OSError:
        return MISSING


@dataclass(frozen=True)
class WorkerLimits:
    """Per-conversion limits of the conversion worker (see converter.worker)."""

    timeout: float = 600.0  # seconds
    memory_mb: float | None = None  # None: 80% of physical memory


@dataclass(frozen=True)
class Project:
    root: Path
    build_dir: Path
    cache: str
    manifests: tuple[str, ...] = DEFAULT_MANIFESTS
    exclude: tuple[str, ...] = ()
    cache_read_only: bool = False
    cache_max_size: str | None = DEFAULT_CACHE_MAX_SIZE
    limits: WorkerLimits = WorkerLimits()
    # The summary's baseline: a summary.json path (from the root) or "cache:<name>".
    baseline: str | None = None
    save_baseline: str | None = None  # store this build's summary in the cache as <name>
    measure_latency: str = "budgets"  # see rules.measurements.latency_for

    @property
    def state_dir(self) -> Path:
        """Our bookkeeping inside the build dir (doit's database, the digest memo)."""
        return self.build_dir / ".tflite-build"

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
    """Read ``root/pyproject.toml`` (if any); unknown settings are errors with a suggestion."""
    root = Path(root).resolve()
    config: dict[str, object] = {}
    pyproject = root / "pyproject.toml"
    where = os.path.relpath(pyproject)
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text())
        except tomllib.TOMLDecodeError as e:
            raise RulesError(f"{where}: not valid TOML: {e}") from None
        config = data.get("tool", {}).get("tflite-build", {})
    problems = []
    for key in config:
        if key not in CONFIG_KEYS:
            problems.append(
                Problem(
                    where,
                    None,
                    ("tool.tflite-build", key),
                    f"unknown setting{suggest(key, CONFIG_KEYS)} (valid: {', '.join(CONFIG_KEYS)})",
                )
            )

    def text(key: str, default: str) -> str:
        value = config.get(key, default)
        if not isinstance(value, str) or not value:
            problems.append(
                Problem(
                    where, None, ("tool.tflite-build", key), f"expected a string; got {value!r}"
                )
            )
            return default
        return value

    def patterns(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = config.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(
                Problem(
                    where,
                    None,
                    ("tool.tflite-build", key),
                    f"expected a list of globs; got {value!r}",
                )
            )
            return default
        return tuple(value)

    build_dir = text("build_dir", "build")
    cache = os.environ.get(CACHE_ENV) or text("cache", DEFAULT_CACHE)
    read_only = config.get("cache_read_only", False)
    if not isinstance(read_only, bool):
        problems.append(
            Problem(
                where,
                None,
                ("tool.tflite-build", "cache_read_only"),
                f"expected true or false; got {read_only!r}",
            )
        )
        read_only = False
    max_size = config.get("cache_max_size", DEFAULT_CACHE_MAX_SIZE)
    if parse_size(max_size) is None:
        problems.append(
            Problem(
                where,
                None,
                ("tool.tflite-build", "cache_max_size"),
                f"expected a size like 10GB or 500MiB; got {max_size!r}",
            )
        )
        max_size = DEFAULT_CACHE_MAX_SIZE
    manifests = patterns("manifests", DEFAULT_MANIFESTS)
    exclude = patterns("exclude", ())
    limits = _limits(config, where, problems)
    baseline = os.environ.get(BASELINE_ENV) or (
        text("baseline", "") if "baseline" in config else None
    )
    save_baseline = os.environ.get(SAVE_BASELINE_ENV) or (
        text("save_baseline", "") if "save_baseline" in config else None
    )
    measure_latency = os.environ.get(MEASURE_LATENCY_ENV) or text("measure_latency", "budgets")
    if measure_latency not in MEASURE_LATENCY:
        problems.append(
            Problem(
                where,
                None,
                ("tool.tflite-build", "measure_latency"),
                f"expected one of {', '.join(MEASURE_LATENCY)}; got {measure_latency!r}",
            )
        )
    if problems:
        raise RulesError("\n".join(str(p) for p in problems))
    return Project(
        root,
        (root / build_dir).resolve(),
        cache,
        manifests,
        exclude,
        read_only,
        str(max_size),
        limits,
        baseline,
        save_baseline,
        measure_latency,
    )


def _limits(config: dict[str, object], where: str, problems: list[Problem]) -> WorkerLimits:
    timeout = config.get("worker_timeout", 600)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        problems.append(
            Problem(
                where,
                None,
                ("tool.tflite-build", "worker_timeout"),
                f"expected seconds > 0; got {timeout!r}",
            )
        )
        timeout = 600
    memory = config.get("worker_memory")
    memory_mb = None
    if memory is not None:
        size = parse_size(memory)
        if size is None or size <= 0:
            problems.append(
                Problem(
                    where,
                    None,
                    ("tool.tflite-build", "worker_memory"),
                    f"expected a size like 16GB; got {memory!r}",
                )
            )
        else:
            memory_mb = size / 2**20
    return WorkerLimits(float(timeout), memory_mb)


def find_manifests(project: Project, state: BuildState) -> list[Path]:
    """Every manifest under the root matching the globs, sorted.

    Skips hidden, build and virtual-environment folders, and never descends
    into a SavedModel (no manifest lives in one; big monorepos have hundreds).
    The answer is remembered in the build state with the mtime of every folder
    walked: adding or removing a file or folder changes its parent's mtime, so
    while none changed the answer stands and a no-op build stats folders
    instead of walking them.
    """
    settings = [list(project.manifests), list(project.exclude), str(project.build_dir)]
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
    wanted = [_compile(p) for p in project.manifests]
    skipped = [_compile(p) for p in project.exclude]
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
