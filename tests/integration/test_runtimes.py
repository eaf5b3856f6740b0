"""What a model needs from a runtime, by the table alone, against TensorFlow's own metadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from converter.tflite import modelinfo, runtimes
from converter.tflite.runtimes import Need, loads_on, needs

MODES = ("float32", "dynamic", "float16", "int8")


def _keras_model() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="img")
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def _convert(model: Any, mode: str) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        samples = np.random.default_rng(3).random((10, 1, 8, 8, 1), dtype=np.float32)

        def dataset() -> Iterator[list[np.ndarray]]:
            yield from ([sample] for sample in samples)

        conv.representative_dataset = dataset
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return bytes(conv.convert())


@pytest.fixture(scope="module")
def artifacts() -> dict[str, bytes]:
    """The same tiny Dense + Conv model converted by TF in every quantization mode."""
    model = _keras_model()
    return {mode: _convert(model, mode) for mode in MODES}


@pytest.mark.tf
@pytest.mark.parametrize("mode", MODES)
def test_the_table_alone_gives_tensorflows_min_runtime_version(
    artifacts: dict[str, bytes], mode: str
) -> None:
    """TF computes the metadata from the same upstream table: this checks our transcription."""
    data = artifacts[mode]
    written = modelinfo.describe(data).min_runtime_version
    assert written.count(".") == 2, written
    need = needs(modelinfo.op_versions(data))  # the metadata is NOT passed
    assert need.version == written
    assert need.unknown == ()
    assert need.because is not None
    op, _, version = need.because.partition(" v")
    assert runtimes.first_runtime(op, int(version)) == written
    assert runtimes.need_of(data) == need


@pytest.mark.tf
def test_dynamic_range_dense_needs_fully_connected_v12(artifacts: dict[str, bytes]) -> None:
    """TF 2.21 writes FULLY_CONNECTED v12 for a dynamic-range Dense layer: runtime 2.17."""
    ops = modelinfo.op_versions(artifacts["dynamic"])
    assert 12 in ops["FULLY_CONNECTED"]
    assert needs(ops) == Need("2.17.0", "FULLY_CONNECTED v12", ())
    assert loads_on(needs(ops), "2.16") is False
    assert loads_on(needs(ops), "2.17") is True
