"""Train a digits classifier that plain int8 quantization breaks, and save it as .keras.

The network is a small MLP on scikit-learn's bundled 8x8 digits. After training,
the first layer's weights from pixel 0 are set to 1000. Pixel 0 is blank in
every image, so the float model does not change at all. But int8 quantizes a
layer's weights per output unit, with one scale for each unit's whole column,
and that scale now has to reach 1000: every real weight rounds to zero. That
one layer breaks int8; keeping it in float repairs the model.

Writes, next to this file:
  model.keras      the model
  data/calib.npz   200 training images for int8 calibration ("pixels")
  data/test.npz    the held-out images ("pixels") and their "labels"
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
OUTLIER = 1000.0


def main() -> None:
    keras.utils.set_random_seed(0)
    digits = load_digits()
    pixels = (digits.data / 16.0).astype(np.float32)  # (n, 64) in [0, 1]
    assert not pixels[:, 0].any(), "pixel 0 is blank in every image"
    x_train, x_test, y_train, y_test = train_test_split(
        pixels, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    inputs = keras.Input((64,), name="pixels")
    x = keras.layers.Dense(128, activation="relu", name="features")(inputs)
    x = keras.layers.Dense(256, activation="relu", name="body")(x)
    x = keras.layers.Dense(256, activation="relu", name="head")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="outlier")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)

    kernel, bias = model.get_layer("features").get_weights()
    kernel[0, :] = OUTLIER  # on the blank pixel: the float model is unchanged
    model.get_layer("features").set_weights([kernel, bias])
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"outlier: test accuracy {accuracy:.3f} on {len(x_test)} images")

    (HERE / "data").mkdir(exist_ok=True)
    np.savez(HERE / "data" / "calib.npz", pixels=x_train[:200])
    np.savez(HERE / "data" / "test.npz", pixels=x_test, labels=y_test.astype(np.int64))
    model.save(HERE / "model.keras")


if __name__ == "__main__":
    main()
