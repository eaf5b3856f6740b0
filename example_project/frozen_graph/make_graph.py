"""Write graph.pb: a small classifier frozen into a TF1 GraphDef (weights as constants)."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2


def main() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
         keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")]
    )
    spec = tf.TensorSpec([1, 28, 28, 1], tf.float32, name="image")
    serve = tf.function(lambda image: tf.identity(model(image), name="probs"))
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function(spec))
    graph = frozen.graph.as_graph_def().SerializeToString()
    (Path(__file__).resolve().parent / "graph.pb").write_bytes(graph)


if __name__ == "__main__":
    main()
