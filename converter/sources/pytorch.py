"""PyTorch sources: ``make()`` returns ``(module, example_args)``; litert-torch converts them.

Runs in the PyTorch toolchain's worker only (``converter.toolchains``), where torch
and litert-torch are installed and TensorFlow is not. litert-torch names tensors
after the module's class and its Python module, so the entry's file is loaded
under a stable name (its stem): the same source gives the same bytes in any
worker, on any build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from converter.errors import ConversionError, SourceError, brief
from converter.sources.precheck import made_pair
from converter.spec import PyTorchSource

SEED = 0


# What litert-torch's errors mean, for the failures users meet (its own words -> ours).
HINTS = (
    (
        "complex<",
        "; LiteRT has no complex tensors: compute it with real arithmetic inside the model "
        "(torch.stft: a Conv1d with fixed cosine and sine kernels), or outside it",
    ),
    (
        "target meta.",
        "; a submodule named 'meta' collides with the exported graph's own 'meta' "
        "attribute: rename the submodule",
    ),
)


def _hint(said: str) -> str:
    return next((hint for words, hint in HINTS if words in said), "")


def input_names(args: tuple[Any, ...]) -> list[str]:
    """The converted model's input names: litert-torch names them by position."""
    return [f"args_{i}" for i in range(len(args))]


def caller(
    module: Any, args: tuple[Any, ...]
) -> Callable[[list[np.ndarray]], dict[str, np.ndarray]]:
    """A function from arrays (in ``args`` order) to the module's outputs, named as the
    converted model names them: a dict's keys, else ``output_0``, ``output_1``..."""
    import torch

    dtypes = [a.dtype for a in args]

    def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        tensors = [
            torch.from_numpy(np.ascontiguousarray(a)).to(d)
            for a, d in zip(arrays, dtypes, strict=True)
        ]
        with torch.no_grad():
            produced = module(*tensors)
        if isinstance(produced, Mapping):
            return {str(k): v.detach().numpy() for k, v in produced.items()}
        if isinstance(produced, torch.Tensor):
            produced = (produced,)
        return {f"output_{i}": v.detach().numpy() for i, v in enumerate(produced)}

    return call


def load(source: PyTorchSource) -> tuple[Any, tuple[Any, ...]]:
    """The module (in eval mode) and its example arguments, from the entry point."""
    import torch

    torch.manual_seed(SEED)  # random weights the same on every call, in any worker
    module, args = made_pair(
        source.entry,
        source.base_dir,
        lambda model: isinstance(model, torch.nn.Module),
        "(module, example_args): a torch.nn.Module and a tuple of example tensors",
    )
    if isinstance(args, torch.Tensor):
        args = (args,)
    if not (isinstance(args, tuple) and all(isinstance(a, torch.Tensor) for a in args)):
        raise SourceError(f"{source.entry!r}: the example arguments must be a tuple of tensors")
    return module.eval(), args


def convert(source: PyTorchSource) -> bytes:
    """The module converted by litert-torch, as the bytes of a .tflite file."""
    import litert_torch

    module, args = load(source)
    try:
        converted = litert_torch.convert(module, args)
    except Exception as e:
        said = brief(e)
        raise ConversionError(
            f"litert-torch could not convert {source.entry}: {said}{_hint(said)}"
        ) from None
    content = converted.model_content
    return bytes(content() if callable(content) else content)
