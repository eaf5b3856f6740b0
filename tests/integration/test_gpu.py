"""GPU delegate compatibility of TensorFlow's own conversions, and TF's Analyzer, which does not check it."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest

from converter.tflite import modelinfo
from converter.tflite.gpu import gpu_compatibility


# TensorFlow's converter, in process: one ordinary CNN and one model the delegate rejects.
@pytest.fixture(scope="module")
def converted() -> dict[str, bytes]:
    import tensorflow as tf

    rng = np.random.default_rng(3)
    kernel = tf.constant(rng.normal(size=(3, 3, 1, 4)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(64, 3)).astype(np.float32))

    def cnn(image: Any) -> Any:
        x = tf.nn.relu(tf.nn.conv2d(image, kernel, 1, "SAME"))
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        return tf.nn.softmax(tf.reshape(x, [1, 64]) @ weights)

    def unusual(x: Any) -> Any:
        erf = tf.math.erf(tf.math.cumsum(x, axis=1))  # Erf is a Select TF op
        index = tf.argmax(erf, axis=1)  # INT64
        return erf + tf.cast(tf.reshape(index, [1, 1]), tf.float32)

    out = {}
    for name, function, shape in [("cnn", cnn, [1, 8, 8, 1]), ("unusual", unusual, [1, 8])]:
        spec = tf.TensorSpec(shape, tf.float32)
        concrete = tf.function(function, input_signature=[spec]).get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS,
            tf.lite.OpsSet.SELECT_TF_OPS,
        ]
        out[name] = converter.convert()
    return out


@pytest.mark.tf
def test_converted_models(converted: dict[str, bytes]) -> None:
    cnn = gpu_compatibility(converted["cnn"])
    assert cnn.compatible, cnn.sentence()
    assert cnn.nodes == sum(modelinfo.op_counts(converted["cnn"]).values())
    assert {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(
        modelinfo.op_counts(converted["cnn"])
    )

    unusual = gpu_compatibility(converted["unusual"])
    assert unusual.reasons == {
        "ARG_MAX": "not supported",
        "CAST": "cast from INT64 to FLOAT32",
        "FLEX:Erf": "a Select TF op",
        "RESHAPE": "input of type INT64",
    }
    assert unusual.rejected == dict.fromkeys(unusual.reasons, 1)
    # The delegate has a float CUMSUM with a constant axis, and ADD of floats.
    assert {"CUMSUM", "ADD"} <= set(modelinfo.op_counts(converted["unusual"]))
    assert unusual.nodes == 6


@pytest.mark.tf
def test_tensorflows_analyzer_calls_everything_gpu_compatible(converted: dict[str, bytes]) -> None:
    """TF 2.21's Analyzer never fills its list of GPU-incompatible nodes: this is why we check.

    If this test fails, TF's analyzer reports GPU incompatibilities again: compare its
    verdicts with ours on these models, and consider using it.
    """
    import tensorflow as tf

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tf.lite.experimental.Analyzer.analyze(
            model_content=converted["unusual"], gpu_compatibility=True
        )
    assert "FlexErf" in printed.getvalue()  # it did read the model
    assert "looks compatible with GPU delegate" in printed.getvalue()
    assert not gpu_compatibility(converted["unusual"]).compatible
