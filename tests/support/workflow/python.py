"""A CI job's Python, made from this test's own: a venv that sees only what the job installs.

A workflow's ``pip install -e .`` would download TensorFlow again: far too slow
for a test, and a test must not touch the network. So the emulated setup-python makes a
venv (``--without-pip``) whose ``.pth`` file adds a *layer*: a folder of symlinks into
this interpreter's site-packages that exposes only the distributions the job's own
``pip install`` lines would bring, that is the closure of the project's requirements
for the extras they name, resolved against what is installed here. The job's pip then
runs as written, finds every dependency satisfied, and installs only the project.

Exposing the whole site-packages instead would hide the bug this is for: a job that
installs ``.`` without an extra but imports what only that extra brings (scikit-learn,
say) would pass here and fail on a runner. The layer also holds pip, setuptools and
wheel: pip as setup-python's Python has it, setuptools and wheel because pip's build
isolation would fetch them to build the project (here isolation is off, and no index
is reachable).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tomllib
from collections import defaultdict, deque
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# What a fresh setup-python Python plus pip's isolated build environment would hold.
BUILD_TOOLS = ("pip", "setuptools", "wheel")
# Environment for the job's pip: no index, no build isolation, no user or site config.
# (pip reads PIP_NO_BUILD_ISOLATION inverted: "0" turns isolation off.)
PIP_ENV = {
    "PIP_NO_INDEX": "1",
    "PIP_NO_BUILD_ISOLATION": "0",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "PIP_CONFIG_FILE": os.devnull,
}
_TARGET = re.compile(r"\.(?:\[(?P<extras>[\w,.-]+)\])?")


class ProvisionError(Exception):
    """The job asks for something this emulation cannot provide faithfully."""


def pip_extras(scripts: Iterable[str]) -> set[str] | None:
    """The extras of the project that the ``pip install`` lines in ``scripts`` ask for.

    None when no line installs anything. Only the project itself (``.`` or
    ``'.[a,b]'``, editable or not) is understood; anything else is refused, since a
    package from an index could not be provided here.
    """
    extras: set[str] | None = None
    for script in scripts:
        for line in script.splitlines():
            words = shlex.split(line, comments=True)
            for start in range(len(words) - 1):
                if words[start] in ("pip", "pip3") and words[start + 1] == "install":
                    extras = (extras or set()) | _targets(words[start + 2 :], line)
    return extras


def _targets(words: list[str], line: str) -> set[str]:
    extras: set[str] = set()
    found = False
    for word in words:
        if word in ("&&", "||", ";", "|"):
            break
        if word in ("-e", "--editable", "-q", "--quiet"):
            continue
        match = _TARGET.fullmatch(word)
        if match is None:
            raise ProvisionError(
                f"{line.strip()!r}: this emulation installs only the project itself "
                f"('.' with extras); cannot provide {word!r}"
            )
        found = True
        extras |= set(filter(None, (match["extras"] or "").split(",")))
    if not found:
        raise ProvisionError(f"{line.strip()!r}: pip install with no target")
    return extras


def site_packages() -> Path:
    """This interpreter's site-packages, the one the layer links into."""
    return Path(sysconfig.get_paths()["purelib"])


def requirements(pyproject: Path, extras: set[str]) -> list[str]:
    """What ``pip install '.[extras]'`` asks for, from the project's pyproject.toml."""
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = extras - set(optional)
    if unknown:
        raise ProvisionError(f"{pyproject}: no extra named {', '.join(sorted(unknown))}")
    wanted = [*project.get("dependencies", []), *(r for e in sorted(extras) for r in optional[e])]
    if any(
        canonicalize_name(Requirement(r).name) == canonicalize_name(project["name"]) for r in wanted
    ):
        raise ProvisionError(f"{pyproject}: a requirement names the project itself")
    return wanted


def closure(wanted: list[str], site: Path) -> set[str]:
    """Canonical names of the distributions installing ``wanted`` brings, from ``site``."""
    installed = _owners(site)[1]
    queue = deque((Requirement(r), "the job") for r in wanted)
    seen: set[tuple[str, str]] = set()
    found: set[str] = set()
    while queue:
        requirement, needed_by = queue.popleft()
        key = canonicalize_name(requirement.name)
        dist = installed.get(key)
        if dist is None:
            raise ProvisionError(
                f"{requirement} (needed by {needed_by}) is not installed beside the tests"
            )
        found.add(key)
        for extra in ["", *sorted(requirement.extras)]:
            if (key, extra) in seen:
                continue
            seen.add((key, extra))
            for line in dist.requires or []:
                sub = Requirement(line)
                if sub.marker is None or sub.marker.evaluate({"extra": extra}):
                    queue.append((sub, key))
    return found


@functools.cache
def _owners(site: Path) -> tuple[dict[str, set[str]], dict[str, importlib.metadata.Distribution]]:
    """Every path prefix under ``site`` (as recorded by the RECORD files) -> its distributions."""
    owners: dict[str, set[str]] = defaultdict(set)
    dists: dict[str, importlib.metadata.Distribution] = {}
    for dist in importlib.metadata.distributions(path=[str(site)]):
        key: str = canonicalize_name(dist.metadata["Name"])
        dists[key] = dist
        for file in dist.files or []:
            parts = file.parts
            if not parts or parts[0] == ".." or file.is_absolute():
                continue
            for depth in range(1, len(parts) + 1):
                owners["/".join(parts[:depth])].add(key)
    return owners, dists


def make_layer(layer: Path, exposed: set[str], site: Path) -> None:
    """Symlink into ``layer`` the files of the ``exposed`` distributions, and nothing else.

    A folder that only exposed distributions own is linked whole (with its compiled
    bytecode); one shared with hidden distributions (a namespace package) is made
    here and its entries linked one by one.
    """
    owners, dists = _owners(site)
    missing = [d for d in exposed if dists.get(d) is None or dists[d].files is None]
    if missing:
        raise ProvisionError(f"no RECORD of installed files for {', '.join(sorted(missing))}")
    children: dict[str, list[str]] = defaultdict(list)
    for path in owners:
        children[path.rpartition("/")[0]].append(path)
    layer.mkdir(parents=True)
    pending = [p for p in children[""] if owners[p] & exposed]
    while pending:
        path = pending.pop()
        if owners[path] <= exposed or not (site / path).is_dir():
            (layer / path).symlink_to(site / path)
        else:
            (layer / path).mkdir()
            pending.extend(p for p in children[path] if owners[p] & exposed)


def _script(venv: Path, name: str, entry: importlib.metadata.EntryPoint) -> None:
    first, _, rest = entry.attr.partition(".")
    call = f"{first}.{rest}()" if rest else f"{first}()"
    path = venv / "bin" / name
    path.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom {entry.module} import {first}\n\n"
        f"sys.exit({call})\n"
    )
    path.chmod(0o755)


def make_python(venv: Path, pyproject: Path, extras: set[str] | None) -> None:
    """A venv at ``venv`` that sees the closure of the project's requirements for ``extras``.

    ``extras`` None: the job installs nothing, so only the build tools are seen. Each
    exposed distribution's console scripts are written to ``venv/bin`` (``doit``,
    ``pip``), as pip would have written them.
    """
    site = site_packages()
    wanted = [] if extras is None else requirements(pyproject, extras)
    exposed = closure([*wanted, *BUILD_TOOLS], site)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    make_layer(venv / "layer", exposed, site)
    venv_site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (venv_site / "site-packages" / "_ci_layer.pth").write_text(
        f"import site; site.addsitedir({str(venv / 'layer')!r})\n"
    )
    for dist in importlib.metadata.distributions(path=[str(venv / "layer")]):
        for entry in dist.entry_points:
            if entry.group == "console_scripts":
                _script(venv, entry.name, entry)
