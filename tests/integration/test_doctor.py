"""The quantization doctor for real: per-layer errors, keep_float named and searched, in builds.

The model is a tiny MLP whose first layer int8 breaks on purpose: its weights
from input 0, which is always 0, are 1000, so the per-channel int8 scale of
every unit rounds the real weights to zero while the float model is unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import converter
from converter.errors import ConversionError, OptionsError
from converter.evaluation.evaluate import Runner, compare
from converter.quantization.search import bound
from converter.spec import Goal, KeepFloat
from tests.support.doit_runs import converted, doit
from tests.support.project import Files, ProjectFactory

pytestmark = pytest.mark.tf

FEATURES = 16
DROP = Goal("max_accuracy_drop", "accuracy_drop", "at most", 0.05)


@dataclass(frozen=True)
class Broken:
    keras: Path
    calibration: Path
    test: Path
    inputs: np.ndarray
    labels: np.ndarray


@pytest.fixture(scope="session")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Broken:
    import keras

    root = tmp_path_factory.mktemp("broken")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((FEATURES,), name="x")
    h = keras.layers.Dense(24, activation="relu", name="features")(inputs)
    h = keras.layers.Dense(24, activation="relu", name="body")(h)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="probs")(h))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, FEATURES)).astype(np.float32)
    x[:, 0] = 0.0  # a dead input
    labels = x[:, 1:5].argmax(axis=1).astype(np.int64)  # which of inputs 1-4 is largest
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:200], labels[:200], epochs=40, batch_size=32, verbose=0)
    kernel, bias = model.get_layer("features").get_weights()
    kernel[0, :] = 1000.0
    model.get_layer("features").set_weights([kernel, bias])
    model.save(root / "model.keras")
    np.savez(root / "calib.npz", x=x[:100])
    np.savez(root / "test.npz", x=x[100:], labels=labels[100:])
    return Broken(
        root / "model.keras", root / "calib.npz", root / "test.npz", x[100:], labels[100:]
    )


@pytest.fixture(scope="session")
def starved(tmp_path_factory: pytest.TempPathFactory, broken: Broken) -> Broken:
    """A model whose 'hidden' layer int8 starves: 'wide' feeds it one unit 1000 times too wide.

    'wide' has no activation, so scaling its unit 0 up and 'hidden''s weights from
    it down leaves the float model unchanged; int8's one scale per activation
    tensor then has no resolution left for the other units.
    """
    import keras

    root = tmp_path_factory.mktemp("starved")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((FEATURES,), name="x")
    h = keras.layers.Dense(24, activation="relu", name="features")(inputs)
    h = keras.layers.Dense(24, name="wide")(h)
    h = keras.layers.Dense(24, activation="relu", name="hidden")(h)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="probs")(h))
    with np.load(broken.calibration) as data:
        calibration = data["x"]
    x = np.concatenate([calibration, broken.inputs])
    labels = x[:, 1:5].argmax(axis=1)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=40, batch_size=32, verbose=0)
    kernel, bias = model.get_layer("wide").get_weights()
    kernel[:, 0] *= 1000.0
    bias[0] *= 1000.0
    model.get_layer("wide").set_weights([kernel, bias])
    kernel, bias = model.get_layer("hidden").get_weights()
    kernel[0, :] /= 1000.0
    model.get_layer("hidden").set_weights([kernel, bias])
    model.save(root / "model.keras")
    return Broken(
        root / "model.keras", broken.calibration, broken.test, broken.inputs, broken.labels
    )


def int8(broken: Broken, **options: object) -> converter.Options:
    rep = converter.Representative(data=broken.calibration)
    return converter.Options(quantize="int8", representative=rep, **options)  # type: ignore[arg-type]


def drop(broken: Broken, model: bytes) -> float:
    import keras

    reference = keras.models.load_model(broken.keras).predict(broken.inputs, verbose=0)
    runner = Runner(model)
    compared = compare(runner, {"x": broken.inputs}, {"output_0": reference}, broken.labels)
    assert compared.accuracy_drop is not None
    return compared.accuracy_drop


def test_the_ranking_puts_the_broken_layer_first(engine: converter.Engine, broken: Broken) -> None:
    source = converter.KerasSource(broken.keras)
    for inputs in (None, {"x": broken.inputs}):  # calibration samples, then evaluate data
        outcome = engine.run_layers(source, int8(broken), inputs)
        assert outcome.ops[0].layer == "features"
        assert {op.layer for op in outcome.ops} == {"features", "body", "probs"}
        worst, rest = outcome.ops[0], outcome.ops[1:]
        assert worst.rmse_scale > 2 * max(op.rmse_scale for op in rest)  # by far the worst
        assert all(op.op in ("FULLY_CONNECTED", "SOFTMAX") for op in outcome.ops)
    assert outcome.data.startswith("the evaluate data")


@pytest.mark.parametrize("fallback", [False, True], ids=["int8", "int8-float-fallback"])
def test_pinned_layers_give_the_quantization_debuggers_bytes(
    engine: converter.Engine, broken: Broken, tmp_path: Path, fallback: bool
) -> None:
    import keras
    import tensorflow as tf

    source = converter.KerasSource(broken.keras)
    options = int8(broken, float_fallback=fallback, keep_float=KeepFloat(layers=("features",)))
    ours = engine.convert(source, options, tmp_path / "ours.tflite").path.read_bytes()

    keras.backend.clear_session()
    conv = tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model(broken.keras))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if not fallback:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with np.load(broken.calibration) as data:
        samples = data["x"]
    conv.representative_dataset = lambda: ({"x": s[None]} for s in samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the debugger's interpreter is deprecated
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=lambda: ([s[None]] for s in samples[:1])
        )
        debugger.run()
        dump = io.StringIO()
        debugger.layer_statistics_dump(dump)
        nodes = [
            row["tensor_name"]
            for row in csv.DictReader(io.StringIO(dump.getvalue()))
            if "/features" in row["tensor_name"]
        ]
        assert nodes
        debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes)
    assert ours == debugger.get_nondebug_quantized_model()


def test_auto_meets_a_budget_that_plain_int8_misses(
    engine: converter.Engine, broken: Broken, tmp_path: Path
) -> None:
    source = converter.KerasSource(broken.keras)
    plain = engine.convert(source, int8(broken), tmp_path / "int8.tflite")
    assert drop(broken, plain.path.read_bytes()) > DROP.limit
    keep = KeepFloat(auto=True, goals=(DROP,), evaluate=broken.test)
    searched = engine.convert(
        source, int8(broken, keep_float=keep), tmp_path / "auto.tflite", provenance=True
    )
    assert searched.kept_float == ("features",)
    assert drop(broken, searched.path.read_bytes()) <= DROP.limit
    assert searched.provenance is not None and searched.provenance["kept_float"] == ["features"]
    assert searched.search is not None
    assert searched.search["conversions"] <= 2 + 2 + 1  # 3 layers: 2 + ceil(log2 3) + 1
    assert searched.search["ranking"][0]["layer"] == "features"


def test_auto_keeps_a_starved_layer_with_the_layer_that_starves_it(
    engine: converter.Engine, starved: Broken, tmp_path: Path
) -> None:
    source = converter.KerasSource(starved.keras)
    plain = engine.convert(source, int8(starved), tmp_path / "int8.tflite")
    assert drop(starved, plain.path.read_bytes()) > DROP.limit
    ranked = engine.run_layers(source, int8(starved), None).ops
    assert ranked[0].layer == "hidden"  # the error shows where the resolution is missing
    keep = KeepFloat(auto=True, goals=(DROP,), evaluate=starved.test)
    searched = engine.convert(source, int8(starved, keep_float=keep), tmp_path / "auto.tflite")
    assert set(searched.kept_float) == {"hidden", "wide"}
    assert drop(starved, searched.path.read_bytes()) <= DROP.limit
    assert searched.search is not None and searched.search["order"][:2] == ["hidden", "wide"]
    assert searched.search["conversions"] <= bound(searched.search["layers"], 2)


def test_an_impossible_budget_fails_with_one_sentence(
    engine: converter.Engine, broken: Broken, tmp_path: Path
) -> None:
    impossible = Goal("min_accuracy", "accuracy", "at least", 1.5)
    keep = KeepFloat(auto=True, goals=(impossible,), evaluate=broken.test)
    with pytest.raises(ConversionError) as raised:
        engine.convert(
            converter.KerasSource(broken.keras),
            int8(broken, keep_float=keep),
            tmp_path / "x.tflite",
        )
    message = str(raised.value)
    assert re.fullmatch(
        r"keep_float: auto: no set of layers kept in float meets min_accuracy 1\.5; "
        r"the best reached is accuracy 0\.\d+ \((keeping [a-z, ]+|with every quantized layer) "
        r"in float, 3 quantized layers, \d conversions\)",
        message,
    ), message
    assert "\n" not in message and not (tmp_path / "x.tflite").exists()


def test_an_unknown_layer_gets_its_did_you_mean(
    engine: converter.Engine, broken: Broken, tmp_path: Path
) -> None:
    options = int8(broken, keep_float=KeepFloat(layers=("featurs",)))
    with pytest.raises(OptionsError) as raised:
        engine.convert(converter.KerasSource(broken.keras), options, tmp_path / "x.tflite")
    assert str(raised.value) == (
        "keep_float: no quantized layer is named 'featurs'; did you mean 'features'? "
        "(the layers: body, features, probs)"
    )


MANIFEST = """\
source: {keras: model.keras}
defaults:
  representative: {data: calib.npz}
variants:
  int8: {quantize: int8}
  mixed: {quantize: int8, keep_float: auto}
evaluate: {data: test.npz}
budgets:
  mixed: {max_accuracy_drop: 0.05}
"""
# Runs doit in one process and reports whether it imported TensorFlow.
PROBE = """
import runpy, sys
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
code = DoitMain(ModuleTaskLoader(runpy.run_path("dodo.py"))).run(["report"])
print("PROBE", code, "tensorflow" in sys.modules)
"""


def _broken_files(broken: Broken) -> Files:
    """The broken MLP, its calibration and its labelled test data, under m/."""
    return {
        "m/model.yaml": MANIFEST,
        "m/model.keras": broken.keras,
        "m/calib.npz": broken.calibration,
        "m/test.npz": broken.test,
    }


def test_a_build_searches_once_and_a_warm_cache_never_again(
    broken: Broken, make_project: ProjectFactory, tmp_path: Path
) -> None:
    root = make_project(_broken_files(broken), at="project")
    first = doit(root, "report")
    assert first.code == 0, first.output
    assert converted(first) == {"convert:m/int8", "convert:m/mixed"}
    assert "m/mixed: kept in float: features (searched 3 layers in" in first.output
    report = json.loads((root / "build/m/mixed.report.json").read_text())
    assert report["layers"]["kept_float"] == ["features"]
    assert "features" not in {op["layer"] for op in report["layers"]["ops"]}
    assert report["accuracy"]["accuracy_drop"] <= 0.05
    plain = json.loads((root / "build/m/int8.report.json").read_text())
    assert plain["layers"]["ops"][0]["layer"] == "features"
    assert "worst int8 layers: features (" in first.output

    again = doit(root, "report")
    assert again.code == 0 and again.conversions == 0 and again.executed == set(), again.output

    clone = tmp_path / "clone"
    shutil.copytree(root, clone, ignore=shutil.ignore_patterns("build", ".doit.db*"))
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=clone,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )
    assert run.stdout.strip().endswith("PROBE 0 False"), run.stdout + run.stderr
    assert "searched" not in run.stderr
    for name in ("int8", "mixed"):
        built = (root / f"build/m/{name}.tflite").read_bytes()
        assert (clone / f"build/m/{name}.tflite").read_bytes() == built
        restored = json.loads((clone / f"build/m/{name}.report.json").read_text())
        assert (
            restored["layers"]
            == json.loads((root / f"build/m/{name}.report.json").read_text())["layers"]
        )


def test_the_budget_is_part_of_the_key(broken: Broken, make_project: ProjectFactory) -> None:
    root = make_project(_broken_files(broken), at="project")
    assert doit(root, "convert:m/mixed").code == 0
    manifest = root / "m/model.yaml"
    manifest.write_text(manifest.read_text().replace("0.05}", "0.04}"))
    rerun = doit(root, "convert:m/mixed")
    assert converted(rerun) == {"convert:m/mixed"} and rerun.conversions == 1
    assert "searched" in rerun.output
    # Labels no model can match: even every layer in float stays near chance.
    labels = np.random.default_rng(1).integers(0, 4, len(broken.labels))
    np.savez(root / "m/random.npz", x=broken.inputs, labels=labels)
    text = manifest.read_text().replace("test.npz", "random.npz")
    manifest.write_text(text.replace("max_accuracy_drop: 0.04", "min_accuracy: 0.9"))
    failed = doit(root, "convert:m/mixed")
    assert failed.code != 0
    assert (
        "m/mixed: keep_float: auto: no set of layers kept in float meets min_accuracy 0.9; "
        "the best reached is accuracy 0."
    ) in failed.output, failed.output
