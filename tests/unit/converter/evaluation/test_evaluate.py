"""Evaluation: metrics and quantization arithmetic against independent computations (no TF)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from converter.evaluation.evaluate import accuracy, dequantize, errors, quantize


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


def test_a_misspelt_labels_key_is_named() -> None:
    from converter.evaluation.evaluate import match

    with pytest.raises(ValueError) as caught:
        match(["image", "lables"], ["image"], "input")
    assert str(caught.value) == (
        "cannot match inputs: have image, lables; the model has image "
        "('lables': labels go under the key 'labels')"
    )
    with pytest.raises(ValueError) as other:
        match(["image", "extra"], ["image"], "input")
    assert "labels" not in str(other.value)
