"""Write scikit-learn's bundled 8x8 digits as arrays the PyTorch training reads (the project's
environment has scikit-learn; the PyTorch toolchain does not).

Writes, next to this file:
  data/train.npz   training images "x" (n, 1, 8, 8) in [0, 1] and labels "y"
  data/calib.npz   200 training images for int8 calibration, keyed "args_0" as the
                   converted model names its input
  data/test.npz    the held-out images ("args_0") and their "labels"
The split is the digits model's (same seed), in PyTorch's channels-first layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent


def main() -> None:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (n, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    np.savez(data / "train.npz", x=x_train, y=y_train)
    np.savez(data / "calib.npz", args_0=x_train[:200])
    np.savez(data / "test.npz", args_0=x_test, labels=y_test)


if __name__ == "__main__":
    main()
