"""The source model run in TensorFlow by the worker: the reference of accuracy reports.

For every input format, the reference outputs must equal (to float rounding)
what the float32 .tflite gives in the interpreter on the same inputs, which in
turn is what TF itself computes; and names must line up with the TFLite
signature's, so several inputs and outputs are matched by name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import converter
from converter.evaluation.evaluate import Runner, match
from tests.support.models import Models

pytestmark = pytest.mark.tf

SOURCES: dict[str, Callable[[Models], converter.Source]] = {
    "saved_model": lambda m: converter.SavedModelSource(m.saved_model),
    "keras": lambda m: converter.KerasSource(m.keras),
    "h5": lambda m: converter.KerasSource(m.h5),
    "legacy_h5": lambda m: converter.KerasSource(m.legacy_h5, legacy=True),
    "frozen_graph": lambda m: converter.FrozenGraphSource(m.frozen_graph, ("img",), ("probs",)),
    "tf1_saved_model": lambda m: converter.TF1SavedModelSource(m.tf1_saved_model),
    "python_keras": lambda m: converter.PythonSource("entries.py:keras_model", m.root),
    "python_tf_function": lambda m: converter.PythonSource("entries.py:tf_function", m.root),
    "python_session": lambda m: converter.PythonSource("entries.py:session", m.root),
}


def _interpreter_outputs(model: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    runner = Runner(model.read_bytes())
    order, _ = match(list(inputs), runner.input_names, what="input")
    values = list(inputs.values())
    outputs = runner.run([values[i] for i in order])
    return dict(zip(runner.output_names, outputs, strict=True))


@pytest.mark.parametrize("kind", list(SOURCES))
def test_reference_equals_the_float_artifact(
    kind: str, models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    source = SOURCES[kind](models)
    artifact = tmp_path / "float32.tflite"
    engine.convert(source, converter.Options(), artifact)
    inputs = {"img": models.samples[:7]}  # 7: not a multiple of any batch size

    reference, outcome = engine.run_reference(source, inputs)
    tflite = _interpreter_outputs(artifact, inputs)

    assert len(reference) == len(tflite) == 1
    (got,), (want,) = tflite.values(), reference.values()
    assert got.shape == want.shape and len(want) == 7
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.isfinite(want).all() and np.abs(want).max() > 0  # real outputs, not zeros
    assert outcome.matched in ("name", "position")


@pytest.fixture(scope="module")
def two_by_two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SavedModel with two inputs and two named outputs of different widths."""
    import keras

    keras.utils.set_random_seed(0)
    zeta, alpha = keras.Input((4,), name="zeta"), keras.Input((3,), name="alpha")
    joined = keras.layers.Concatenate()([zeta, alpha])
    model = keras.Model(
        [zeta, alpha],
        {"score": keras.layers.Dense(2)(joined), "aux": keras.layers.Dense(5)(joined)},
    )
    path = tmp_path_factory.mktemp("two_by_two") / "saved_model"
    model.export(str(path), verbose=False)
    return path


def test_several_inputs_and_outputs_are_matched_by_name(
    two_by_two: Path, engine: converter.Engine, tmp_path: Path
) -> None:
    source = converter.SavedModelSource(two_by_two)
    artifact = tmp_path / "float32.tflite"
    engine.convert(source, converter.Options(), artifact)
    rng = np.random.default_rng(1)
    # Given in the opposite order to the model's (sorted) signature order.
    inputs = {
        "zeta": rng.random((300, 4), dtype=np.float32),  # 300: more than one TF batch
        "alpha": rng.random((300, 3), dtype=np.float32),
    }

    reference, outcome = engine.run_reference(source, inputs)
    tflite = _interpreter_outputs(artifact, inputs)

    assert outcome.matched == "name" and outcome.inputs == ("alpha", "zeta")
    assert sorted(reference) == sorted(tflite) == ["aux", "score"]
    for name in reference:
        np.testing.assert_allclose(tflite[name], reference[name], rtol=1e-5, atol=1e-5)
    assert reference["aux"].shape == (300, 5) and reference["score"].shape == (300, 2)


@pytest.fixture(scope="module")
def tf1_two_by_two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF1 SavedModel whose signature keys sort (a, b) unlike its input tensors (zeta, alpha)."""
    import tensorflow as tf

    path = tmp_path_factory.mktemp("tf1_two_by_two") / "saved_model"
    graph = tf.Graph()
    with graph.as_default():
        zeta = tf.compat.v1.placeholder(tf.float32, [None, 4], name="zeta")
        alpha = tf.compat.v1.placeholder(tf.float32, [None, 3], name="alpha")
        w = tf.compat.v1.get_variable(
            "w", [7, 2], initializer=tf.compat.v1.random_normal_initializer(seed=1)
        )
        joined = tf.concat([zeta, alpha], axis=1)
        score = tf.identity(tf.matmul(joined, w), name="score")
        aux = tf.identity(zeta[:, :2] * 2.0 - alpha[:, :2], name="aux")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.saved_model.simple_save(
                sess, str(path), {"a": zeta, "b": alpha}, {"x": score, "y": aux}
            )
    return path


def test_tf1_inputs_are_the_converters_in_calibration_and_reference(
    tf1_two_by_two: Path, engine: converter.Engine, tmp_path: Path
) -> None:
    """One statement of a TF1 model's inputs: the TF1 converter's (sorted by tensor name)."""
    source = converter.TF1SavedModelSource(tf1_two_by_two)
    artifact = engine.convert(source, converter.Options(), tmp_path / "float32.tflite").path
    rng = np.random.default_rng(2)
    inputs = {
        "zeta": rng.random((9, 4), dtype=np.float32),
        "alpha": rng.random((9, 3), dtype=np.float32),
    }

    reference, outcome = engine.run_reference(source, inputs)
    tflite = _interpreter_outputs(artifact, inputs)

    assert outcome.matched == "name"
    assert outcome.inputs == tuple(Runner(artifact.read_bytes()).input_names) == ("alpha", "zeta")
    assert sorted(reference) == sorted(tflite) == ["aux", "score"]
    for name in reference:
        np.testing.assert_allclose(tflite[name], reference[name], rtol=1e-5, atol=1e-5)

    calibration = tmp_path / "calib.npz"
    np.savez(calibration, **inputs, extra=inputs["zeta"])  # type: ignore[arg-type]
    options = converter.Options(
        quantize="int8", representative=converter.Representative(data=calibration)
    )
    with pytest.raises(converter.OptionsError) as info:
        engine.convert(source, options, tmp_path / "int8.tflite")
    assert str(info.value) == (
        f"representative data {calibration}: arrays must be keyed by the model's input names "
        "(alpha, zeta); missing none, unexpected extra"
    )


def test_match_by_name_then_position() -> None:
    assert match(["b", "a"], ["a", "b"]) == ([1, 0], "name")
    assert match(["serving_default_img:0"], ["img"]) == ([0], "name")
    assert match(["x"], ["img"]) == ([0], "position")
    with pytest.raises(ValueError, match="have x; the model has a, b"):
        match(["x"], ["a", "b"], what="input")
