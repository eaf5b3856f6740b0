"""Train a small digits classifier on scikit-learn's bundled 8x8 digits and export it.

Writes, next to this file:
  export/          the SavedModel (model.export, the Keras 3 way that converts correctly)
  data/calib.npz   200 training images for int8 calibration ("img")
  data/test.npz    the held-out images ("img") and their "labels"
Runs in a few seconds on a laptop CPU; the seed makes it repeatable.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent


def main() -> None:
    keras.utils.set_random_seed(0)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]  # (n, 8, 8, 1) in [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    inputs = keras.Input((8, 8, 1), name="img")
    x = keras.layers.Conv2D(16, 3, activation="relu", padding="same")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="digits")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=30, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"digits: test accuracy {accuracy:.3f} on {len(x_test)} images")

    (HERE / "data").mkdir(exist_ok=True)
    np.savez(HERE / "data" / "calib.npz", img=x_train[:200])
    np.savez(HERE / "data" / "test.npz", img=x_test, labels=y_test.astype(np.int64))
    model.export(str(HERE / "export"), verbose=False)


if __name__ == "__main__":
    main()
