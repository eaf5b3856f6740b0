"""What one request may leave behind in a warm worker, put back before the next.

A worker serves many builds, and the warm service many projects, yet each
request must convert exactly as in a fresh process. So the state that user code
(an entry point, a calibration generator) can change is restored after every
request: the working directory and ``sys.path``; the environment, when user
code changed it; every module imported from user code (one project's
``helpers`` must not shadow another's); the Keras objects those modules
registered; Keras's global settings; and Keras's session, whose layer-name
counters would otherwise change the bytes of the next model.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from converter.sources import discovery

# The registries ``register_keras_serializable`` writes to (Keras 3, then tf_keras):
# module -> (name -> object dict, object -> name dict).
_REGISTRIES = {
    "keras.src.saving.object_registration": ("GLOBAL_CUSTOM_OBJECTS", "GLOBAL_CUSTOM_NAMES"),
    "tf_keras.src.saving.object_registration": ("_GLOBAL_CUSTOM_OBJECTS", "_GLOBAL_CUSTOM_NAMES"),
}


@dataclass(frozen=True)
class Baseline:
    """The worker's state before any request: what each request is returned to."""

    keras_settings: dict[str, Any] = field(default_factory=dict)


def baseline() -> Baseline:
    """Taken once, after the worker imported TensorFlow (and with it Keras and its keras.json)."""
    return Baseline(_keras_settings())


@contextlib.contextmanager
def request_scope(cwd: str | None) -> Iterator[None]:
    """Run a request from the caller's directory, then put the process back as it was.

    Only the cheap part runs here; ``clean_up`` does the rest after the answer is sent.
    """
    saved_path, saved_cwd = list(sys.path), os.getcwd()
    saved_env = dict(os.environ)
    if cwd is not None:
        with contextlib.suppress(OSError):
            os.chdir(cwd)
    try:
        yield
    finally:
        sys.path[:] = saved_path
        with contextlib.suppress(OSError):
            os.chdir(saved_cwd)
        if dict(os.environ) != saved_env:  # rare: only when user code set a variable
            os.environ.clear()
            os.environ.update(saved_env)


def clean_up(base: Baseline) -> None:
    """Forget user code and Keras state (after a request, while the caller reads its answer).

    Cheap (a few milliseconds): the garbage collection that frees what a
    conversion left is ``collect_garbage``'s, which the worker runs when idle.
    """
    discovery.forget_user_modules()
    _forget_registrations()
    _restore_keras_settings(base.keras_settings)
    for name in ("keras", "tf_keras"):
        module = sys.modules.get(name)
        if module is not None:
            with contextlib.suppress(Exception):
                _clear_session(module)
    importlib.invalidate_caches()  # a file written since is found on the next import


def _clear_session(keras: Any) -> None:
    """Reset Keras's graph and layer-name counters, without its gc.collect() (0.2 s)."""
    try:
        keras.backend.clear_session(free_memory=False)  # Keras 3
    except TypeError:  # tf_keras: no such argument, and no collection either
        keras.backend.clear_session()


def collect_garbage() -> None:
    """Free the cycles a conversion left (0.2 s with TensorFlow loaded)."""
    gc.collect()


def _forget_registrations() -> None:
    """Drop the custom Keras objects registered by user code.

    Only objects from the environment's loaded modules stay: an entry point's
    own module was never kept in ``sys.modules``, and its helpers were just forgotten.
    """
    roots = discovery.environment_roots()

    def from_user_code(obj: object) -> bool:
        module = sys.modules.get(getattr(obj, "__module__", None) or "")
        return module is None or discovery.is_user_module(module, roots)

    for module_name, (by_name_attr, by_object_attr) in _REGISTRIES.items():
        registry = sys.modules.get(module_name)
        if registry is None:
            continue
        by_name = getattr(registry, by_name_attr, {})
        by_object = getattr(registry, by_object_attr, {})
        for name, obj in list(by_name.items()):
            if from_user_code(obj):
                del by_name[name]
        for obj in list(by_object):
            if from_user_code(obj):
                del by_object[obj]


def _keras_settings() -> dict[str, Any]:
    keras = sys.modules.get("keras")
    if keras is None:
        return {}
    try:
        config = keras.config
        return {
            "floatx": config.floatx(),
            "epsilon": config.epsilon(),
            "image_data_format": config.image_data_format(),
            "dtype_policy": config.dtype_policy().name,
        }
    except Exception:  # another Keras than the one we know: nothing to restore
        return {}


def _restore_keras_settings(settings: dict[str, Any]) -> None:
    if not settings or _keras_settings() == settings:
        return
    config = sys.modules["keras"].config
    config.set_floatx(settings["floatx"])
    config.set_epsilon(settings["epsilon"])
    config.set_image_data_format(settings["image_data_format"])
    config.set_dtype_policy(settings["dtype_policy"])
