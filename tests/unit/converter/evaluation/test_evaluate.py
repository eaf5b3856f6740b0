"""Evaluation: metrics against independent computations, batched runs against a per-sample loop."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import Models

import converter
from converter.evaluation.evaluate import Runner, accuracy, dequantize, errors, quantize


def test_metrics_against_plain_arithmetic() -> None:
    rng = np.random.default_rng(3)
    reference = rng.random((50, 10)).astype(np.float32)
    candidate = reference + rng.normal(0, 0.01, reference.shape).astype(np.float32)
    candidate[7] = candidate[7][::-1]  # one sample whose top class moves
    ref, got = reference.astype(float).ravel().tolist(), candidate.astype(float).ravel().tolist()
    diffs = [g - r for r, g in zip(ref, got, strict=True)]
    result = errors(reference, candidate)
    assert result.max_abs_error == pytest.approx(max(abs(d) for d in diffs))
    assert result.mean_abs_error == pytest.approx(sum(abs(d) for d in diffs) / len(diffs))
    assert result.rmse == pytest.approx(math.sqrt(sum(d * d for d in diffs) / len(diffs)))
    dot = sum(r * g for r, g in zip(ref, got, strict=True))
    cosine = dot / (math.sqrt(sum(r * r for r in ref)) * math.sqrt(sum(g * g for g in got)))
    assert result.cosine_similarity == pytest.approx(cosine)
    snr = 10 * math.log10(sum(r * r for r in ref) / sum(d * d for d in diffs))
    assert result.snr_db == pytest.approx(snr)
    agree = sum(
        int(np.argmax(reference[i]) == np.argmax(candidate[i])) for i in range(len(reference))
    )
    assert result.top1_agreement == pytest.approx(agree / len(reference))
    assert result.top1_agreement is not None and result.top1_agreement < 1.0


def test_identical_outputs_and_accuracy() -> None:
    scores = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 1]]
    same = errors(scores, scores.copy())
    assert (same.max_abs_error, same.rmse, same.snr_db, same.top1_agreement) == (
        0.0,
        0.0,
        math.inf,
        1.0,
    )
    assert accuracy(scores, np.array([0, 1, 2, 3, 0])) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="shapes differ"):
        errors(scores, scores[:2])


def test_quantization_round_trip() -> None:
    detail = {"dtype": np.int8, "quantization": (0.5, -10)}
    values = np.array([-70.0, -5.0, 0.0, 0.25, 3.0, 70.0], np.float32)
    q = quantize(values, detail)
    assert q.dtype == np.int8 and q.tolist() == [-128, -20, -10, -10, -4, 127]
    assert dequantize(q, detail).tolist() == [-59.0, -5.0, 0.0, 0.0, 3.0, 68.5]


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
