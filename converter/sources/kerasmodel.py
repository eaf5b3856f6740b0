"""Keras models (Keras 3 or tf_keras): loading ``.keras``/``.h5`` files and their loader."""

from __future__ import annotations

import functools
import sys
from typing import Any

import numpy as np

from converter.errors import SourceError
from converter.sources import discovery
from converter.sources.customobjects import explain, load_custom_objects
from converter.sources.function import function_specs
from converter.sources.loader import (
    Call,
    InputSpec,
    Loader,
    first_line,
    input_spec,
    named_outputs,
)
from converter.spec import KerasSource


def load_keras_model(source: KerasSource) -> Any:
    """The Keras model in a ``.keras``/``.h5`` file (tf_keras for legacy files), its own classes
    imported first (``converter.sources.customobjects``)."""
    if source.legacy:
        import tf_keras

        load_model = tf_keras.models.load_model
    else:
        import keras

        keras.backend.clear_session()
        load_model = keras.models.load_model
    objects = load_custom_objects(source) if source.runs_code else None
    try:
        with discovery.unrecorded():  # the model file is no file the code read
            return load_model(
                str(source.path),
                custom_objects=objects,
                compile=False,
                safe_mode=source.safe_mode,
            )
    except Exception as e:
        explained = explain(source, e)
        if explained is not None:
            raise SourceError(explained) from None
        hint = ""
        if not source.legacy and source.path.suffix.lower() != ".keras":
            hint = " (if tf_keras wrote this file, set legacy: true)"
        raise SourceError(
            f"{source.path}: cannot load the Keras model: {first_line(e)}{hint}"
        ) from None


class KerasLoader(Loader):
    """A Keras model (Keras 3 or tf_keras), from a file or an entry point: ``from_keras_model``."""

    api = "v2"
    signature = True

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def _make_converter(self) -> Any:
        import tensorflow as tf

        return tf.lite.TFLiteConverter.from_keras_model(self.model)

    def _input_specs(self) -> list[InputSpec]:
        """The model's inputs in its own order, named as ``from_keras_model``'s signature names them.

        For functional and sequential models TF names each signature input after
        the model's input tensor (``keras.Input(name=...)``, else Keras's
        ``keras_tensor_N``); for other models it traces ``model.__call__`` on the
        model's save spec, whose placeholder names (``args_0``, ``args_0_1``...)
        become the signature's.
        """
        inputs = _functional_inputs(self.model)
        if inputs is None:
            return _traced_keras_specs(self.model)
        return [input_spec(getattr(t, "name", "input"), t.shape, t.dtype) for t in inputs]

    def layer_names(self) -> frozenset[str]:
        names: set[str] = set()
        stack = list(getattr(self.model, "layers", []))
        while stack:  # nested models' layers too
            layer = stack.pop()
            names.add(layer.name)
            stack.extend(getattr(layer, "layers", []))
        return frozenset(names)

    def reference(self) -> Call:
        model = self.model
        # tf_keras signatures name list outputs after their layers; Keras 3's output_0, 1...
        layer_names = (
            list(getattr(model, "output_names", None) or []) if _is_tf_keras(model) else []
        )

        def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
            result = model(arrays if len(arrays) > 1 else arrays[0], training=False)
            if layer_names and not isinstance(result, dict):
                values = result if isinstance(result, (list, tuple)) else [result]
                if len(values) == len(layer_names):
                    return {n: np.asarray(v) for n, v in zip(layer_names, values, strict=True)}
            return named_outputs(result)

        return call


def _functional_inputs(model: Any) -> list[Any] | None:
    """``model.inputs`` where TF's converter names the signature after them, else None."""
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(model, keras.Model):
        from keras.src.models import Functional, Sequential

        return list(model.inputs) if isinstance(model, (Functional, Sequential)) else None
    return list(model.inputs) if getattr(model, "inputs", None) else None  # tf_keras


def _traced_keras_specs(model: Any) -> list[InputSpec]:
    import tensorflow as tf
    from tensorflow.lite.python.util import get_save_spec

    spec = get_save_spec(model)
    if spec is None:
        raise SourceError(
            f"{type(model).__name__}: the Keras model has never been called, so its inputs "
            "are unknown; call it once (or build it) before returning it"
        )
    # The same trace as TF's export of the model (inference mode, one positional argument).
    function = tf.function(
        functools.partial(model.__call__, training=False), input_signature=[spec], autograph=False
    ).get_concrete_function()
    return function_specs(function)


def _is_tf_keras(model: Any) -> bool:
    module = sys.modules.get("tf_keras")
    return module is not None and isinstance(model, module.Model)


def is_keras_model(value: Any) -> bool:
    """Whether ``value`` is a model of Keras 3 or of tf_keras (whichever is imported)."""
    for module_name in ("keras", "tf_keras"):
        module = sys.modules.get(module_name)
        if module is not None and isinstance(value, module.Model):
            return True
    return False
