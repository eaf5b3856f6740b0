"""The ``runtime: "2.14"`` gate against a real TFLite 2.14 runtime: its verdict is what happens.

The gate reads op versions from the flatbuffer and looks them up in
``converter.tflite.runtimes``; nothing in it has run a model. Here one small Keras
model family is converted in five modes, some artifacts on each side of 2.14,
and each is loaded and invoked by ``tflite-runtime==2.14.0`` in its own
environment (the 2.14 wheel needs NumPy 1, TensorFlow here needs NumPy 2). Every
artifact the gate passes must load and run there; every one it fails must be
refused at load, for the op version the gate's sentence names.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converter.tflite import modelinfo, runtimes
from converter.tflite.gpu import GpuVerdict
from rules.manifest.budgets import BY_NAME
from rules.report.device import DeviceSection, Verdict
from tests.support import REPO, require
from tests.support.models import tf_apply

pytestmark = pytest.mark.tf

RUNTIME = "2.14"
ENVIRONMENT = os.environ.get("TFLITE_BUILD_TFLITE214") or str(REPO / ".venv-tflite214")
INPUT_SHAPE = (8, 8, 1)

# name -> (with the log head, quantization mode as conftest's tf_apply spells it), and
# whether it was made to need a runtime newer than 2.14: dynamic-range Dense weights are
# quantized per channel (FULLY_CONNECTED v12, 2.17), an int8 LOG is version 2 (2.15).
ARTIFACTS: dict[str, tuple[bool, str, bool]] = {
    "float32": (False, "none", False),
    "float16": (False, "float16", False),
    "int8": (False, "int8", False),
    "int16x8": (False, "int16x8", False),
    "dynamic": (False, "dynamic", True),
    "int8_log": (True, "int8", True),
}

# Runs in the 2.14 environment: one JSON line per model, after one naming the runtime.
RUNNER = """
import json, sys
import numpy as np
import tflite_runtime
from tflite_runtime.interpreter import Interpreter

print(json.dumps({"runtime": tflite_runtime.__version__}), flush=True)
for path in sys.argv[1:]:
    stage = "load"
    try:
        interpreter = Interpreter(model_path=path)
        interpreter.allocate_tensors()
        stage = "invoke"
        for tensor in interpreter.get_input_details():
            zeros = np.zeros(tensor["shape"], tensor["dtype"])
            interpreter.set_tensor(tensor["index"], zeros)
        interpreter.invoke()
        print(json.dumps({"path": path, "ran": True, "stage": "ran", "error": ""}), flush=True)
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        print(json.dumps({"path": path, "ran": False, "stage": stage, "error": error}), flush=True)
"""


@dataclass(frozen=True)
class Outcome:
    """What the 2.14 runtime did with one artifact."""

    ran: bool
    stage: str  # "ran"; else where it failed: "load" (interpreter, allocate) or "invoke"
    error: str


@pytest.fixture(scope="module")
def runtime_python() -> Path:
    """The 2.14 environment's Python (``require``: a skip without it, a failure under CI)."""
    python = Path(ENVIRONMENT) / "bin" / "python"
    if not os.access(python, os.X_OK):
        require(
            f"no TFLite {RUNTIME} runtime at {ENVIRONMENT} (.ci/run makes it: python3 -m venv "
            '.venv-tflite214 && .venv-tflite214/bin/pip install tflite-runtime==2.14.0 "numpy<2"'
            "; or point TFLITE_BUILD_TFLITE214 at such an environment)"
        )
    return python


def _model(log_head: bool) -> Any:
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inputs = keras.Input(INPUT_SHAPE, name="img")
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    # 288 x 16 weights: over the 1024 below which dynamic-range quantization leaves a layer float.
    x = keras.layers.Dense(16, activation="relu")(x)
    if log_head:
        x = keras.layers.Lambda(lambda t: keras.ops.log(t + 1.0))(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def _calibration() -> Iterator[list[np.ndarray]]:
    rng = np.random.default_rng(0)
    for _ in range(10):
        yield [rng.random((1, *INPUT_SHAPE), dtype=np.float32)]


@pytest.fixture(scope="module")
def artifacts(runtime_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every artifact, converted here by TF's own API (runtime_python first: no TF when skipped)."""
    import tensorflow as tf

    out = tmp_path_factory.mktemp("runtime-gate")
    models = {log_head: _model(log_head) for log_head in (False, True)}
    paths: dict[str, Path] = {}
    for name, (log_head, mode, _) in ARTIFACTS.items():
        conv = tf.lite.TFLiteConverter.from_keras_model(models[log_head])
        tf_apply(conv, mode, _calibration)
        paths[name] = out / f"{name}.tflite"
        paths[name].write_bytes(conv.convert())
    return paths


@pytest.fixture(scope="module")
def outcomes(runtime_python: Path, artifacts: dict[str, Path]) -> dict[str, Outcome]:
    """Every artifact loaded and invoked once by the 2.14 runtime, in one process."""
    names = list(artifacts)
    done = subprocess.run(
        [str(runtime_python), "-c", RUNNER, *(str(artifacts[n]) for n in names)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"the {RUNTIME} runner failed:\n{done.stderr}"
    header, *lines = [json.loads(line) for line in done.stdout.splitlines() if line]
    assert header["runtime"] == f"{RUNTIME}.0", f"{ENVIRONMENT} holds tflite-runtime {header}"
    assert [line["path"] for line in lines] == [str(artifacts[n]) for n in names]
    return {
        n: Outcome(line["ran"], line["stage"], line["error"])
        for n, line in zip(names, lines, strict=True)
    }


def _verdict(path: Path) -> Verdict:
    """The ``runtime: "2.14"`` budget's verdict, judged as a report judges it."""
    data = path.read_bytes()
    need = runtimes.need_of(data)
    section = DeviceSection(
        ops=modelinfo.op_versions(data),
        runtime=need.version,
        runtime_because=need.because,
        unknown_ops=need.unknown,
        gpu=GpuVerdict({}, {}, 0),
    )
    return section.judge(BY_NAME["runtime"].figure, RUNTIME)


def test_the_artifacts_cover_both_sides(artifacts: dict[str, Path]) -> None:
    verdicts = {name: _verdict(path) for name, path in artifacts.items()}
    assert all(v.passed is not None for v in verdicts.values()), verdicts
    newer = {name for name, (_, _, newer) in ARTIFACTS.items() if newer}
    assert {name for name, v in verdicts.items() if not v.passed} == newer, verdicts
    assert newer and newer != set(ARTIFACTS)


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_the_gate_says_what_the_runtime_does(
    name: str, artifacts: dict[str, Path], outcomes: dict[str, Outcome]
) -> None:
    verdict, outcome = _verdict(artifacts[name]), outcomes[name]
    if verdict.passed:
        assert outcome.ran, f"the gate passes {name}, but {RUNTIME} says {outcome.error}"
        return
    assert verdict.passed is False, verdict.detail
    assert outcome.stage == "load", f"the gate fails {name} ({verdict.detail}), but: {outcome}"
    named = re.search(r"\((\w+) v(\d+)\)$", verdict.detail)
    assert named, f"the gate's sentence names no op version: {verdict.detail}"
    op, version = named.groups()
    assert f"'{op}' version '{version}'" in outcome.error, (verdict.detail, outcome.error)
