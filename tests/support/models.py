"""The tiny models the TensorFlow tests share: every input format, built in-process once per session.

``build_models`` and ``build_multi_models`` make them (the session fixtures in
tests/integration/conftest.py call them); ``ModelFile`` names one of them in a project's
files (``make_project``); the rest says how TF itself converts, as the oracle.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import converter

INPUT_SHAPE = (8, 8, 1)
CALIBRATION_SAMPLES = 10

ENTRIES = textwrap.dedent(
    '''
    """Python entry points used by the tests (each returns what a user's build.py would)."""
    import os
    import time

    import numpy as np


    def keras_model():
        import keras

        inputs = keras.Input((8, 8, 1), name="img")
        x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        x = keras.layers.Flatten()(x)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


    _KEEP = []  # tf.function methods hold their module weakly; keep it alive


    def tf_function():
        import tensorflow as tf

        class Scorer(tf.Module):
            def __init__(self):
                super().__init__()
                self.w = tf.Variable(tf.random.stateless_normal([64, 3], seed=[1, 2]))

            @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 1], tf.float32, name="img")])
            def serve(self, img):
                return tf.nn.softmax(tf.reshape(img, [1, 64]) @ self.w)

        _KEEP[:] = [Scorer()]
        return _KEEP[0].serve


    def session():
        import tensorflow as tf

        graph = tf.Graph()
        with graph.as_default():
            img = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 1], name="img")
            w = tf.compat.v1.get_variable(
                "w", [3, 3, 1, 4], initializer=tf.compat.v1.constant_initializer(0.1)
            )
            y = tf.nn.relu(tf.nn.conv2d(img, w, 1, "VALID"))
            out = tf.identity(tf.reduce_mean(y, [1, 2]), name="out")
            sess = tf.compat.v1.Session(graph=graph)
            sess.run(tf.compat.v1.global_variables_initializer())
        return sess, [img], [out]


    def calibration():
        rng = np.random.default_rng(7)
        for _ in range(10):
            yield [rng.random((1, 8, 8, 1), dtype=np.float32)]


    def crash():
        os.abort()


    def sleepy():
        time.sleep(60)


    def hungry():
        blocks = [np.ones(64 << 20, np.uint8) for _ in range(40)]
        time.sleep(60)
        return blocks


    def not_a_model():
        return 42


    def flex():
        """Ops with no TFLite builtin: they convert only as Select TF ops."""
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
        def f(x):
            return tf.raw_ops.Cumprod(x=x, axis=0, exclusive=True, reverse=True) + tf.math.lgamma(x)

        return f
    '''
)

LEGACY_BUILD = textwrap.dedent(
    """
    import sys
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential([
        tf_keras.layers.Input((8, 8, 1)),
        tf_keras.layers.Conv2D(4, 3, activation="relu"),
        tf_keras.layers.Flatten(),
        tf_keras.layers.Dense(3, activation="softmax"),
    ])
    model.save(sys.argv[1])
    """
)


@dataclass(frozen=True)
class Models:
    root: Path
    saved_model: Path
    keras: Path
    h5: Path
    legacy_h5: Path
    frozen_graph: Path
    tf1_saved_model: Path
    keras3_tf_saved_model: Path  # the NaN trap: tf.saved_model.save on a Keras 3 model
    entries: Path
    calibration: Path
    samples: np.ndarray


def _tiny_keras_model() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(INPUT_SHAPE, name="img")
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def _frozen_graph(model, path: Path) -> None:  # type: ignore[no-untyped-def]
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec([1, *INPUT_SHAPE], tf.float32, name="img")
    function = tf.function(lambda img: tf.identity(model(img), name="probs"))
    frozen = convert_variables_to_constants_v2(function.get_concrete_function(spec))
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())


def _tf1_saved_model(path: Path) -> None:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        img = tf.compat.v1.placeholder(tf.float32, [1, *INPUT_SHAPE], name="img")
        w = tf.compat.v1.get_variable(
            "w", [64, 3], initializer=tf.compat.v1.constant_initializer(0.05)
        )
        out = tf.nn.softmax(tf.matmul(tf.reshape(img, [1, 64]), w), name="out")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.saved_model.simple_save(sess, str(path), {"img": img}, {"out": out})


def build_models(root: Path) -> Models:
    """Every input format, written once under ``root``: the same tiny CNN where the format allows."""
    # tf_keras needs a process of its own (TF_USE_LEGACY_KERAS before TensorFlow is
    # imported): it makes its model while this process makes the others.
    legacy = subprocess.Popen(
        [sys.executable, "-c", LEGACY_BUILD, str(root / "legacy.h5")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
    )
    try:
        import tensorflow as tf

        model = _tiny_keras_model()
        model.save(root / "model.keras")
        model.save(root / "model.h5")
        model.export(str(root / "saved_model"), verbose=False)
        tf.saved_model.save(model, str(root / "keras3_tf_saved_model"))
        _frozen_graph(model, root / "frozen.pb")
        _tf1_saved_model(root / "tf1_saved_model")
    finally:
        output, _ = legacy.communicate(timeout=600)
    assert legacy.returncode == 0, output.decode(errors="replace")[-3000:]
    (root / "entries.py").write_text(ENTRIES)
    samples = np.random.default_rng(0).random((CALIBRATION_SAMPLES, *INPUT_SHAPE), np.float32)
    np.savez(root / "calibration.npz", img=samples)
    return Models(
        root=root,
        saved_model=root / "saved_model",
        keras=root / "model.keras",
        h5=root / "model.h5",
        legacy_h5=root / "legacy.h5",
        frozen_graph=root / "frozen.pb",
        tf1_saved_model=root / "tf1_saved_model",
        keras3_tf_saved_model=root / "keras3_tf_saved_model",
        entries=root / "entries.py",
        calibration=root / "calibration.npz",
        samples=samples,
    )


@dataclass(frozen=True)
class ModelFile:
    """One of the tiny models by its ``Models`` field, as a project's file: ``make_project``
    copies it in (and builds the models first if this session has not yet)."""

    field: str

    def path(self, models: Models) -> Path:
        found = getattr(models, self.field)
        assert isinstance(found, Path), self.field
        return found


class Tiny:
    """The tiny models' files, for the dicts ``make_project`` writes: ``{"sm/export": Tiny.saved_model}``."""

    saved_model = ModelFile("saved_model")
    keras = ModelFile("keras")
    h5 = ModelFile("h5")
    legacy_h5 = ModelFile("legacy_h5")
    frozen_graph = ModelFile("frozen_graph")
    entries = ModelFile("entries")
    calibration = ModelFile("calibration")


# --- multi-input, multi-output models ------------------------------------------------------

# Declared image, meta, extra; sorted extra, image, meta; TFLite orders a signature's
# input tensors extra, meta, image (tests check this, it is what makes the models useful).
MULTI_INPUTS = {"image": (12, 12, 3), "meta": (8,), "extra": (5,)}

MULTI_ENTRIES = textwrap.dedent(
    '''
    """Multi-input, multi-output entry points: the same model as a Keras model and a tf.function."""


    def keras_model():
        import keras

        image = keras.Input((12, 12, 3), name="image")
        meta = keras.Input((8,), name="meta")
        extra = keras.Input((5,), name="extra")
        x = keras.layers.Conv2D(4, 3, activation="relu")(image)
        x = keras.layers.GlobalAveragePooling2D()(x)
        joined = keras.layers.Concatenate()(
            [x, keras.layers.Dense(4)(meta), keras.layers.Dense(4)(extra)]
        )
        cls = keras.layers.Dense(3, activation="softmax", name="cls")(joined)
        box = keras.layers.Dense(2, name="box")(joined)
        return keras.Model([image, meta, extra], [cls, box])


    _KEEP = []  # tf.function methods hold their module weakly; keep it alive


    def tf_function():
        import tensorflow as tf

        class Scorer(tf.Module):
            def __init__(self):
                super().__init__()
                self.w = tf.Variable(tf.random.stateless_normal([3, 3, 3, 4], seed=[1, 2]))
                self.v = tf.Variable(tf.random.stateless_normal([17, 3], seed=[3, 4]))

            @tf.function(
                input_signature=[
                    tf.TensorSpec([1, 12, 12, 3], tf.float32, name="image"),
                    tf.TensorSpec([1, 8], tf.float32, name="meta"),
                    tf.TensorSpec([1, 5], tf.float32, name="extra"),
                ]
            )
            def serve(self, image, meta, extra):
                x = tf.reduce_mean(tf.nn.relu(tf.nn.conv2d(image, self.w, 1, "VALID")), [1, 2])
                joined = tf.concat([x, meta, extra], axis=1)
                return {"cls": tf.nn.softmax(joined @ self.v), "box": meta[:, :2] * 2.0}

        _KEEP[:] = [Scorer()]
        return _KEEP[0].serve
    '''
)


@dataclass(frozen=True)
class MultiModels:
    root: Path
    saved_model: Path
    keras: Path
    entries: Path  # multi_entries.py: keras_model, tf_function
    calibration: Path
    samples: dict[str, np.ndarray]  # by input name, samples first


def build_multi_models(root: Path) -> MultiModels:
    """A three-input, two-output model under ``root``: a SavedModel, a .keras file, entry points."""
    import keras

    entries = root / "multi_entries.py"
    entries.write_text(MULTI_ENTRIES)
    spec = importlib.util.spec_from_file_location("multi_entries", entries)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = module.keras_model()
    model.save(root / "model.keras")
    model.export(str(root / "saved_model"), verbose=False)
    rng = np.random.default_rng(3)
    samples = {
        name: rng.random((CALIBRATION_SAMPLES, *shape), np.float32)
        for name, shape in MULTI_INPUTS.items()
    }
    np.savez(root / "calibration.npz", **samples)  # type: ignore[arg-type]
    return MultiModels(
        root=root,
        saved_model=root / "saved_model",
        keras=root / "model.keras",
        entries=entries,
        calibration=root / "calibration.npz",
        samples=samples,
    )


def call_entry(path: Path, name: str) -> Any:
    """Call an entry point the way the worker does: fresh Keras state, seed 0, fresh graph."""
    import keras
    import tensorflow as tf

    spec = importlib.util.spec_from_file_location(f"oracle_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    tf.compat.v1.reset_default_graph()
    return getattr(module, name)()


INTEGER_MODES = ("int8", "int8_fallback", "int16x8")


def mode_options(mode: str, rep: converter.Representative | None) -> converter.Options:
    """Our options for each mode the conversion matrices try (rep: the calibration data)."""
    return {
        "none": converter.Options(),
        "dynamic": converter.Options(quantize="dynamic"),
        "float16": converter.Options(quantize="float16"),
        "int8": converter.Options(
            quantize="int8", representative=rep, input_type="int8", output_type="int8"
        ),
        "int8_fallback": converter.Options(
            quantize="int8", float_fallback=True, representative=rep
        ),
        "int16x8": converter.Options(quantize="int16x8", representative=rep),
    }[mode]


def tf_apply(conv: Any, mode: str, dataset: Any) -> None:
    """What a TF user writes by hand for each mode (dataset: the representative generator)."""
    import tensorflow as tf

    if mode == "none":
        return
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if mode in INTEGER_MODES:
        conv.representative_dataset = dataset
    if mode == "int8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    if mode == "int16x8":
        conv.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
