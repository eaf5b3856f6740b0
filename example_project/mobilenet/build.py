"""MobileNetV2 (alpha 0.35, 96x96 RGB, random weights): `make_model` builds it, running this saves it."""

from __future__ import annotations

from pathlib import Path

import keras


def make_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10
    )


if __name__ == "__main__":
    make_model().save(Path(__file__).resolve().parent / "mobilenet.keras")
