"""PyTorch sources converted in the PyTorch toolchain's own worker (real torch and litert-torch).

The toolchain is the default one (torch 2.13.0's CPU build, litert-torch 0.10.0),
made where a build makes it; `.ci/run` makes it before the tests, and a test
that finds it missing makes it (about a minute, once).
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import converter
from converter.tflite import modelinfo
from converter.toolchains import defaults, environments

BUILD = """
import torch

from helper import WIDTH


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, WIDTH, 3)
        self.fc = torch.nn.Linear(WIDTH, 3)

    def forward(self, x):
        return torch.softmax(self.fc(torch.relu(self.conv(x)).mean((2, 3))), -1)


def make():
    return Net(), (torch.zeros(1, 1, 8, 8),)


def not_a_pair():
    return Net()
"""

# The module's own outputs, computed in the toolchain (the tests' environment has no torch).
EXPECTED = """
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[1])
import build
torch.manual_seed(0)
module, _ = build.make()
x = np.load(sys.argv[2])
with torch.no_grad():
    np.save(sys.argv[3], module.eval()(torch.from_numpy(x)).numpy())
"""


@pytest.fixture(scope="module")
def toolchain() -> environments.Environment:
    return environments.ensure(defaults.PYTORCH)


@pytest.fixture(scope="module")
def engine(toolchain: environments.Environment) -> Iterator[converter.Engine]:
    with converter.Engine() as made:
        yield made


def _project(folder: Path, width: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "build.py").write_text(textwrap.dedent(BUILD).lstrip())
    (folder / "helper.py").write_text(f"WIDTH = {width}\n")
    return folder


def test_a_module_converts_to_the_same_bytes_every_time_and_matches_itself(
    engine: converter.Engine, toolchain: environments.Environment, tmp_path: Path
) -> None:
    project = _project(tmp_path / "p")
    source = converter.PyTorchSource("build.py:make", project)
    first = engine.convert(source, None, tmp_path / "a.tflite", provenance=False)
    again = engine.convert(source, None, tmp_path / "b.tflite", provenance=False)
    assert first.sha256 == again.sha256  # the same worker, the entry loaded afresh
    with converter.Engine() as fresh:  # a new worker process, another working directory
        other = fresh.convert(source, None, tmp_path / "c.tflite", provenance=False)
    assert other.sha256 == first.sha256

    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(1).random((1, 1, 8, 8), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    subprocess.run(
        [str(toolchain.python), "-c", EXPECTED, str(project), str(tmp_path / "x.npy"),
         str(tmp_path / "want.npy")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    interpreter = Interpreter(model_path=str(tmp_path / "a.tflite"))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, np.load(tmp_path / "want.npy"), atol=1e-4)


def test_the_files_its_code_reads_are_recorded_and_change_the_bytes(
    engine: converter.Engine, tmp_path: Path
) -> None:
    project = _project(tmp_path / "p")
    source = converter.PyTorchSource("build.py:make", project)
    tracked = engine.convert(source, None, tmp_path / "a.tflite", provenance=True, track=project)
    assert set(dict(tracked.discovered)) == {"build.py", "helper.py"}
    stamp = modelinfo.read_provenance(tmp_path / "a.tflite")
    assert stamp is not None and set(stamp["discovered"]) == {"build.py", "helper.py"}
    narrow = engine.convert(source, None, tmp_path / "n.tflite", provenance=False)
    (project / "helper.py").write_text("WIDTH = 6\n")  # an edit reaches the next conversion
    wide = engine.convert(source, None, tmp_path / "w.tflite", provenance=False)
    assert wide.sha256 != narrow.sha256 and wide.size > narrow.size


def test_what_it_cannot_do_yet_or_at_all_is_said(engine: converter.Engine, tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    with pytest.raises(converter.OptionsError, match="converts float32 only, so far"):
        engine.convert(
            converter.PyTorchSource("build.py:make", project),
            converter.Options(quantize="dynamic"),
            tmp_path / "q.tflite",
        )
    with pytest.raises(converter.SourceError) as wrong:
        engine.convert(
            converter.PyTorchSource("build.py:not_a_pair", project), None, tmp_path / "x.tflite"
        )
    assert "returned Net; expected (module, example_args)" in str(wrong.value)
    assert not (tmp_path / "q.tflite").exists() and not (tmp_path / "x.tflite").exists()
