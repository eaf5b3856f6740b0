"""Python entry points as sources: calling one, and the loader for what it returns."""

from __future__ import annotations

from typing import Any

from converter.errors import SourceError
from converter.sources.function import FunctionLoader
from converter.sources.graph import SessionLoader
from converter.sources.kerasmodel import KerasLoader, is_keras_model
from converter.sources.loader import Loader, first_line
from converter.sources.precheck import load_entry, on_sys_path
from converter.spec import PythonSource


def call_entry(source: PythonSource) -> Any:
    """What the entry point returns, called with fresh Keras and graph state and a fixed seed."""
    import keras
    import tensorflow as tf

    fn = load_entry(source.entry, source.base_dir)
    # A fresh Keras state and a fixed seed: the same entry point gives the same
    # layer names and random weights on every call, in any worker.
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    tf.compat.v1.reset_default_graph()
    with on_sys_path(source.base_dir):
        try:
            return fn()
        except SourceError:
            raise
        except Exception as e:
            raise SourceError(
                f"{source.entry!r}: raised {type(e).__name__}: {first_line(e)}"
            ) from None


def from_entry(entry: str, result: Any) -> Loader:
    """The loader for what an entry point returned: a session, a Keras model or functions."""
    if _is_session_triple(result):
        session, inputs, outputs = result
        return SessionLoader(entry, session, _as_list(inputs), _as_list(outputs))
    if is_keras_model(result):
        return KerasLoader(result)
    return FunctionLoader(entry, [_concrete(entry, item) for item in _as_list(result)])


def _concrete(entry: str, item: Any) -> Any:
    import tensorflow as tf

    if isinstance(item, tf.types.experimental.ConcreteFunction):
        return item
    if hasattr(item, "get_concrete_function"):
        try:
            return item.get_concrete_function()
        except Exception as e:
            raise SourceError(
                f"{entry!r}: the tf.function needs an input_signature to be converted: "
                f"{first_line(e)}"
            ) from None
    raise SourceError(
        f"{entry!r}: returned {type(item).__name__}; expected a Keras model, a tf.function, "
        "ConcreteFunction(s), or a (tf.compat.v1.Session, inputs, outputs) triple"
    )


def _is_session_triple(result: Any) -> bool:
    import tensorflow as tf

    return (
        isinstance(result, tuple)
        and len(result) == 3
        and isinstance(result[0], tf.compat.v1.Session)
    )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]
