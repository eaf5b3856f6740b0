"""The TensorFlow Lite conversion engine: sources and options in, verified .tflite files out.

Importing this package never imports TensorFlow; conversions run in a persistent
worker process (see ``converter.worker``).
"""

from __future__ import annotations

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
    KerasSource,
    Options,
    PythonSource,
    Representative,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)

__all__ = [
    "CheckError",
    "ConversionError",
    "ConverterError",
    "Engine",
    "FrozenGraphSource",
    "KerasSource",
    "Options",
    "OptionsError",
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
