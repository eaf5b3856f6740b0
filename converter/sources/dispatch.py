"""The loader for a source: each source format to its loader, after the source's prechecks."""

from __future__ import annotations

from converter.errors import SourceError
from converter.sources.entrypoint import call_entry, from_entry
from converter.sources.graph import FrozenGraphLoader, TF1SavedModelLoader
from converter.sources.kerasmodel import KerasLoader, load_keras_model
from converter.sources.loader import Loader
from converter.sources.precheck import precheck
from converter.sources.savedmodel import SavedModelLoader
from converter.spec import (
    FrozenGraphSource,
    JaxSource,
    KerasSource,
    PyTorchSource,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)


def load(source: Source) -> Loader:
    """The loader for ``source``; SourceError when its model cannot be loaded."""
    precheck(source)
    if isinstance(source, SavedModelSource):
        return SavedModelLoader(source)
    if isinstance(source, TF1SavedModelSource):
        return TF1SavedModelLoader(source)
    if isinstance(source, KerasSource):
        return KerasLoader(load_keras_model(source))
    if isinstance(source, FrozenGraphSource):
        return FrozenGraphLoader(source)
    if isinstance(source, JaxSource):
        from converter.sources.jaxmodel import JaxLoader  # jax: only in the JAX toolchain

        return JaxLoader(source)
    if isinstance(source, PyTorchSource):
        raise SourceError(f"{source.entry!r}: a PyTorch source converts in its toolchain's worker")
    return from_entry(source.entry, call_entry(source))
