"""Sources before TensorFlow: file-system checks per input format, and Python entry points.

``precheck`` runs in the caller's process and needs no TensorFlow: it catches
missing paths and wrong formats before a worker is involved. ``load_entry``
loads the function behind an entry point (a model's, or a calibration
generator's; a Keras source's custom class), ``import_module`` a module a Keras
source imports. Loading the models themselves is the loaders' (``converter.sources.dispatch``),
in the worker.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from converter.entry import CLASS_SYNTAX, MODULE_SYNTAX, SYNTAX, EntryPoint, Module
from converter.errors import SourceError, brief
from converter.spec import (
    ENTRY_SOURCES,
    FrozenGraphSource,
    KerasSource,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


# --- checks without TensorFlow -------------------------------------------------------------


def legacy_keras_available() -> bool:
    return importlib.util.find_spec("tf_keras") is not None


def precheck(source: Source) -> None:
    """SourceError for problems visible from the file system alone."""
    if isinstance(source, ENTRY_SOURCES):
        _precheck_entry(source.entry, source.file)
        return
    path = source.path
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    if isinstance(source, (SavedModelSource, TF1SavedModelSource)):
        _require_saved_model_dir(path)
    elif isinstance(source, KerasSource):
        if path.is_dir():
            hint = " (it looks like a SavedModel: use saved_model)" if _is_saved_model(path) else ""
            raise SourceError(f"{path}: is a directory, not a Keras model file{hint}")
        if path.suffix.lower() not in KERAS_SUFFIXES:
            raise SourceError(
                f"{path}: a Keras model file ends in .keras, .h5 or .hdf5; got {path.suffix!r}"
            )
        if source.legacy and not legacy_keras_available():
            raise SourceError(
                f"{path}: legacy tf_keras models need the 'legacy-keras' extra: "
                "pip install 'tflite-build[legacy-keras]'"
            )
        _precheck_keras_code(source)
    elif isinstance(source, FrozenGraphSource):
        if path.is_dir():
            raise SourceError(f"{path}: is a directory; a frozen graph is a single .pb file")
        if not source.input_arrays or not source.output_arrays:
            raise SourceError(f"{path}: a frozen graph needs input_arrays and output_arrays")
        unknown = sorted(set(source.input_shapes) - set(source.input_arrays))
        if unknown:
            raise SourceError(
                f"{path}: input_shapes names {', '.join(unknown)}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not among input_arrays"
            )


def _is_saved_model(path: Path) -> bool:
    return (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()


def _require_saved_model_dir(path: Path) -> None:
    if path.is_file():
        kind = "a Keras model file" if path.suffix.lower() in KERAS_SUFFIXES else "a file"
        raise SourceError(f"{path}: is {kind}, not a SavedModel directory")
    if not _is_saved_model(path):
        raise SourceError(f"{path}: not a SavedModel directory (no saved_model.pb in it)")


def _precheck_keras_code(source: KerasSource) -> None:
    for text in source.imports:
        module = Module.parse(text)
        if module is None:
            raise SourceError(f"{source.path}: imports {text!r}: expected {MODULE_SYNTAX}")
        file = module.file(source.base_dir)
        if file is not None and not file.is_file():
            raise SourceError(f"{source.path}: imports {text!r}: no such file {file}")
    for name, entry in source.custom_objects:
        parsed = EntryPoint.parse(entry)
        if parsed is None:
            raise SourceError(
                f"{source.path}: custom_objects {name}: expected {CLASS_SYNTAX}; got {entry!r}"
            )
        file = parsed.file(source.base_dir)
        if file is not None and not file.is_file():
            raise SourceError(f"{source.path}: custom_objects {name}: no such file {file}")


def _precheck_entry(entry: str, file: Path | None) -> None:
    if EntryPoint.parse(entry) is None:
        raise SourceError(f"{entry!r}: expected {SYNTAX}")
    if file is not None and not file.is_file():
        raise SourceError(f"{file}: no such file (from the entry point {entry!r})")


# --- loading Python entry points -----------------------------------------------------------


@contextlib.contextmanager
def on_sys_path(directory: Path) -> Iterator[None]:
    entry = str(directory.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def load_entry(
    entry: str, base_dir: Path, what: str = "function", stable_name: bool = False
) -> Callable[..., Any]:
    """The callable behind ``file.py:function`` or ``module:function``, freshly loaded.

    ``what`` it should be (a function, a class) is for messages.

    A persistent worker serves many builds, so a file is executed anew on every
    call (an edited file is never stale) under a throwaway module name; with
    ``stable_name``, under its file's stem (``build.py`` as ``build``), for
    converters that write class's module names into the artifact.
    """
    parsed = EntryPoint.parse(entry)
    if parsed is None:
        raise SourceError(f"{entry!r}: expected {SYNTAX if what == 'function' else CLASS_SYNTAX}")
    target, function = parsed.target, parsed.function
    file = parsed.file(base_dir)
    with on_sys_path(file.parent if file is not None else base_dir):
        if file is not None:
            module = _exec_file(file, file.stem if stable_name else None)
        else:
            sys.modules.pop(target, None)
            try:
                module = importlib.import_module(target)
            except ImportError as e:
                raise SourceError(f"{entry!r}: cannot import {target}: {e}") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise SourceError(f"{entry!r}: {target} has no {what} {function!r}")
    return fn  # type: ignore[no-any-return]


def import_module(text: str, base_dir: Path) -> None:
    """Run the module ``file.py`` or ``package.module`` names, afresh (what it registers is kept).

    A file runs as an entry point's does, from its own folder; a module is
    imported with ``base_dir`` first on ``sys.path``.
    """
    module = Module.parse(text)
    if module is None:
        raise SourceError(f"{text!r}: expected {MODULE_SYNTAX}")
    file = module.file(base_dir)
    if file is not None:
        with on_sys_path(file.parent):
            _exec_file(file)
        return
    with on_sys_path(base_dir):
        sys.modules.pop(text, None)
        try:
            importlib.import_module(text)
        except ImportError as e:
            raise SourceError(f"cannot import {text}: {e}") from None
        except Exception as e:
            raise SourceError(f"{text}: failed while loading: {type(e).__name__}: {e}") from None


def _exec_file(file: Path, name: str | None = None) -> ModuleType:
    name = name or f"_tflite_build_entry_{file.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise SourceError(f"{file}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except SourceError:
        raise
    except Exception as e:
        raise SourceError(f"{file}: failed while loading: {type(e).__name__}: {e}") from None
    finally:
        sys.modules.pop(name, None)
    return module


def made_pair(entry: str, base_dir: Path, is_model: Callable[[Any], bool], expected: str) -> Any:
    """What a framework entry's ``make()`` returns, checked to be ``(model, example_args)``.

    The entry's file is loaded under a stable name (converters write module names
    into the model) and called with its folder on ``sys.path``; ``is_model`` checks
    the pair's first item, ``expected`` says what the pair should be.
    """
    make = load_entry(entry, base_dir, stable_name=True)
    with on_sys_path(base_dir):
        try:
            made = make()
        except SourceError:
            raise
        except Exception as e:
            raise SourceError(f"{entry!r}: raised {type(e).__name__}: {brief(e)}") from None
    if not (isinstance(made, tuple) and len(made) == 2 and is_model(made[0])):
        raise SourceError(f"{entry!r}: returned {type(made).__name__}; expected {expected}")
    return made
