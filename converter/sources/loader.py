"""What every loader is: the ``Loader`` base, its ``InputSpec`` and the helpers all formats share.

A loader loads its source once, in the worker, and hands out on demand what a
request needs: a conversion takes TF's converter (and the input specs when it
calibrates), a reference run takes the model as a function of its inputs (and
the same specs, to match the given arrays to them). The input specs are stated
by the loaders and nowhere else: names as the converted model knows them, in the
order calibration samples follow (a signature's sorted by name, a Keras model's
as declared, a function's by argument, a TF1 graph's as its converter holds its
tensors), with shapes and dtypes, all through one normalisation (``input_spec``).

Three families: TF2 SavedModels and Keras models have a signature (inputs by
signature name), bare ConcreteFunctions do not (inputs by placeholder name, in
argument order), and TF1 graphs (frozen graphs, TF1 SavedModels, sessions) are
read from the TF1 converter's input tensors and run in a session. Each format's
loader has its own module; ``converter.sources.dispatch`` picks one for a source.
TensorFlow is imported inside functions, so importing a loader module never
imports it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from converter.errors import OptionsError, brief, hint_for
from converter.spec import ConverterApi

# The model as a function: arrays in input-spec order in, outputs by TFLite name out.
Call = Callable[[list[np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class InputSpec:
    """One model input as the converter sees it; ``None`` in ``shape`` is a free dimension.

    ``name`` is the input's name in the converted model: its signature's input
    name when the model has a signature (the key TF's calibrator looks up in a
    sample dict), else the input tensor's own name.
    """

    name: str
    shape: tuple[int | None, ...] | None
    dtype: str


def input_spec(name: str, shape: Any, dtype: Any) -> InputSpec:
    """The one normalisation of every format's inputs.

    Tensor names lose the ``:0`` of a first output, as TF's converter names its
    inputs (``img:0`` -> ``img``, ``split:1`` stays); shapes become tuples
    (``None`` for an unknown rank); dtypes are numpy's names, from TF dtypes and
    Keras 3's dtype strings alike.
    """
    import tensorflow as tf

    known = getattr(shape, "rank", 0) is not None  # Keras 3 shapes are plain tuples
    return InputSpec(
        name.removesuffix(":0"),
        tuple(None if d is None else int(d) for d in shape) if known else None,
        tf.as_dtype(dtype).as_numpy_dtype.__name__,
    )


class Loader(abc.ABC):
    """A source model loaded in the worker; ``close`` releases what it holds (a session)."""

    api: ClassVar[ConverterApi]
    # True when the converted model has one signature: TF's calibrator then takes
    # each sample as a dict keyed by signature input name, since a list must be in
    # the TFLite model's own tensor order, which nobody knows before converting.
    # Models without one (TF1 converter, bare ConcreteFunctions) take a list in
    # input_specs order, which is their tensor order.
    signature: ClassVar[bool] = False

    def __init__(self) -> None:
        self._converter: Any = None
        self._specs: list[InputSpec] | None = None

    def converter(self) -> Any:
        """TF's converter for the model, made by TF's own API on first use (no options set)."""
        if self._converter is None:
            self._converter = self._make_converter()
        return self._converter

    def input_specs(self) -> list[InputSpec]:
        """The model's inputs, in the order a list sample follows (worked out once, before converting)."""
        if self._specs is None:
            self._specs = self._input_specs()
        return self._specs

    def converted_signatures(self) -> tuple[str, ...]:
        """The signature keys a conversion keeps, for models of several (else empty)."""
        return ()

    def signature_specs(self, key: str) -> list[InputSpec]:
        """The inputs of the converted signature ``key``, by name (models of several signatures).

        Raises OptionsError for a loader whose models have one signature at most.
        """
        raise OptionsError(
            f"representative signatures: {key!r}: only a SavedModel converted with several "
            "signature_keys is calibrated per signature; give data or python instead"
        )

    @abc.abstractmethod
    def reference(self) -> Call:
        """The model run in TensorFlow: arrays in ``input_specs`` order to outputs by name.

        Outputs carry the names the converted model gives them (its signature's,
        else its tensors'), so a report matches them to the interpreter's by name.
        """

    def close(self) -> None:  # noqa: B027 (nothing to release but a TF1 graph's session)
        """Release what the model holds."""

    def layer_names(self) -> frozenset[str]:
        """The names its author gave the model's layers (a Keras model's), to name TFLite ops by."""
        return frozenset()

    @abc.abstractmethod
    def _make_converter(self) -> Any: ...

    @abc.abstractmethod
    def _input_specs(self) -> list[InputSpec]: ...


def first_line(error: BaseException) -> str:
    """An exception TF raised while loading, in one line, with our hint when one fits."""
    return brief(error) + hint_for(str(error))


def named_outputs(result: Any) -> dict[str, np.ndarray]:
    """Keras and tf.function results as TFLite names them: dict keys, else output_0, output_1..."""
    if isinstance(result, dict):
        return {name: np.asarray(result[name]) for name in sorted(result)}
    if isinstance(result, (list, tuple)):
        return {f"output_{i}": np.asarray(value) for i, value in enumerate(result)}
    return {"output_0": np.asarray(result)}


def plain_name(name: str) -> str:
    """A tensor's name as people write it: ``serving_default_img:0`` -> ``img``."""
    return name.split(":")[0].removeprefix("serving_default_")
