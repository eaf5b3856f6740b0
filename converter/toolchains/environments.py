"""A toolchain's environment: made once per set of requirements, under a lock, never half-made.

A toolchain is a kind of source ("pytorch", "jax") and the pinned requirements
that convert it. Its environment is a virtual environment under the user's cache
directory (``$XDG_CACHE_HOME/tflite-build/toolchains``, else
``~/.cache/tflite-build/toolchains``; a build's ``toolchains_dir`` setting moves it), in a
folder named by the kind and the digest of the requirements and the Python
version: new pins make a new environment beside the old, and the same pins find
the one already made, from any project.

Making one takes a file lock, so two builds at once make it once; the other
waits and then uses it. The folder counts as made only when its
``toolchain.json`` exists, written last with the versions the environment
resolved: a folder without it (a killed install) is removed and made again. A
failed install raises ToolchainError with pip's last lines and its log's path.

``Toolchain(python=...)`` names an environment the user already has: it is used
as it is, never changed.

A *layered* toolchain (JAX's, which converts with TensorFlow) sees the
environment that makes it (the project's, TensorFlow included) beneath its own
packages, through a ``.pth`` file: it installs only what the project lacks,
with pip held to the versions the project has, so TensorFlow's pins are never
disturbed and TensorFlow is not installed twice. Its folder's name includes the
project environment's installed versions: a change there makes it anew.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from converter import versions
from converter.errors import ConverterError

FORMAT = 1  # of the folder's name and its toolchain.json: bump to make every environment anew
MARKER = "toolchain.json"
PIP_TAIL = 15  # lines of pip's output a failure shows

# What reads a Python environment's installed versions, run by that environment's own interpreter.
_VERSIONS = (
    "import importlib.metadata as m, json, sys; "
    "print(json.dumps({'python': '.'.join(map(str, sys.version_info[:3])), "
    "'packages': {d.metadata['Name']: d.version for d in m.distributions()}}))"
)


class ToolchainError(ConverterError):
    """A toolchain's environment cannot be made or used."""


@dataclass(frozen=True)
class Toolchain:
    """A kind of source and what converts it: pinned requirements, or an interpreter as it is."""

    kind: str
    requirements: tuple[str, ...] = ()
    python: str | None = None  # an environment the user already has: used, never changed
    # More pip arguments (an index, a constraints file): part of the environment's name.
    pip_args: tuple[str, ...] = ()
    layered: bool = False  # sees the environment that makes it beneath its own packages

    @property
    def digest(self) -> str:
        """What names its environment: the requirements, pip's arguments and this Python
        (and for a layered one, the environment beneath: where it is and what it holds)."""
        described: dict[str, object] = {
            "format": FORMAT,
            "kind": self.kind,
            "requirements": sorted(self.requirements),
            "pip_args": list(self.pip_args),
            "python": list(sys.version_info[:2]),
        }
        if self.layered:
            described["beneath"] = {"prefix": sys.prefix, "packages": versions.installed()}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()

    def folder(self, home: Path) -> Path:
        return home / f"{self.kind}-{self.digest[:16]}"


@dataclass(frozen=True)
class Environment:
    """A made toolchain: its interpreter, where it lives, and what it resolved."""

    toolchain: Toolchain
    python: Path
    folder: Path | None  # None for an interpreter the user gave
    python_version: str
    packages: dict[str, str] = field(default_factory=dict)  # name -> version, as installed

    def version(self, name: str) -> str:
        """A package's installed version ('' when absent), whatever the case of its name."""
        wanted = _normalized(name)
        return next((v for k, v in self.packages.items() if _normalized(k) == wanted), "")


def home() -> Path:
    """Where the tool makes its toolchains unless told otherwise (the ``toolchains_dir`` setting)."""
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "tflite-build" / "toolchains"


def ensure(
    toolchain: Toolchain,
    where: Path | None = None,
    say: Callable[[str], None] = lambda line: print(f"tflite-build: {line}", file=sys.stderr),
) -> Environment:
    """The toolchain's environment, made first when it is not yet (``say`` tells the user)."""
    if toolchain.python is not None:
        return _given(toolchain)
    base = where if where is not None else home()
    folder = toolchain.folder(base)
    made = _read(toolchain, folder)
    if made is not None:
        return made
    base.mkdir(parents=True, exist_ok=True)
    with _locked(base / f"{folder.name}.lock"):
        made = _read(toolchain, folder)  # another build made it while we waited
        if made is not None:
            return made
        return _make(toolchain, folder, say)


def find(toolchain: Toolchain, where: Path | None = None) -> Environment | None:
    """The toolchain's environment if it is made, without making it."""
    if toolchain.python is not None:
        return _given(toolchain)
    return _read(toolchain, toolchain.folder(where if where is not None else home()))


def size(folder: Path) -> int:
    """Bytes on disk under ``folder`` (links counted once, not followed)."""
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _given(toolchain: Toolchain) -> Environment:
    assert toolchain.python is not None
    python = Path(toolchain.python).expanduser()
    found = _inspect(python)
    if found is None:
        raise ToolchainError(
            f"the {toolchain.kind} toolchain's python {toolchain.python} cannot be run"
        )
    version, packages = found
    return Environment(toolchain, python, None, version, packages)


def _read(toolchain: Toolchain, folder: Path) -> Environment | None:
    try:
        data = json.loads((folder / MARKER).read_text())
        return Environment(
            toolchain, folder / "bin" / "python", folder, data["python"], dict(data["packages"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _make(toolchain: Toolchain, folder: Path, say: Callable[[str], None]) -> Environment:
    if folder.exists():  # half-made: a build was killed while it installed
        shutil.rmtree(folder)
    log = folder.with_suffix(".log")
    wanted = ", ".join(toolchain.requirements) or "nothing"
    say(
        f"making the {toolchain.kind} toolchain, once for these requirements: "
        f"installing {wanted} into {folder} (pip's log: {log})"
    )
    started = time.monotonic()
    try:
        with open(log, "wb") as out:
            _run([sys.executable, "-m", "venv", str(folder)], out, toolchain, log)
            held: list[str] = []
            if toolchain.layered:
                held = ["--constraint", str(_layer(folder))]
            if toolchain.requirements:
                pip = [str(folder / "bin" / "python"), "-m", "pip", "install"]
                pip += ["--disable-pip-version-check", *held, *toolchain.pip_args]
                _run([*pip, *toolchain.requirements], out, toolchain, log)
        found = _inspect(folder / "bin" / "python")
        if found is None:
            raise ToolchainError(f"the {toolchain.kind} toolchain's new python cannot be run")
        version, packages = found
        record = {
            "kind": toolchain.kind,
            "requirements": list(toolchain.requirements),
            "pip_args": list(toolchain.pip_args),
            "python": version,
            "packages": packages,
        }
        temporary = folder / f".{MARKER}.tmp"
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, folder / MARKER)  # last: from now on the environment is made
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    megabytes = size(folder) / 1e6
    say(
        f"made the {toolchain.kind} toolchain in {time.monotonic() - started:.0f} s "
        f"({megabytes:,.0f} MB in {folder})"
    )
    made = _read(toolchain, folder)
    assert made is not None
    return made


def _layer(folder: Path) -> Path:
    """Put this environment's packages beneath the new one's; the constraints file that keeps
    pip to their versions."""
    beneath = versions.site_packages()
    done = subprocess.run(
        [
            str(folder / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    site = Path(done.stdout.strip())
    (site / "_tflite_build_beneath.pth").write_text("".join(f"{p}\n" for p in beneath))
    constraints = folder / "constraints.txt"
    pinned = {name: version for name, version in versions.installed().items() if version}
    pinned.pop(versions.normalized(versions.PROJECT), None)  # ours: importable, never pip's
    constraints.write_text("".join(f"{name}=={v}\n" for name, v in sorted(pinned.items())))
    return constraints


def _run(command: list[str], out: IO[bytes], toolchain: Toolchain, log: Path) -> None:
    done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        lines = log.read_text(errors="replace").strip().splitlines()[-PIP_TAIL:]
        tail = "\n".join(f"    {line}" for line in lines)
        raise ToolchainError(
            f"could not make the {toolchain.kind} toolchain: `{' '.join(command[-3:])}` "
            f"exited with {done.returncode}; its last lines:\n{tail}\n  (the whole log: {log})"
        )


def _inspect(python: Path) -> tuple[str, dict[str, str]] | None:
    """(Python version, name -> version of every package) of an interpreter; None if it fails."""
    try:
        done = subprocess.run(
            [str(python), "-c", _VERSIONS],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        data = json.loads(done.stdout)
        return str(data["python"]), {str(k): str(v) for k, v in data["packages"].items()}
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
