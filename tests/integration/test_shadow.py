"""``doit shadow``: every variant converted with a second toolchain, and what that changes.

This first part's tests use environments that exist already: the project's own
interpreter as the shadow (the same TensorFlow in another worker: identical bytes),
and the PyTorch toolchain's (no TensorFlow there: every variant fails under the shadow,
and the gate says so). A second TensorFlow version comes with the rest of the issue.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from converter.toolchains import defaults, environments
from tests.support.doit_runs import doit
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory

pytestmark = pytest.mark.tf

PROJECT: Files = {
    "m/export": Tiny.saved_model,
    "m/model.yaml": "source: {saved_model: export}\nvariants: {float32: {}, dynamic: {quantize: dynamic}}\n",
}


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.tflite"))
    }


def test_a_shadow_converts_beside_todays_artifacts_and_a_second_run_converts_nothing(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(PROJECT)
    refused = doit(project, "shadow")
    assert refused.code != 0 and "no shadow toolchain: set the shadow setting" in refused.output
    assert doit(project, "convert").code == 0
    today = _digests(project / "build/m")
    # The project's own interpreter as the shadow: the same TensorFlow, in a worker of its own.
    (project / "pyproject.toml").write_text(
        f'[tool.tflite-build.shadow]\npython = "{sys.executable}"\n'
    )
    first = doit(project, "shadow")
    assert first.code == 0, first.output
    assert {"shadow:m/float32", "shadow:m/dynamic"} <= first.executed and first.conversions == 2
    assert _digests(project / "build/m") == today  # today's artifacts untouched
    summary = json.loads((project / "build/shadow/summary.json").read_text())
    rows = {row["variant"]: row for row in summary["variants"]}
    assert {name: row["status"] for name, row in rows.items()} == {
        "m/float32": "identical",
        "m/dynamic": "identical",
    }
    assert rows["m/float32"]["ops_added"] == [] and rows["m/float32"]["size"]["change"] == 0
    assert "| m/dynamic | identical |" in (project / "build/shadow/summary.md").read_text()
    again = doit(project, "shadow")
    assert again.code == 0 and again.conversions == 0
    assert {t for t in again.executed if t != "shadow:summary"} == set()


def test_a_variant_that_converts_today_and_fails_under_the_shadow_fails_the_gate(
    make_project: ProjectFactory,
) -> None:
    broken = environments.ensure(defaults.PYTORCH)  # an environment without TensorFlow
    project = make_project(
        {**PROJECT, "pyproject.toml": f'[tool.tflite-build.shadow]\npython = "{broken.python}"\n'}
    )
    assert doit(project, "convert").code == 0
    run = doit(project, "shadow")
    assert run.code != 0
    assert "2 variant(s) that convert today fail under the shadow:" in run.output
    summary = json.loads((project / "build/shadow/summary.json").read_text())
    assert {row["status"] for row in summary["variants"]} == {"fails under the shadow"}
    assert all("tensorflow" in row["shadow_error"].lower() for row in summary["variants"])
