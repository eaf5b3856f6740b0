"""PyTorch sources converted in the PyTorch toolchain's own worker (real torch and litert-torch).

The toolchain is the default one (torch 2.13.0's CPU build, litert-torch 0.10.0),
made where a build makes it; `.ci/run` makes it before the tests, and a test
that finds it missing makes it (about a minute, once).
"""

from __future__ import annotations

import io
import json
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

import converter
from converter.tflite import modelinfo
from converter.toolchains import defaults, environments
from tests.support.doit_runs import converted, doit
from tests.support.project import ProjectFactory

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

# In a process of its own in the toolchain (the tests' environment has no torch): the
# module's own outputs, and litert-torch's conversion of it as a team's script calls it.
EXPECTED = """
import pathlib, sys, numpy as np, torch, litert_torch
sys.path.insert(0, sys.argv[1])
import build
torch.manual_seed(0)
module, args = build.make()
x = np.load(sys.argv[2])
with torch.no_grad():
    np.save(sys.argv[3], module.eval()(torch.from_numpy(x)).numpy())
content = litert_torch.convert(module.eval(), args).model_content
pathlib.Path(sys.argv[4]).write_bytes(bytes(content() if callable(content) else content))
"""


@pytest.fixture(scope="module")
def toolchain() -> environments.Environment:
    return environments.ensure(defaults.PYTORCH)


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

    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(1).random((1, 1, 8, 8), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    subprocess.run(
        [str(toolchain.python), "-c", EXPECTED, str(project), str(tmp_path / "x.npy"),
         str(tmp_path / "want.npy"), str(tmp_path / "script.tflite")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    interpreter = Interpreter(model_path=str(tmp_path / "a.tflite"))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, np.load(tmp_path / "want.npy"), atol=1e-4)
    # Another process, run as a team runs litert-torch: the same model. Our artifacts pass
    # through TFLite's schema (stamping provenance packs them anew), so the script's bytes
    # are compared serialized alike: litert-torch orders its tables' fields otherwise.
    script = (tmp_path / "script.tflite").read_bytes()
    alike = modelinfo.strip_provenance(modelinfo.stamp_provenance(script, {}))
    stamped = engine.convert(source, None, tmp_path / "s.tflite", provenance={"k": 1})
    assert modelinfo.strip_provenance((tmp_path / "s.tflite").read_bytes()) == alike
    assert stamped.sha256 != first.sha256


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


def test_what_it_cannot_do_is_said(engine: converter.Engine, tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    with pytest.raises(converter.OptionsError, match="is TensorFlow's converter's"):
        engine.convert(
            converter.PyTorchSource("build.py:make", project),
            converter.Options(supported_ops=("builtins",)),
            tmp_path / "q.tflite",
        )
    with pytest.raises(converter.SourceError) as wrong:
        engine.convert(
            converter.PyTorchSource("build.py:not_a_pair", project), None, tmp_path / "x.tflite"
        )
    assert "returned Net; expected (module, example_args)" in str(wrong.value)
    assert not (tmp_path / "q.tflite").exists() and not (tmp_path / "x.tflite").exists()


# Two models, so that an edit shows which variants it feeds: `net` reads helper.py, `other`
# does not. Calibration data is keyed as litert-torch names the inputs (args_0).
OTHER = """
import torch


def make():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4)), (torch.zeros(1, 1, 8, 8),)
"""
MANIFEST = """
name: net
source: {pytorch: build.py:make}
variants:  # dynamic and float16: the example project's test
  float32: {}
  int8: {quantize: int8, representative: {data: calib.npz}}
  int8io: {quantize: int8, io_type: int8, representative: {data: calib.npz}}
"""


def _calibration() -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buffer, args_0=rng.random((24, 1, 8, 8), dtype=np.float32))
    return buffer.getvalue()


def _stripped(path: Path) -> bytes:
    return modelinfo.strip_provenance(path.read_bytes())


def test_a_manifest_builds_quantizes_reports_and_rebuilds_only_what_an_edit_feeds(
    toolchain: environments.Environment,
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "net/build.py": BUILD,
            "net/helper.py": "WIDTH = 4\n",
            "net/calib.npz": _calibration(),
            "net/model.yaml": MANIFEST,
            "other/build.py": OTHER,
            "other/model.yaml": "name: other\nsource: {pytorch: build.py:make}\nvariants: {float32: {}}\n",
        }
    )
    first = doit(project, "report")
    assert first.code == 0, first.output
    variants = {"float32", "int8", "int8io"}
    assert converted(first) == {f"convert:net/{v}" for v in variants} | {"convert:other/float32"}
    build = project / "build"
    for variant in variants:
        report = json.loads((build / "net" / f"{variant}.report.json").read_text())
        accuracy = report["accuracy"]
        assert "run in its own framework (the pytorch toolchain)" in accuracy["reference"]
        assert accuracy["max_abs_error"] < (1e-4 if variant == "float32" else 0.05), variant
        if variant in ("int8", "int8io"):
            assert report["layers"]["skipped"].startswith("per-layer errors come from TF's")
    stamp = modelinfo.read_provenance(build / "net" / "float32.tflite")
    assert stamp is not None and "tensorflow" not in stamp  # what converted it, by name
    assert stamp["torch"].startswith("2.13.0") and stamp["litert-torch"] == "0.10.0"
    from ai_edge_litert.interpreter import Interpreter

    kinds = {}
    for variant in ("int8", "int8io"):
        interpreter = Interpreter(model_path=str(build / "net" / f"{variant}.tflite"))
        kinds[variant] = interpreter.get_input_details()[0]["dtype"]
    assert kinds == {"int8": np.float32, "int8io": np.int8}
    before = {v: _stripped(build / "net" / f"{v}.tflite") for v in variants}

    again = doit(project, "report")
    assert again.code == 0 and converted(again) == set() and again.conversions == 0
    assert again.references == 0  # measurements come back from the cache too

    (project / "net" / "helper.py").write_text("WIDTH = 5\n")  # feeds net, not other
    edited = doit(project, "convert")
    assert converted(edited) == {f"convert:net/{v}" for v in variants}, edited.output
    (project / "net" / "helper.py").write_text("WIDTH = 4\n")
    back = doit(project, "convert")  # back to the first bytes: from the cache
    assert back.conversions == 0, back.output
    assert {v: _stripped(build / "net" / f"{v}.tflite") for v in variants} == before
    # A fresh clone with a warm cache needs no toolchain: test_jax's project of three kinds.


def test_doit_check_refuses_what_the_toolchain_cannot_do(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "net/build.py": BUILD,
            "net/helper.py": "WIDTH = 4\n",
            "net/model.yaml": """
            name: net
            source: {pytorch: build.py:make}
            variants:
              ops: {supported_ops: [builtins]}
              uint8: {quantize: int8, io_type: uint8, representative: {data: calib.npz}}
            """,
            "net/calib.npz": _calibration(),
        }
    )
    run = doit(project, "check")
    assert run.code != 0
    assert "variants -> ops -> supported_ops: is TensorFlow's converter's" in run.output
    assert (
        "the pytorch toolchain gives float32 or int8 inputs with quantize int8, not uint8"
        in run.output
    )


# What the corpus of real models taught: complex tensors and a submodule named `meta` fail
# with a sentence that says what to do; int64 token ids become int32 inputs, and their
# embedding quantizes (dynamic) into a file the interpreter runs.
TRAPS = """
import torch


class Spectrogram(torch.nn.Module):
    def forward(self, x):
        return torch.stft(x, 64, window=torch.hann_window(64), return_complex=True).abs()


class Meta(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.meta = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.meta(x)


class Tokens(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(100, 16)
        self.out = torch.nn.Linear(16, 4)

    def forward(self, ids):
        return self.out(self.embed(ids).mean(1))


def stft():
    return Spectrogram(), (torch.zeros(1, 1024),)


def meta():
    return Meta(), (torch.zeros(1, 4),)


def tokens():
    return Tokens(), (torch.zeros(1, 8, dtype=torch.long),)
"""


DYNAMIC = converter.Options(quantize="dynamic")


def test_the_corpus_traps_say_what_to_do_and_token_ids_run(
    engine: converter.Engine, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "traps.py").write_text(TRAPS)
    for entry, words in (
        ("stft", "LiteRT has no complex tensors"),
        ("meta", "rename the submodule"),
    ):
        with pytest.raises(converter.ConversionError, match=words):
            engine.convert(
                converter.PyTorchSource(f"traps.py:{entry}", project), None, tmp_path / "x.tflite"
            )
    from ai_edge_litert.interpreter import Interpreter

    ids = np.random.default_rng(0).integers(0, 100, (5, 8))
    want, _ = engine.run_reference(
        converter.PyTorchSource("traps.py:tokens", project), {"args_0": ids}
    )
    for options, tolerance in ((converter.Options(), 1e-4), (DYNAMIC, 0.05)):
        out = tmp_path / f"{options.quantize}.tflite"
        engine.convert(converter.PyTorchSource("traps.py:tokens", project), options, out)
        runner = Interpreter(model_path=str(out)).get_signature_runner()
        assert runner.get_input_details()["args_0"]["dtype"] == np.int32
        got = np.concatenate(
            [runner(args_0=ids[i : i + 1].astype(np.int32))["output_0"] for i in range(len(ids))]
        )
        np.testing.assert_allclose(got, want["output_0"], atol=tolerance)
