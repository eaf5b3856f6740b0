"""``doit shadow``: every variant converted with a second toolchain, and what that changes.

The shadow is a real second TensorFlow, 2.20 (``SHADOW``, made where the tool makes
toolchains; `.ci/run` makes it first): its artifacts must be TF 2.20's own bytes, checked
against TF 2.20's converter run directly in that environment. The gate's tests use
interpreters that break in known ways: the PyTorch toolchain's (no TensorFlow there, so
every variant fails under the shadow), and this environment's own with a converter that
zeroes the largest weights of what it writes (outputs change, accuracy drops).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converter import versions
from converter.toolchains import defaults, environments
from tests.support.doit_runs import doit
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory, npz

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


def _two_signatures(folder: Path) -> Path:
    """A SavedModel of two signatures: the shadow compares each, as a report measures them."""
    import tensorflow as tf

    class TwoHeads(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal([4, 3], seed=[1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])  # type: ignore[untyped-decorator]
        def predict(self, x: Any) -> Any:
            return {"probs": tf.nn.softmax(x @ self.w)}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])  # type: ignore[untyped-decorator]
        def embed(self, x: Any) -> Any:
            return {"vec": tf.tanh(x @ self.w)}

    two = TwoHeads()
    tf.saved_model.save(two, str(folder), signatures={"predict": two.predict, "embed": two.embed})
    return folder


def test_a_shadow_converts_with_tf_220s_own_bytes_beside_todays_artifacts(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    from converter.tflite import modelinfo

    toolchain = defaults.shadow_of({"requirements": SHADOW})
    made = environments.ensure(toolchain)
    project = make_project(
        {
            **PROJECT,
            "two/export": _two_signatures(tmp_path / "two"),
            "two/model.yaml": "source: {saved_model: export}\nvariants: {float32: {}}\n",
        }
    )
    refused = doit(project, "shadow")
    assert (
        refused.code != 0
        and "no shadow toolchain: set [tool.tflite-build.shadow]" in refused.output
    )
    assert 'or TFLITE_BUILD_SHADOW="tensorflow==..."' in refused.output
    assert doit(project, "convert").code == 0
    today = _digests(project / "build/m")
    # Today's artifact as a build gives it is what the shadow is compared with: brought back.
    (project / "build/m/dynamic.tflite").unlink()
    requirements = ", ".join(f'"{r}"' for r in SHADOW)
    (project / "pyproject.toml").write_text(
        f"[tool.tflite-build.shadow]\nrequirements = [{requirements}]\n"
    )
    first = doit(project, "shadow")
    assert first.code == 0, first.output
    assert {"shadow:m/float32", "shadow:m/dynamic", "shadow:two/float32"} <= first.executed
    assert first.conversions == 3  # today's m/dynamic comes back from the cache
    assert "tflite-build: 3 built, 0 from cache, 0 up to date, 0 failed in " in first.output
    assert _digests(project / "build/m") == today  # today's artifacts as they were
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
    assert set(rows) == {"m/float32", "m/dynamic", "two/float32"}
    for row in rows.values():  # 2.20 writes other bytes (its version, at least)
        assert row["status"] == "changed" and row["identical"] is False
        assert row["outputs"]["max_abs_difference"] < 1e-5, row
        assert row["outputs"]["top1_agreement"] == 1.0
    assert set(rows["two/float32"]["outputs"]["signatures"]) == {"predict", "embed"}
    tools = summary["toolchains"]["tensorflow"]
    assert tools["today"]["tensorflow"] == versions.tensorflow_version()
    assert tools["shadow"]["versions"]["tensorflow"] == "2.20.0"
    assert tools["shadow"]["requirements"][0] == "tensorflow==2.20.0"
    text = (project / "build/shadow/summary.md").read_text()
    assert f"| tensorflow | tensorflow {versions.tensorflow_version()}" in text
    assert "| tensorflow 2.20.0, keras " in text
    assert "outputs compared: 3 measured, 0 from the cache" in first.output
    again = doit(project, "shadow")
    assert again.code == 0 and again.conversions == 0  # converts nothing, measures nothing
    assert {t for t in again.executed if t != "shadow:summary"} == set()
    assert "outputs compared: 0 measured, 3 from the cache" in again.output
    assert json.loads((project / "build/shadow/summary.json").read_text()) == summary

    # A shadow that cannot be made (an unknown package, pip offline): the build tries it
    # once, every variant fails with pip's words, and no earlier shadow artifact stays to be
    # compared.
    (project / "pyproject.toml").write_text(
        f'[tool.tflite-build]\ntoolchains_dir = "{tmp_path / "toolchains"}"\n'
        "[tool.tflite-build.shadow]\n"
        'requirements = ["tensorflow==2.20.0", "tflite-build-no-such-package==1.0"]\n'
        'pip_args = ["--no-index"]\n'
    )
    broken = doit(project, "shadow")
    assert broken.code != 0
    assert broken.output.count("making the tensorflow toolchain") == 1, broken.output
    assert "3 variant(s) that convert today fail under the shadow:" in broken.output
    summary = json.loads((project / "build/shadow/summary.json").read_text())
    for row in summary["variants"]:
        assert row["status"] == "fails under the shadow"
        assert row["shadow_error"].startswith("the shadow's tensorflow toolchain cannot be made")
    assert "error" in summary["toolchains"]["tensorflow"]["shadow"]
    assert list((project / "build/shadow").rglob("*.tflite")) == []
    assert list((tmp_path / "toolchains").glob("tensorflow-*/")) == []  # nothing half-made


def test_a_variant_that_converts_today_and_fails_under_the_shadow_fails_the_gate(
    make_project: ProjectFactory,
) -> None:
    broken = environments.ensure(defaults.PYTORCH)  # an environment without TensorFlow
    project = make_project(
        {**PROJECT, "pyproject.toml": f'[tool.tflite-build.shadow]\npython = "{broken.python}"\n'}
    )
    assert doit(project, "convert").code == 0
    alone = doit(project, "shadow:m/float32")  # no summary to gate it: the task fails
    assert alone.code != 0 and "m/float32 fails under the shadow: " in alone.output
    run = doit(project, "shadow")
    assert run.code != 0
    assert "2 variant(s) that convert today fail under the shadow:" in run.output
    summary = json.loads((project / "build/shadow/summary.json").read_text())
    assert {row["status"] for row in summary["variants"]} == {"fails under the shadow"}
    assert all("tensorflow" in row["shadow_error"].lower() for row in summary["variants"])


# This interpreter's TensorFlow converter zeroes the largest float32 constant of every model
# it writes: a converter whose artifacts give other outputs.
ZEROING = """
import functools


def _zeroed(data):
    from tensorflow.lite.python import schema_py_generated as schema

    buffer = bytearray(data)
    model = schema.Model.GetRootAs(buffer, 0)
    graph = model.Subgraphs(0)
    weights = [
        model.Buffers(graph.Tensors(i).Buffer())
        for i in range(graph.TensorsLength())
        if graph.Tensors(i).Type() == schema.TensorType.FLOAT32
    ]
    max(weights, key=lambda b: b.DataLength()).DataAsNumpy()[:] = 0  # a view into buffer
    return bytes(buffer)


def _patch():
    from tensorflow.lite.python import lite

    depth = [0]

    def wrapped(convert):
        @functools.wraps(convert)
        def outer(self, *args, **kwargs):
            depth[0] += 1
            try:
                data = convert(self, *args, **kwargs)
            finally:
                depth[0] -= 1
            return _zeroed(data) if depth[0] == 0 and isinstance(data, bytes) else data

        return outer

    for value in list(vars(lite).values()):
        if isinstance(value, type) and "convert" in vars(value):
            value.convert = wrapped(vars(value)["convert"])


_patch()
"""


def test_a_shadow_whose_outputs_lose_accuracy_fails_the_gate(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    from converter.evaluation.evaluate import Runner

    patch = tmp_path / "zeroing"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text(ZEROING)
    python = tmp_path / "python"
    python.write_text(
        f'#!/bin/sh\nPYTHONPATH="{patch}${{PYTHONPATH:+:$PYTHONPATH}}" exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    images = np.random.default_rng(3).normal(size=(60, 8, 8, 1)).astype(np.float32)
    project = make_project(
        {
            "m/export": Tiny.saved_model,
            "m/eval.npz": npz(img=images, labels=np.zeros(60, np.int64)),  # labels come below
            "m/model.yaml": "source: {saved_model: export}\nvariants: {float32: {}}\n"
            "evaluate: {data: eval.npz}\nbudgets: {float32: {max_accuracy_drop: 0.05}}\n",
            "pyproject.toml": f'[tool.tflite-build.shadow]\npython = "{python}"\n',
        }
    )
    assert doit(project, "convert").code == 0
    # Labels are today's own answers: today's accuracy is 1.
    (scores,) = Runner((project / "build/m/float32.tflite").read_bytes()).run([images])
    labels = scores.argmax(-1)
    assert len(set(labels.tolist())) > 1  # else zeroing could keep every answer
    np.savez(project / "m/eval.npz", img=images, labels=labels)
    run = doit(project, "shadow")
    assert run.code != 0
    assert "1 variant(s) are worse under the shadow:" in run.output
    assert "m/float32: accuracy drops " in run.output
    (row,) = json.loads((project / "build/shadow/summary.json").read_text())["variants"]
    assert row["status"] == "worse under the shadow", row
    assert row["outputs"]["accuracy"]["today"] == 1.0
    assert row["outputs"]["accuracy"]["drop"] > 0.05
    assert row["outputs"]["max_abs_difference"] > 0
    assert (project / "build/m/float32.tflite").read_bytes() != (
        project / "build/shadow/m/float32.tflite"
    ).read_bytes()
    # The project's summary page shows the last shadow build.
    assert doit(project, "summary").code == 0
    page = (project / "build/summary.html").read_text()
    assert '<section class="shadow" id="shadow">' in page
    assert '<td class="bad">worse under the shadow</td>' in page


TORCH = """
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x):
        return torch.softmax(self.fc(x), -1)


def make():
    torch.manual_seed(0)
    return Net(), (torch.zeros(1, 6),)
"""


def test_the_pytorch_toolchain_is_shadowed_on_its_own_and_the_rest_is_listed(
    make_project: ProjectFactory,
) -> None:
    """The shadow of the PyTorch toolchain is that toolchain's own interpreter: the same
    bytes, under keys of its own; TensorFlow's variants have no shadow here and say so."""
    from converter.tflite import modelinfo

    made = environments.ensure(defaults.PYTORCH)
    project = make_project(
        {
            **PROJECT,
            "t/build.py": textwrap.dedent(TORCH).lstrip(),
            "t/model.yaml": "source: {pytorch: build.py:make}\nvariants: {float32: {}}\n",
            "pyproject.toml": f'[tool.tflite-build.shadow.pytorch]\npython = "{made.python}"\n',
        }
    )
    assert doit(project, "convert").code == 0
    first = doit(project, "shadow")
    assert first.code == 0, first.output
    assert first.conversions == 1 and "shadow:t/float32" in first.executed
    summary = json.loads((project / "build/shadow/summary.json").read_text())
    rows = {row["variant"]: row for row in summary["variants"]}
    assert rows["t/float32"]["status"] == "identical"
    for name in ("m/float32", "m/dynamic"):
        assert rows[name]["status"] == "not shadowed"
        assert "[tool.tflite-build.shadow.tensorflow]" in rows[name]["why"]
    tools = summary["toolchains"]
    assert set(tools) == {"pytorch"} and tools["pytorch"]["shadow"]["python"] == str(made.python)
    assert tools["pytorch"]["shadow"]["versions"]["torch"].startswith("2.13.0")
    ours = (project / "build/shadow/t/float32.tflite").read_bytes()
    today = (project / "build/t/float32.tflite").read_bytes()
    assert modelinfo.strip_provenance(ours) == modelinfo.strip_provenance(today)
    shadow_key = modelinfo.read_provenance(ours)["key"]  # type: ignore[index]
    assert shadow_key != modelinfo.read_provenance(today)["key"]  # type: ignore[index]
    again = doit(project, "shadow")
    assert again.code == 0 and again.conversions == 0
