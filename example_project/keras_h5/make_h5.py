"""Write model.h5: a small dense Keras model in the HDF5 format."""

from __future__ import annotations

from pathlib import Path

import keras


def main() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((20,), name="features"), keras.layers.Dense(32, activation="relu"),
         keras.layers.Dense(3, activation="softmax")]
    )
    model.save(Path(__file__).resolve().parent / "model.h5")


if __name__ == "__main__":
    main()
