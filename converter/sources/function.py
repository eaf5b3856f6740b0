"""tf.functions and ConcreteFunctions from an entry point: their loader and their input specs."""

from __future__ import annotations

from typing import Any

import numpy as np

from converter.errors import SourceError
from converter.sources.loader import (
    Call,
    InputSpec,
    Loader,
    input_spec,
    named_outputs,
    plain_name,
)


class FunctionLoader(Loader):
    """tf.functions and ConcreteFunctions from an entry point: ``from_concrete_functions``.

    No trackable object is passed: TF then freezes the variables itself (passing
    a Keras 3 model as the trackable leaves unfrozen resource variables, NaN
    outputs). The model has no signature: its inputs are the function's
    placeholders, in the function's order, named after them (a TensorSpec's
    name, else the argument's).
    """

    api = "v2"

    def __init__(self, entry: str, functions: list[Any]) -> None:
        super().__init__()
        self.entry = entry
        self.functions = functions

    def _make_converter(self) -> Any:
        import tensorflow as tf

        return tf.lite.TFLiteConverter.from_concrete_functions(self.functions)

    def _function(self, several: str) -> Any:
        if len(self.functions) != 1:
            raise SourceError(f"{self.entry!r}: {several}")
        return self.functions[0]

    def _input_specs(self) -> list[InputSpec]:
        return function_specs(
            self._function("representative data for several functions at once is not supported")
        )

    def reference(self) -> Call:
        import tensorflow as tf

        function = self._function(
            "an accuracy reference for several functions at once is not supported"
        )
        structure = function.structured_input_signature
        # Converted without a signature, the model's outputs are the function's own
        # output tensors (Identity, Identity_1...), in its flattened output order.
        output_names = [plain_name(t.name) for t in function.outputs]

        def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
            given = iter(arrays)
            leaves = [
                tf.constant(next(given)) if isinstance(leaf, tf.TensorSpec) else leaf
                for leaf in tf.nest.flatten(structure)
            ]
            args, kwargs = tf.nest.pack_sequence_as(structure, leaves)
            result = function(*args, **kwargs)
            values = tf.nest.flatten(result)
            if len(values) == len(output_names):
                return {n: np.asarray(v) for n, v in zip(output_names, values, strict=True)}
            return named_outputs(result)

        return call


def function_specs(function: Any) -> list[InputSpec]:
    """A ConcreteFunction's arguments, flattened, by placeholder name (captures left out).

    The placeholder is named after the argument's TensorSpec, else the argument
    (``args_0_1`` style for nested unnamed ones); TF names signature inputs, and
    the inputs of a model converted without one, after it.
    """
    import tensorflow as tf

    count = sum(
        isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(function.structured_input_signature)
    )
    # Arguments come first, captures after.
    return [input_spec(t.name, t.shape, t.dtype) for t in function.inputs[:count]]
