"""Calibration samples: loaded from .npz/.npy or a Python generator, checked against the model's inputs.

TF's own errors for a bad representative dataset come from deep inside the
calibrator; here every sample is checked first and a mismatch is named in one
sentence (which input, which sample, expected against got). Samples are held in
input-spec order and handed to TF keyed by input name when the model has a
signature: TF's calibrator takes a list only in the TFLite model's own tensor
order, which differs from both the declared and the sorted order of the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import OptionsError
from converter.sources.loader import InputSpec
from converter.sources.precheck import load_entry
from converter.spec import Representative

LABELS_KEY = "labels"  # evaluation files keep their labels here; never an input

# What TF's representative_dataset yields: a dict by signature input name, or a list
# in the model's tensor order (TF reads a tuple as (signature key, dict): never one).
Sample = dict[str, np.ndarray] | list[np.ndarray]


def load_samples(rep: Representative, specs: list[InputSpec]) -> list[list[np.ndarray]]:
    """The calibration samples in input order, each with a leading batch axis of 1."""
    if rep.data is not None:
        where = str(rep.data)
        arrays = _arrays_from_file(rep.data)
        samples = _split_arrays(where, arrays, specs, rep.samples)
    else:
        assert rep.python is not None
        where = rep.python
        fn = load_entry(rep.python, rep.base_dir)
        try:
            produced = fn()
            items = list(islice(_iterate(where, produced), rep.samples))
        except OptionsError:
            raise
        except Exception as e:
            raise OptionsError(f"representative {where}: raised {type(e).__name__}: {e}") from None
        samples = [_normalize(where, i, item, specs) for i, item in enumerate(items)]
    if not samples:
        raise OptionsError(f"representative {where}: has no samples")
    for i, sample in enumerate(samples):
        for spec, array in zip(specs, sample, strict=True):
            _check(where, i, spec, array)
    return samples


def dataset(
    samples: list[list[np.ndarray]], specs: list[InputSpec], by_name: bool
) -> Callable[[], Iterator[Sample]]:
    """The converter's ``representative_dataset`` for samples in ``specs`` order.

    ``by_name`` for a model with a signature (``Loader.signature``): each sample
    becomes a dict keyed by the specs' names, which are the signature's input names.
    """
    names = [spec.name for spec in specs]
    feed: list[Sample] = (
        [dict(zip(names, sample, strict=True)) for sample in samples]
        if by_name
        else [list(sample) for sample in samples]
    )
    return lambda: iter(feed)


def signatures_dataset(
    parts: Mapping[str, tuple[Representative, list[InputSpec]]],
) -> Callable[[], Iterator[tuple[str, dict[str, np.ndarray]]]]:
    """The converter's ``representative_dataset`` for a model of several signatures.

    ``parts``: each signature key's samples and its inputs. Every sample is
    loaded and checked first; TF is then fed ``(signature key, inputs by name)``
    tuples, each signature's samples in turn, in key order.
    """
    feed: list[tuple[str, dict[str, np.ndarray]]] = []
    for key in sorted(parts):
        rep, specs = parts[key]
        names = [spec.name for spec in specs]
        try:
            samples = load_samples(rep, specs)
        except OptionsError as e:
            raise OptionsError(f"signature {key!r}: {e}") from None
        feed += [(key, dict(zip(names, sample, strict=True))) for sample in samples]
    return lambda: iter(feed)


def _arrays_from_file(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise OptionsError(f"representative data {path}: no such file")
    try:
        if path.suffix == ".npy":
            return {"": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files if key != LABELS_KEY}
    except (OSError, ValueError) as e:
        raise OptionsError(
            f"representative data {path}: not a readable .npz/.npy file ({e})"
        ) from None


def _split_arrays(
    where: str, arrays: dict[str, np.ndarray], specs: list[InputSpec], limit: int | None
) -> list[list[np.ndarray]]:
    names = [spec.name for spec in specs]
    if len(specs) == 1 and len(arrays) == 1:
        ordered = list(arrays.values())  # one input, one array: the key need not match
    else:
        missing = [n for n in names if n not in arrays]
        extra = sorted(set(arrays) - set(names))
        if missing or extra:
            raise OptionsError(
                f"representative data {where}: arrays must be keyed by the model's input names "
                f"({', '.join(names)}); missing {', '.join(missing) or 'none'}, "
                f"unexpected {', '.join(extra) or 'none'}"
            )
        ordered = [arrays[n] for n in names]
    counts = {len(a) if a.ndim else 0 for a in ordered}
    if len(counts) != 1:
        raise OptionsError(
            f"representative data {where}: the arrays hold different numbers of samples "
            f"({', '.join(str(c) for c in sorted(counts))})"
        )
    available = counts.pop()
    if limit is not None and limit > available:
        raise OptionsError(
            f"representative data {where}: asks for {limit} samples but the file has {available}"
        )
    count = available if limit is None else limit
    return [[a[i : i + 1] for a in ordered] for i in range(count)]


def _iterate(where: str, produced: Any) -> Iterable[Any]:
    if isinstance(produced, (np.ndarray, Mapping)) or not isinstance(produced, Iterable):
        raise OptionsError(
            f"representative {where}: must return an iterable of samples; "
            f"got {type(produced).__name__}"
        )
    return produced


def _normalize(where: str, index: int, item: Any, specs: list[InputSpec]) -> list[np.ndarray]:
    if isinstance(item, Mapping):
        names = [s.name for s in specs]
        missing = [n for n in names if n not in item]
        extra = sorted(str(k) for k in item if k not in names)
        if missing or extra:
            raise OptionsError(
                f"representative {where}: sample {index} must be keyed by the model's input "
                f"names ({', '.join(names)}); missing {', '.join(missing) or 'none'}, "
                f"unexpected {', '.join(extra) or 'none'}"
            )
        return [np.asarray(item[n]) for n in names]
    values = list(item) if isinstance(item, (list, tuple)) else [item]
    if len(values) != len(specs):
        raise OptionsError(
            f"representative {where}: sample {index} has {len(values)} arrays; "
            f"the model has {len(specs)} inputs, in this order: {', '.join(s.name for s in specs)}"
        )
    return [np.asarray(v) for v in values]


def _check(where: str, index: int, spec: InputSpec, array: np.ndarray) -> None:
    label = f"representative data {where}: input {spec.name!r}, sample {index}"
    if array.dtype.name != spec.dtype:
        raise OptionsError(
            f"{label}: dtype {array.dtype.name}, the model expects {spec.dtype}"
            + (" (convert with .astype(np.float32))" if spec.dtype == "float32" else "")
        )
    if spec.shape is None:
        return
    fits = len(array.shape) == len(spec.shape) and all(
        want is None or want == got for want, got in zip(spec.shape, array.shape, strict=True)
    )
    if not fits:
        expected = "(" + ", ".join("None" if d is None else str(d) for d in spec.shape) + ")"
        raise OptionsError(
            f"{label}: shape {tuple(array.shape)}, the model expects {expected} "
            "(the first axis of a data file indexes samples)"
        )
