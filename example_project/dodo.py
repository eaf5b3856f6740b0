"""example_project's build file: tflite-build's tasks plus the project's own.

The first two lines are all a monorepo needs to get `doit convert` and `doit check`.
The task_* functions below are this project's own: they produce model sources
(training, exports) and are named by manifests with `source: {task: ...}`, so
doit runs them first and a conversion sees their output.
"""

import sys
from pathlib import Path

import rules

globals().update(rules.doit_tasks(__file__))

HERE = Path(__file__).resolve().parent


def _script(folder: str, script: str, targets: list[str], doc: str) -> dict[str, object]:
    return {
        "doc": doc,
        "actions": [[sys.executable, str(HERE / folder / script)]],
        "file_dep": [str(HERE / folder / script)],
        "targets": [str(HERE / folder / t) for t in targets],
        "clean": True,
        # TensorFlow's C++ start-up lines would flood the terminal; doit shows them on failure.
        "verbosity": 0,
    }


def task_train_digits() -> dict[str, object]:
    return _script(
        "digits",
        "train.py",
        ["export/saved_model.pb", "data/calib.npz", "data/test.npz"],
        "Train the digits classifier on scikit-learn's digits and export a SavedModel",
    )


def task_mobilenet_keras() -> dict[str, object]:
    return _script(
        "mobilenet", "build.py", ["mobilenet.keras"], "Build MobileNetV2 (random weights) as .keras"
    )


def task_frozen_graph() -> dict[str, object]:
    return _script("frozen_graph", "make_graph.py", ["graph.pb"], "Write a frozen GraphDef")


def task_keras_h5() -> dict[str, object]:
    return _script("keras_h5", "make_h5.py", ["model.h5"], "Write a small Keras model as .h5")


def task_train_outlier() -> dict[str, object]:
    return _script(
        "outlier",
        "train.py",
        ["model.keras", "data/calib.npz", "data/test.npz"],
        "Train a digits MLP whose first layer int8 breaks (for keep_float: auto)",
    )


# The PyTorch and JAX models under toolchains/ build when asked (see the README); their
# training runs in the toolchain the tool makes for each (rules.in_toolchain).
TOOLCHAINS = HERE / "toolchains"


def task_train_torch_digits() -> dict[str, object]:
    folder = TOOLCHAINS / "torch_digits"
    return {
        "doc": "Train the PyTorch digits CNN (in the PyTorch toolchain)",
        "actions": [
            [sys.executable, str(folder / "prepare.py")],
            rules.in_toolchain(HERE, "pytorch", folder / "train.py"),
        ],
        "file_dep": [str(folder / name) for name in ("prepare.py", "train.py", "model.py")],
        "targets": [
            str(folder / name) for name in ("weights.pt", "data/calib.npz", "data/test.npz")
        ],
        "clean": True,
        "verbosity": 0,
    }


def task_train_jax_digits() -> dict[str, object]:
    folder = TOOLCHAINS / "jax_digits"
    return {
        "doc": "Train the JAX digits perceptron (in the JAX toolchain)",
        "actions": [rules.in_toolchain(HERE, "jax", folder / "train.py")],
        "file_dep": [str(folder / name) for name in ("train.py", "model.py")],
        "targets": [
            str(folder / name) for name in ("params.npz", "data/calib.npz", "data/test.npz")
        ],
        "clean": True,
        "verbosity": 0,
    }
