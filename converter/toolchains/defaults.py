"""The toolchains a project gets without asking, and what identifies each in a cache key.

A project overrides one in pyproject.toml (``[tool.tflite-build.toolchains.<kind>]``,
``requirements = [...]`` or ``python = "..."``); ``chosen`` merges the two.

A toolchain's *identity* is the versions of the packages its artifacts' bytes
depend on (``IDENTITY``). When its requirements pin each of them exactly
(``name==version``), as the defaults do, the identity is known without the
environment: a fresh clone with a warm cache takes its artifacts from the cache
without making the toolchain. Otherwise it is read from the made environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from converter.spec import THROUGH_TENSORFLOW
from converter.toolchains.environments import Toolchain, ensure

# torch 2.13.0's CPU build: another torch version (or a bare `torch`) pulls a CUDA build of
# several GB. litert-torch 0.10.0 brings litert-converter, ai-edge-quantizer and
# ai-edge-litert; they are pinned too, being what a key names.
PYTORCH = Toolchain(
    "pytorch",
    (
        "torch==2.13.0",
        "litert-torch==0.10.0",
        "litert-converter==0.5.0",
        "ai-edge-quantizer==0.10.0",
        "ai-edge-litert==2.3.0",
    ),
)

# jax 0.10.2 installs beside TensorFlow 2.21's pins; the environment adds it to the
# project's own (TensorFlow converts what jax2tf traces), so it holds jax alone.
JAX = Toolchain("jax", ("jax==0.10.2", "jaxlib==0.10.2"), layered=True)

DEFAULTS: dict[str, Toolchain] = {PYTORCH.kind: PYTORCH, JAX.kind: JAX}

# The packages whose versions a toolchain's artifacts depend on: what its identity names
# (a JAX artifact's also depend on TensorFlow's, which the project's environment gives).
IDENTITY: dict[str, tuple[str, ...]] = {
    "pytorch": ("torch", "litert-torch", "litert-converter", "ai-edge-quantizer", "ai-edge-litert"),
    "jax": ("jax", "jaxlib"),
    "tensorflow": ("tensorflow", "keras"),  # a shadow's (the project's own are its versions)
}
# A nightly build's package stands for its release's (what a shadow build often tries).
NIGHTLY = {"tf-nightly": "tensorflow"}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PIN = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!_-]+)\s*$")


def chosen(overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Toolchain]:
    """Every toolchain: the defaults, each replaced whole by the project's table of that kind."""
    out = dict(DEFAULTS)
    for kind, table in overrides.items():
        out[kind] = Toolchain(
            kind,
            tuple(table.get("requirements", ())),
            table.get("python"),
            tuple(table.get("pip_args", ())),
            layered=kind in THROUGH_TENSORFLOW,
        )
    return dict(sorted(out.items()))


def pins(toolchain: Toolchain) -> dict[str, str]:
    """Normalized name -> version of each requirement pinned exactly (``name==version``)."""
    found = {}
    for requirement in toolchain.requirements:
        matched = _PIN.match(requirement)
        if matched:
            found[normalized(matched.group(1))] = matched.group(2)
    return found


def identity(
    toolchain: Toolchain,
    where: Path | None = None,
    say: Callable[[str], None] | None = None,
    names: tuple[str, ...] | None = None,
) -> dict[str, str]:
    """Name -> version of the packages the toolchain's artifacts depend on (``names``, else
    its kind's ``IDENTITY``; '' for one it lacks).

    From the pins when they name every one of them; else from the environment,
    made first if it is not yet (``say`` tells the user).
    """
    names = IDENTITY.get(toolchain.kind, ()) if names is None else names
    pinned = pins(toolchain) if toolchain.python is None else {}
    if all(normalized(name) in pinned for name in names):
        return {name: pinned[normalized(name)] for name in names}
    made = ensure(toolchain, where, say) if say is not None else ensure(toolchain, where)
    installed = {normalized(name): version for name, version in made.packages.items()}
    return {name: installed.get(normalized(name), "") for name in names}


def normalized(name: str) -> str:
    """A package's name as pip compares them; a nightly's, as its release's name."""
    name = re.sub(r"[-_.]+", "-", name).lower()
    return NIGHTLY.get(name, name.removesuffix("-nightly"))


# What the project's worker needs beside TensorFlow in a second TensorFlow environment.
WORKER_NEEDS = ("ai-edge-litert>=2.3", "flatbuffers>=25.2")


# What a shadow's requirements must name, by kind: the converter it tries (any of these).
SHADOW_NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "tensorflow": (("tensorflow", "tensorflow-cpu", "tf-nightly", "tf-nightly-cpu"),),
    "pytorch": (("torch",), ("litert-torch", "litert-torch-nightly")),
}


def shadow_problem(toolchain: Toolchain) -> str | None:
    """Why a shadow's requirements cannot be what it converts with (None: they can), said
    before anything is installed. An interpreter given as it is is taken at its word."""
    if toolchain.python is not None:
        return None
    found = (_NAME.match(requirement) for requirement in toolchain.requirements)
    named = {re.sub(r"[-_.]+", "-", m.group(0)).lower() for m in found if m is not None}
    missing = [
        " or ".join(one) for one in SHADOW_NEEDS.get(toolchain.kind, ()) if not named & set(one)
    ]
    if not missing:
        return None
    return (
        f"the {toolchain.kind} shadow's requirements ({', '.join(toolchain.requirements)}) name "
        f"no {' and no '.join(missing)}: the shadow would convert with nothing new"
    )


def shadow_of(table: Mapping[str, Any], kind: str = "tensorflow") -> Toolchain:
    """The second toolchain of ``kind`` a shadow build converts with: the requirements given
    (a TensorFlow's with the worker's own needs added), or an environment the user has."""
    requirements = tuple(table.get("requirements", ()))
    if requirements and kind == "tensorflow":
        requirements = (*requirements, *WORKER_NEEDS)
    return Toolchain(kind, requirements, table.get("python"), tuple(table.get("pip_args", ())))
