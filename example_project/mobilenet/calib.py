"""Calibration samples for MobileNetV2: seeded images in the [-1, 1] range its preprocessing gives."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def samples() -> Iterator[list[np.ndarray]]:
    rng = np.random.default_rng(0)
    while True:
        yield [rng.uniform(-1, 1, (1, 96, 96, 3)).astype(np.float32)]
