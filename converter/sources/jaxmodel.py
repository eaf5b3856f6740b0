"""JAX sources: ``make()`` returns ``(function, example_args)``; jax2tf, then TensorFlow's converter.

Runs in the JAX toolchain's worker, whose environment adds jax to the project's
own (TensorFlow included: ``converter.toolchains``). The function becomes a
``tf.function`` through jax2tf, with one input per example argument named
``args_0``, ``args_1``... as litert-torch names a PyTorch model's, so
calibration and evaluate data are keyed alike for both. It is saved as a
SavedModel with a ``serving_default`` signature and converted from there
(converting the concrete function directly loses the signature), so every
option of TensorFlow's converter applies. The accuracy reference is the JAX
function itself, run by JAX on the same inputs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import SourceError, brief
from converter.sources.loader import Call, named_outputs
from converter.sources.precheck import made_pair
from converter.sources.savedmodel import SavedModelLoader
from converter.spec import JaxSource, SavedModelSource


def load(source: JaxSource) -> tuple[Any, tuple[np.ndarray, ...]]:
    """The function and its example arguments (as numpy arrays), from the entry point."""
    function, args = made_pair(
        source.entry,
        source.base_dir,
        callable,
        "(function, example_args): a traceable function with its parameters closed over and "
        "a tuple of example arrays",
    )
    if not isinstance(args, (tuple, list)):
        args = (args,)
    try:
        arrays = tuple(np.asarray(a) for a in args)
    except Exception as e:
        raise SourceError(
            f"{source.entry!r}: the example arguments must be arrays: {brief(e)}"
        ) from None
    return function, arrays


class JaxLoader(SavedModelLoader):
    """The function saved as a SavedModel (in a folder of its own, removed on close)."""

    def __init__(self, source: JaxSource) -> None:
        self.jax_source = source
        self.function, self.args = load(source)
        self._folder = Path(tempfile.mkdtemp(prefix="tflite-build-jax-"))
        try:
            _save(self.function, self.args, self._folder / "saved_model", source.entry)
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        super().__init__(SavedModelSource(self._folder / "saved_model"))

    def reference(self) -> Call:
        """The JAX function itself, on arrays in ``args_0``, ``args_1``... order."""
        import jax

        function = jax.jit(self.function)
        dtypes = [a.dtype for a in self.args]

        def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
            given = [a.astype(d, copy=False) for a, d in zip(arrays, dtypes, strict=True)]
            return named_outputs(jax.device_get(function(*given)))

        return call

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._folder, ignore_errors=True)


def _save(function: Any, args: tuple[np.ndarray, ...], folder: Path, entry: str) -> None:
    import tensorflow as tf
    from jax.experimental import jax2tf

    signature = [tf.TensorSpec(a.shape, a.dtype, name=f"args_{i}") for i, a in enumerate(args)]
    try:
        traced = tf.function(
            jax2tf.convert(function, with_gradient=False),
            autograph=False,
            input_signature=signature,
        )
        holder = tf.Module()
        holder.function = traced
        tf.saved_model.save(
            holder, str(folder), signatures={"serving_default": traced.get_concrete_function()}
        )
    except Exception as e:
        raise SourceError(f"{entry!r}: jax2tf could not trace the function: {brief(e)}") from None
