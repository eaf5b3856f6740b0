"""Train the JAX digits classifier (model.py) on scikit-learn's digits; runs in the JAX toolchain.

The JAX toolchain sees the project's environment beneath its own jax, so scikit-learn's
bundled digits load here as in any of the project's scripts. Writes, next to this file:
  params.npz       the trained parameters
  data/calib.npz   200 training images for int8 calibration, keyed "args_0" as the
                   converted model names its input
  data/test.npz    the held-out images ("args_0") and their "labels"
A few seconds on a laptop CPU; the seed makes it repeatable.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from model import PARAMS, predict
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent


def main() -> None:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32).reshape(-1, 64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    first, second = jax.random.split(jax.random.PRNGKey(0))
    params = {
        "w1": jax.random.normal(first, (64, 32)) * 0.1,
        "b1": jnp.zeros(32),
        "w2": jax.random.normal(second, (32, 10)) * 0.1,
        "b2": jnp.zeros(10),
    }

    def loss(p: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
        chosen = jnp.take_along_axis(predict(p, x), y[:, None], axis=1)
        return -jnp.mean(jnp.log(chosen + 1e-9))

    @jax.jit
    def step(p: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        grads = jax.grad(loss)(p, x, y)
        return {name: p[name] - 0.5 * grads[name] for name in p}

    for _ in range(300):  # full-batch gradient descent: small data, plain steps
        params = step(params, x_train, y_train)
    accuracy = float(jnp.mean(jnp.argmax(predict(params, x_test), -1) == y_test))
    print(f"jax_digits: test accuracy {accuracy:.3f} on {len(x_test)} images")
    np.savez(PARAMS, **{name: np.asarray(value) for name, value in params.items()})
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    np.savez(data / "calib.npz", args_0=x_train[:200])
    np.savez(data / "test.npz", args_0=x_test, labels=y_test)


if __name__ == "__main__":
    main()
