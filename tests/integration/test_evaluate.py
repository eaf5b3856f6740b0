"""Evaluation of real artifacts: batched runs against a per-sample loop, latency figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import converter
from converter.evaluation.evaluate import Runner
from tests.support.models import Models


@pytest.mark.tf
@pytest.mark.parametrize("mode", ["none", "int8"])
def test_batched_equals_one_sample_at_a_time(
    mode: str, models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    rep = converter.Representative(data=models.calibration)
    options = (
        converter.Options(
            quantize="int8", representative=rep, input_type="int8", output_type="int8"
        )
        if mode == "int8"
        else converter.Options()
    )
    result = engine.convert(
        converter.SavedModelSource(models.saved_model), options, tmp_path / "m.tflite"
    )
    data = result.path.read_bytes()
    samples = np.random.default_rng(1).random((37, 8, 8, 1), np.float32)
    batched = Runner(data).run([samples], batch=16)[0]
    assert Runner(data).batchable and batched.shape == (37, 3)
    single = np.concatenate([Runner(data).run([samples[i : i + 1]], batch=1)[0] for i in range(37)])
    np.testing.assert_array_equal(batched, single)
    if mode == "none":  # the float model agrees with Keras
        import keras

        expected = keras.models.load_model(models.keras)(samples).numpy()
        np.testing.assert_allclose(batched, expected, atol=1e-5)


@pytest.mark.tf
def test_a_fixed_batch_model_runs_one_sample_at_a_time(
    models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    source = converter.FrozenGraphSource(models.frozen_graph, ("img",), ("probs",))
    result = engine.convert(source, None, tmp_path / "fixed.tflite")
    runner = Runner(result.path.read_bytes())
    assert not runner.batchable
    outputs = runner.run([models.samples], batch=64)[0]
    assert outputs.shape == (len(models.samples), 3)
    assert np.allclose(outputs.sum(axis=1), 1.0, atol=1e-5)  # softmax rows


@pytest.mark.tf
def test_latency_figures_and_an_unrunnable_model(
    models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    from converter.evaluation.evaluate import latency

    result = engine.convert(
        converter.SavedModelSource(models.saved_model), None, tmp_path / "m.tflite"
    )
    timing = latency(result.path.read_bytes(), runs=20)
    assert (timing["batch"], timing["threads"], timing["runs"]) == (1, 1, 20)
    assert 0 < timing["median_ms"] <= timing["p90_ms"]
    options = converter.Options(supported_ops=("builtins", "select_tf_ops"))
    flex = engine.convert(
        converter.PythonSource("entries.py:flex", models.root), options, tmp_path / "f.tflite"
    )
    assert "error" in latency(flex.path.read_bytes()) and "median_ms" not in latency(
        flex.path.read_bytes()
    )
