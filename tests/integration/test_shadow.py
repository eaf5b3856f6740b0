"""``doit shadow``: every variant converted with a second toolchain, and what that changes.

The shadow is a real second TensorFlow, 2.20 (``SHADOW``, made where the tool makes
toolchains; `.ci/run` makes it first): its artifacts must be TF 2.20's own bytes, checked
against TF 2.20's converter run directly in that environment. The gate's test uses the
PyTorch toolchain's interpreter as the shadow: no TensorFlow there, so every variant
fails under the shadow.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from converter.toolchains import defaults, environments
from tests.support.doit_runs import doit
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory

pytestmark = pytest.mark.tf

SHADOW = ("tensorflow==2.20.0",)  # what .ci/run makes: defaults.shadow_of({"requirements": SHADOW})
# TF 2.20's own converter, run in its environment on the same SavedModel.
DIRECT = """
import sys, tensorflow as tf
for variant in ("float32", "dynamic"):
    converter = tf.lite.TFLiteConverter.from_saved_model(sys.argv[1])
    if variant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    open(f"{sys.argv[2]}/{variant}.tflite", "wb").write(converter.convert())
print(tf.__version__)
"""

PROJECT: Files = {
    "m/export": Tiny.saved_model,
    "m/model.yaml": "source: {saved_model: export}\nvariants: {float32: {}, dynamic: {quantize: dynamic}}\n",
}


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.tflite"))
    }


def test_a_shadow_converts_with_tf_220s_own_bytes_beside_todays_artifacts(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    from converter.tflite import modelinfo

    toolchain = defaults.shadow_of({"requirements": SHADOW})
    made = environments.ensure(toolchain)
    project = make_project(PROJECT)
    refused = doit(project, "shadow")
    assert refused.code != 0 and "no shadow toolchain: set the shadow setting" in refused.output
    assert doit(project, "convert").code == 0
    today = _digests(project / "build/m")
    requirements = ", ".join(f'"{r}"' for r in SHADOW)
    (project / "pyproject.toml").write_text(
        f"[tool.tflite-build.shadow]\nrequirements = [{requirements}]\n"
    )
    first = doit(project, "shadow")
    assert first.code == 0, first.output
    assert {"shadow:m/float32", "shadow:m/dynamic"} <= first.executed and first.conversions == 2
    assert _digests(project / "build/m") == today  # today's artifacts untouched
    done = subprocess.run(
        [str(made.python), "-c", DIRECT, str(project / "m/export"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "2.20.0"
    for variant in ("float32", "dynamic"):
        direct = tmp_path / f"{variant}.tflite"
        ours = (project / f"build/shadow/m/{variant}.tflite").read_bytes()
        assert modelinfo.strip_provenance(ours) == direct.read_bytes()
        assert modelinfo.read_provenance(ours)["tensorflow"] == "2.20.0"  # type: ignore[index]
    summary = json.loads((project / "build/shadow/summary.json").read_text())
    rows = {row["variant"]: row for row in summary["variants"]}
    assert set(rows) == {"m/float32", "m/dynamic"}
    for row in rows.values():  # 2.20 writes other bytes (its version, at least)
        assert row["status"] == "changed" and row["identical"] is False
        assert row["outputs"]["max_abs_difference"] < 1e-5, row
        assert row["outputs"]["top1_agreement"] == 1.0
    assert "Shadow: tensorflow==2.20.0" in (project / "build/shadow/summary.md").read_text()
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
