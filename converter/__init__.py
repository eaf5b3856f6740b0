"""The TensorFlow Lite conversion engine: sources and options in, verified .tflite files out.

Importing this package never imports TensorFlow; conversions run in a persistent
worker process (see ``converter.execution.worker``). It knows nothing of ``rules``.

The face: ``api`` (the Engine), ``cli`` (``python -m converter``), ``spec`` (what
to convert and how), ``protocol`` (what a worker is asked and answers), ``errors``, ``entry``, ``digest``, ``files`` and ``versions``.
Its rooms, top to bottom (each may import only those below it; pyproject's import
contracts check it): ``service``, ``execution``, ``quantization``, ``conversion``
and ``evaluation``, ``sources``, ``tflite``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from converter.api import Engine, Result, convert
    from converter.errors import (
        CheckError,
        ConversionError,
        ConverterError,
        OptionsError,
        SourceError,
        WorkerError,
    )
    from converter.spec import (
        FrozenGraphSource,
        Goal,
        JaxSource,
        KeepFloat,
        KerasSource,
        Options,
        PythonSource,
        PyTorchSource,
        Representative,
        SavedModelSource,
        Source,
        TF1SavedModelSource,
    )

# Public names load on first use (PEP 562): code that needs only the specs, such as
# a no-op build, never loads the worker's process machinery.
_HOME = {
    **dict.fromkeys(("Engine", "Result", "convert"), "converter.api"),
    **dict.fromkeys(
        (
            "CheckError",
            "ConversionError",
            "ConverterError",
            "OptionsError",
            "SourceError",
            "WorkerError",
        ),
        "converter.errors",
    ),
    **dict.fromkeys(
        (
            "FrozenGraphSource",
            "Goal",
            "KeepFloat",
            "KerasSource",
            "Options",
            "PythonSource",
            "JaxSource",
            "PyTorchSource",
            "Representative",
            "SavedModelSource",
            "Source",
            "TF1SavedModelSource",
        ),
        "converter.spec",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'converter' has no attribute {name!r}")


__all__ = [
    "CheckError",
    "ConversionError",
    "ConverterError",
    "Engine",
    "FrozenGraphSource",
    "Goal",
    "JaxSource",
    "KeepFloat",
    "KerasSource",
    "Options",
    "OptionsError",
    "PyTorchSource",
    "PythonSource",
    "Representative",
    "Result",
    "SavedModelSource",
    "Source",
    "SourceError",
    "TF1SavedModelSource",
    "WorkerError",
    "convert",
]
