"""The toolchains a project gets without asking: each kind's pinned requirements.

A project overrides one in pyproject.toml (``[tool.tflite-build.toolchains.<kind>]``,
``requirements = [...]`` or ``python = "..."``); ``chosen`` merges the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from converter.toolchains.environments import Toolchain

# torch 2.13.0's CPU build: another torch version (or a bare `torch`) pulls a CUDA build of
# several GB. litert-torch 0.10.0 brings litert-converter, ai-edge-quantizer and
# ai-edge-litert with it.
PYTORCH = Toolchain("pytorch", ("torch==2.13.0", "litert-torch==0.10.0"))

DEFAULTS: dict[str, Toolchain] = {PYTORCH.kind: PYTORCH}


def chosen(overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Toolchain]:
    """Every toolchain: the defaults, each replaced whole by the project's table of that kind."""
    out = dict(DEFAULTS)
    for kind, table in overrides.items():
        out[kind] = Toolchain(
            kind,
            tuple(table.get("requirements", ())),
            table.get("python"),
            tuple(table.get("pip_args", ())),
        )
    return dict(sorted(out.items()))
