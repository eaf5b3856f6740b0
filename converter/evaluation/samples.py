"""Inputs for a model without evaluate data: seeded samples of each input's kind, and one signature's share of the data.

A report compares a variant with its source on the ``evaluate`` data, or else on
seeded samples that any model accepts: real values in [0, 1) for float inputs
and quantized ones; booleans at random; and for integer inputs (token ids,
positions, categories, segment ids) integers in ``[0, INTEGER_BOUND)``, which
every lookup table of two or more rows holds: the vocabulary is not known here,
and an id past its end fails in TensorFlow and in the interpreter alike. No
sample can stand in for a string: such an input needs evaluate data
(``MissingData`` says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from converter.errors import ConverterError

SEED = 0
GENERATED_SAMPLES = 64
# Integer inputs are sampled below this: 0 and 1 are in every table of two rows or more
# (a transformer's segment ids have exactly two).
INTEGER_BOUND = 2


class MissingData(ConverterError, ValueError):
    """An input only evaluate data can feed (a string), or evaluate data without an array for one.

    A ConverterError, so that the worker (the keep-float search) reports it as a sentence.
    """


def real_valued(detail: Mapping[str, Any]) -> bool:
    """Whether an interpreter input takes real values: a float, or an integer quantized with a scale."""
    dtype = np.dtype(detail["dtype"])
    scale = detail["quantization"][0]
    return dtype.kind == "f" or (dtype.kind in "iu" and bool(scale))


def generated(
    names: Sequence[str], details: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, np.ndarray], str]:
    """Seeded samples for each input (by name, ``details`` as the interpreter gives them), and what they are.

    Real-valued inputs draw from the generator as they always have, so a float
    model's samples stay the same bytes. Raises MissingData for a string input.
    """
    rng = np.random.default_rng(SEED)
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, list[str]] = {}
    for name, detail in zip(names, details, strict=True):
        shape = (GENERATED_SAMPLES, *[d if d > 0 else 1 for d in detail["shape_signature"][1:]])
        dtype = np.dtype(detail["dtype"])
        if real_valued(detail):
            arrays[name], kind = rng.random(shape, dtype=np.float32), "in [0, 1)"
        elif dtype.kind == "b":
            arrays[name], kind = rng.random(shape) < 0.5, "true or false"
        elif dtype.kind in "iu":
            arrays[name] = rng.integers(0, INTEGER_BOUND, shape, dtype=dtype)
            kind = f"integers in [0, {INTEGER_BOUND})"
        else:
            raise MissingData(
                f"input {name!r} takes strings, which no generated sample can stand in for: "
                f"give it evaluate data (evaluate: {{data: file.npz}} with an array named {name!r})"
            )
        kinds.setdefault(kind, []).append(name)
    origin = f"no evaluate data: {GENERATED_SAMPLES} seeded samples"
    if list(kinds) == ["in [0, 1)"]:
        return arrays, f"{origin} in [0, 1)"
    parts = []
    for kind, inputs in kinds.items():
        part = f"{kind} for {', '.join(inputs)}"
        if kind.startswith("integers"):
            part += (
                " (ids every lookup table of two rows or more holds; evaluate data gives real ones)"
            )
        parts.append(part)
    return arrays, f"{origin}: " + "; ".join(parts)


def for_signature(
    arrays: Mapping[str, np.ndarray], signature: str, inputs: Sequence[str], primary: bool
) -> dict[str, np.ndarray]:
    """The evaluate data one of several signatures takes, keyed by its input names (and ``labels``).

    Each input's array is ``<signature>/<input>``, else ``<input>`` (shared by
    every signature with an input of that name); labels are
    ``<signature>/labels``, else ``labels`` for the primary signature only.
    Matched by name alone: with several signatures, position means nothing.
    """
    chosen: dict[str, np.ndarray] = {}
    for name in [*inputs, "labels"]:
        own = f"{signature}/{name}"
        if own in arrays:
            chosen[name] = arrays[own]
        elif name in arrays and (name != "labels" or primary):
            chosen[name] = arrays[name]
        elif name != "labels":
            raise MissingData(
                f"the evaluate data has no array for input {name!r} of signature {signature!r}: "
                f"name it {own!r}, or {name!r} for every signature with that input"
            )
    return chosen
