"""The JAX digits classifier: a two-layer perceptron, and the entry its manifest names.

``make()`` returns the prediction function with the trained parameters (params.npz,
from train.py) closed over, and an example input: one 8x8 image, flattened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

PARAMS = Path(__file__).resolve().parent / "params.npz"


def predict(params: dict[str, Any], image: jax.Array) -> jax.Array:
    hidden = jax.nn.relu(image @ params["w1"] + params["b1"])
    return jax.nn.softmax(hidden @ params["w2"] + params["b2"], axis=-1)


def make() -> tuple[Any, tuple[np.ndarray, ...]]:
    with np.load(PARAMS) as data:
        params = {name: jnp.asarray(data[name]) for name in data.files}
    return (lambda image: predict(params, image)), (np.zeros((1, 64), np.float32),)
