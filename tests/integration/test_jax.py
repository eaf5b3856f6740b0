"""JAX sources in the JAX toolchain (real jax, jax2tf and TensorFlow's converter), and one
project of TensorFlow, PyTorch and JAX models built by one `doit convert`.

The JAX toolchain is the default one (jax 0.10.2 layered on the tests' own environment,
which gives it TensorFlow); `.ci/run` makes it before the tests, and a test that finds it
missing makes it (about ten seconds, once).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import converter
from converter.tflite import modelinfo
from converter.toolchains import defaults, environments
from tests.support.doit_runs import converted, doit
from tests.support.models import Tiny
from tests.support.project import ProjectFactory, write_files

pytestmark = pytest.mark.tf

NET = """
import jax
import numpy as np

from params import WIDTH


def make():
    a, b = jax.random.split(jax.random.PRNGKey(0))
    w = jax.random.normal(a, (3, 3, 1, WIDTH)) * 0.3
    d = jax.random.normal(b, (WIDTH, 3))

    def predict(image, bias):
        y = jax.lax.conv_general_dilated(
            image, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        h = jax.nn.relu(y).mean((1, 2))
        return {"probs": jax.nn.softmax(h @ d + bias, -1), "features": h}

    return predict, (np.zeros((1, 8, 8, 1), np.float32), np.zeros((1, 3), np.float32))


def not_a_pair():
    return 3
"""

# The function's own outputs, computed in the toolchain (the tests' environment has no jax).
EXPECTED = """
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import net
function, _ = net.make()
x = np.load(sys.argv[2])
out = function(x, np.full((1, 3), 0.5, np.float32))
np.savez(sys.argv[3], **{k: np.asarray(v) for k, v in out.items()})
"""


@pytest.fixture(scope="module")
def toolchain() -> environments.Environment:
    return environments.ensure(defaults.JAX)


def _files(width: int = 4) -> dict[str, str | bytes]:
    return {"net.py": NET, "params.py": f"WIDTH = {width}\n"}


def test_a_function_converts_to_the_same_bytes_every_time_and_matches_itself(
    engine: converter.Engine, toolchain: environments.Environment, tmp_path: Path
) -> None:
    project = write_files(tmp_path / "p", _files())
    source = converter.JaxSource("net.py:make", project)
    first = engine.convert(source, None, tmp_path / "a.tflite")
    again = engine.convert(source, None, tmp_path / "b.tflite")
    # A new SavedModel folder (another path) each time, the same bytes. Across processes,
    # TensorFlow's converter is checked over the matrix (test_conversion_matrix); the project
    # test below restores every JAX artifact from the cache by the same key.
    assert first.sha256 == again.sha256

    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(1).random((1, 8, 8, 1), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    subprocess.run(
        [str(toolchain.python), "-c", EXPECTED, str(project), str(tmp_path / "x.npy"),
         str(tmp_path / "want.npz")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    runner = Interpreter(model_path=str(tmp_path / "a.tflite")).get_signature_runner()
    assert set(runner.get_input_details()) == {"args_0", "args_1"}
    got = runner(args_0=x, args_1=np.full((1, 3), 0.5, np.float32))
    want = np.load(tmp_path / "want.npz")
    assert set(got) == {"probs", "features"}
    for name in got:
        np.testing.assert_allclose(got[name], want[name], atol=1e-4)


def test_what_a_jax_entry_gets_wrong_is_said(engine: converter.Engine, tmp_path: Path) -> None:
    project = write_files(tmp_path / "p", _files())
    with pytest.raises(
        converter.SourceError, match=r"returned int; expected \(function, example_args\)"
    ):
        engine.convert(
            converter.JaxSource("net.py:not_a_pair", project), None, tmp_path / "x.tflite"
        )
    assert not (tmp_path / "x.tflite").exists()


TORCH = """
import torch


def make():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 3))
    return net, (torch.zeros(1, 1, 8, 8),)
"""


def _calibration(shape: tuple[int, ...], **extra: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    arrays = {"args_0": np.random.default_rng(0).random(shape, dtype=np.float32), **extra}
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_one_project_of_tensorflow_pytorch_and_jax_models_builds_with_one_command(
    toolchain: environments.Environment,
    make_project: ProjectFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environments.ensure(defaults.PYTORCH)
    project = make_project(
        {
            "tf/model": Tiny.saved_model,
            "tf/model.yaml": "name: tf\nsource: {saved_model: model}\nvariants: {float32: {}}\n",
            "torch/net.py": TORCH,
            "torch/model.yaml": """
            name: torch
            source: {pytorch: net.py:make}
            variants: {float32: {}, dynamic: {quantize: dynamic}}
            """,
            **{f"jax/{name}": text for name, text in _files().items()},
            "jax/calib.npz": _calibration(
                (64, 8, 8, 1), args_1=np.random.default_rng(1).random((64, 3), dtype=np.float32)
            ),
            "jax/model.yaml": """
            name: jax
            source: {jax: net.py:make}
            variants:
              float32: {}
              int8: {quantize: int8, io_type: int8, representative: {data: calib.npz}}
            """,
        }
    )
    first = doit(project, "report")
    assert first.code == 0, first.output
    every = {"tf/float32", "torch/float32", "torch/dynamic", "jax/float32", "jax/int8"}
    assert converted(first) == {f"convert:{name}" for name in every}
    build = project / "build"
    jax_int8 = json.loads((build / "jax" / "int8.report.json").read_text())
    assert "the jax toolchain" in jax_int8["accuracy"]["reference"]
    assert jax_int8["accuracy"]["max_abs_error"] < 0.1
    assert jax_int8["layers"]["ops"], jax_int8["layers"]  # TF's debugger, in the JAX worker
    jax_float = json.loads((build / "jax" / "float32.report.json").read_text())
    assert jax_float["accuracy"]["max_abs_error"] < 1e-4
    assert set(jax_float["accuracy"]["outputs"]) == {"probs", "features"}

    again = doit(project, "report")
    assert again.code == 0 and converted(again) == set() and again.conversions == 0

    (project / "jax" / "params.py").write_text("WIDTH = 5\n")  # feeds the JAX model alone
    edited = doit(project, "convert")
    assert converted(edited) == {"convert:jax/float32", "convert:jax/int8"}, edited.output

    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns("build"))
    nowhere = tmp_path / "no-toolchains"
    nowhere.mkdir()
    monkeypatch.setenv("TFLITE_BUILD_TOOLCHAINS", str(nowhere))
    restored = doit(clone, "convert")
    assert restored.code == 0 and restored.conversions == 0, restored.output
    assert list(nowhere.iterdir()) == []  # neither torch nor jax was needed
    for name in every:
        model, variant = name.split("/")
        made = (clone / "build" / model / f"{variant}.tflite").read_bytes()
        assert modelinfo.strip_provenance(made) == modelinfo.strip_provenance(
            (build / model / f"{variant}.tflite").read_bytes()
        )
