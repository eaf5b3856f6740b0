"""One loader per input format: a Source becomes a configured TFLiteConverter.

``precheck`` runs in the caller's process and needs no TensorFlow: it catches
missing paths and wrong formats before a worker is involved. ``load`` runs in
the worker and imports TensorFlow inside the function.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from converter.entry import SYNTAX, EntryPoint
from converter.errors import SourceError, hint_for, summary
from converter.spec import (
    ConverterApi,
    FrozenGraphSource,
    KerasSource,
    PythonSource,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


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


@dataclass
class Loaded:
    """A converter ready for options, plus what the later steps need to know."""

    converter: Any
    api: ConverterApi
    # Computed on demand: reading input specs can mean loading the model again.
    input_specs: Callable[[], list[InputSpec]]
    close: Callable[[], None] = field(default=lambda: None)
    # True when the converted model has one signature: TF's calibrator then takes
    # each sample as a dict keyed by signature input name, since a list must be in
    # the TFLite model's own tensor order, which nobody knows before converting.
    # Models without one (TF1 converter, bare ConcreteFunctions) take a list in
    # input_specs order, which is their tensor order.
    signature: bool = False


# --- checks without TensorFlow -------------------------------------------------------------


def legacy_keras_available() -> bool:
    return importlib.util.find_spec("tf_keras") is not None


def precheck(source: Source) -> None:
    """SourceError for problems visible from the file system alone."""
    if isinstance(source, PythonSource):
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


def _precheck_entry(entry: str, file: Path | None) -> None:
    if EntryPoint.parse(entry) is None:
        raise SourceError(f"{entry!r}: expected {SYNTAX}")
    if file is not None and not file.is_file():
        raise SourceError(f"{file}: no such file (from the entry point {entry!r})")


# --- loading Python entry points -----------------------------------------------------------


@contextlib.contextmanager
def _on_sys_path(directory: Path) -> Iterator[None]:
    entry = str(directory.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def load_entry(entry: str, base_dir: Path) -> Callable[..., Any]:
    """The function behind ``file.py:function`` or ``module:function``, freshly loaded.

    A persistent worker serves many builds, so a file is executed anew on every
    call (an edited file is never stale) under a throwaway module name.
    """
    parsed = EntryPoint.parse(entry)
    if parsed is None:
        raise SourceError(f"{entry!r}: expected {SYNTAX}")
    target, function = parsed.target, parsed.function
    file = parsed.file(base_dir)
    with _on_sys_path(file.parent if file is not None else base_dir):
        if file is not None:
            module = _exec_file(file)
        else:
            sys.modules.pop(target, None)
            try:
                module = importlib.import_module(target)
            except ImportError as e:
                raise SourceError(f"{entry!r}: cannot import {target}: {e}") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise SourceError(f"{entry!r}: {target} has no function {function!r}")
    return fn  # type: ignore[no-any-return]


def _exec_file(file: Path) -> ModuleType:
    name = f"_tflite_build_entry_{file.stem}_{uuid.uuid4().hex[:8]}"
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


# --- loading in the worker (TensorFlow) ----------------------------------------------------


def load(source: Source) -> Loaded:
    """A converter for ``source``; SourceError when the model cannot be loaded."""
    precheck(source)
    if isinstance(source, SavedModelSource):
        return _saved_model(source)
    if isinstance(source, TF1SavedModelSource):
        return _tf1_saved_model(source)
    if isinstance(source, KerasSource):
        return _keras_file(source)
    if isinstance(source, FrozenGraphSource):
        return _frozen_graph(source)
    return _python(source)


def _first_line(error: BaseException) -> str:
    return summary(error) + hint_for(str(error))


def _saved_model(source: SavedModelSource) -> Loaded:
    import tensorflow as tf

    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(
            str(source.path),
            signature_keys=list(source.signature_keys) or None,
            tags=set(source.tags) or None,
        )
    except Exception as e:
        raise SourceError(f"{source.path}: cannot load the SavedModel: {_first_line(e)}") from None

    def specs() -> list[InputSpec]:
        loaded = tf.saved_model.load(str(source.path), tags=list(source.tags) or None)
        keys = list(source.signature_keys) or ["serving_default"]
        if len(keys) > 1:
            raise SourceError(
                f"{source.path}: representative data for several signatures at once is not "
                "supported; convert one signature per variant (signature_keys)"
            )
        signature = loaded.signatures[keys[0]]
        named = signature.structured_input_signature[1]
        # A signature's inputs have no order of their own; TFLite lists them by name.
        return [_tensor_spec(name, named[name]) for name in sorted(named)]

    return Loaded(converter, "v2", specs, signature=True)


def _tensor_spec(name: str, spec: Any) -> InputSpec:
    shape = None if spec.shape.rank is None else tuple(spec.shape.as_list())
    return InputSpec(name, shape, spec.dtype.as_numpy_dtype.__name__)


def _v1_specs(converter: Any) -> Callable[[], list[InputSpec]]:
    def specs() -> list[InputSpec]:
        names = converter.get_input_arrays()
        tensors = getattr(converter, "_input_tensors", None) or []
        if len(tensors) != len(names):
            return [InputSpec(name, None, "float32") for name in names]
        return [
            InputSpec(
                name,
                None if t.shape.rank is None else tuple(t.shape.as_list()),
                t.dtype.as_numpy_dtype.__name__,
            )
            for name, t in zip(names, tensors, strict=True)
        ]

    return specs


def _tf1_saved_model(source: TF1SavedModelSource) -> Loaded:
    import tensorflow as tf

    try:
        converter = tf.compat.v1.lite.TFLiteConverter.from_saved_model(
            str(source.path),
            input_arrays=list(source.input_arrays) or None,
            input_shapes={k: list(v) for k, v in source.input_shapes.items()} or None,
            output_arrays=list(source.output_arrays) or None,
            tag_set=set(source.tags) or None,
            signature_key=source.signature_key,
        )
    except Exception as e:
        raise SourceError(
            f"{source.path}: cannot load the SavedModel with the TF1 converter: {_first_line(e)}"
        ) from None
    return Loaded(converter, "v1", _v1_specs(converter))


def keras_input_specs(model: Any) -> list[InputSpec]:
    """A Keras model's inputs in its own order, named as ``from_keras_model``'s signature names them.

    For functional and sequential models TF names each signature input after the
    model's input tensor (``keras.Input(name=...)``, else Keras's ``keras_tensor_N``);
    for other models it traces ``model.__call__`` on the model's save spec, whose
    placeholder names (``args_0``, ``args_0_1``...) become the signature's.
    """
    inputs = _functional_inputs(model)
    if inputs is None:
        return _traced_keras_specs(model)
    out = []
    for tensor in inputs:
        dtype = tensor.dtype if isinstance(tensor.dtype, str) else tensor.dtype.name
        name = getattr(tensor, "name", "input").split(":")[0]
        out.append(InputSpec(name, tuple(tensor.shape), str(dtype)))
    return out


def _functional_inputs(model: Any) -> list[Any] | None:
    """``model.inputs`` where TF's converter names the signature after them, else None."""
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(model, keras.Model):
        from keras.src.models import Functional, Sequential

        return list(model.inputs) if isinstance(model, (Functional, Sequential)) else None
    return list(model.inputs) if getattr(model, "inputs", None) else None  # tf_keras


def _traced_keras_specs(model: Any) -> list[InputSpec]:
    import functools

    import tensorflow as tf
    from tensorflow.lite.python.util import get_save_spec

    spec = get_save_spec(model)
    if spec is None:
        raise SourceError(
            f"{type(model).__name__}: the Keras model has never been called, so its inputs "
            "are unknown; call it once (or build it) before returning it"
        )
    # The same trace as TF's export of the model (inference mode, one positional argument).
    function = tf.function(
        functools.partial(model.__call__, training=False), input_signature=[spec], autograph=False
    ).get_concrete_function()
    return function_input_specs(function)


def function_input_specs(function: Any) -> list[InputSpec]:
    """A ConcreteFunction's arguments, flattened, by placeholder name (captures left out).

    The placeholder is named after the argument's TensorSpec, else the argument
    (``args_0_1`` style for nested unnamed ones); TF names signature inputs, and
    the inputs of a model converted without one, after it.
    """
    import tensorflow as tf

    count = sum(
        isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(function.structured_input_signature)
    )
    return [
        InputSpec(
            t.name.split(":")[0],
            None if t.shape.rank is None else tuple(t.shape.as_list()),
            t.dtype.as_numpy_dtype.__name__,
        )
        for t in function.inputs[:count]  # arguments come first, captures after
    ]


def load_keras_model(source: KerasSource) -> Any:
    """The Keras model in a ``.keras``/``.h5`` file (tf_keras for legacy files)."""
    if source.legacy:
        import tf_keras

        load_model = tf_keras.models.load_model
    else:
        import keras

        keras.backend.clear_session()
        load_model = keras.models.load_model
    try:
        return load_model(str(source.path), compile=False)
    except Exception as e:
        hint = ""
        if not source.legacy and source.path.suffix.lower() != ".keras":
            hint = " (if tf_keras wrote this file, set legacy: true)"
        raise SourceError(
            f"{source.path}: cannot load the Keras model: {_first_line(e)}{hint}"
        ) from None


def _keras_file(source: KerasSource) -> Loaded:
    import tensorflow as tf

    model = load_keras_model(source)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return Loaded(converter, "v2", lambda: keras_input_specs(model), signature=True)


def _frozen_graph(source: FrozenGraphSource) -> Loaded:
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(source.path.read_bytes())
    except Exception:
        raise SourceError(f"{source.path}: is not a valid frozen GraphDef (.pb)") from None
    nodes = {node.name for node in graph_def.node}
    if not nodes:
        raise SourceError(f"{source.path}: is not a valid frozen GraphDef (.pb): it has no nodes")
    placeholders = sorted(n.name for n in graph_def.node if n.op == "Placeholder")
    for kind, names in (("input", source.input_arrays), ("output", source.output_arrays)):
        missing = [name for name in names if name.split(":")[0] not in nodes]
        if missing:
            known = f"; its placeholders are: {', '.join(placeholders)}" if kind == "input" else ""
            raise SourceError(
                f"{source.path}: {kind} array {', '.join(map(repr, missing))} is not in the "
                f"graph{known}"
            )
    try:
        converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(source.path),
            list(source.input_arrays),
            list(source.output_arrays),
            {k: list(v) for k, v in source.input_shapes.items()} or None,
        )
    except Exception as e:
        raise SourceError(
            f"{source.path}: cannot load the frozen graph: {_first_line(e)}"
        ) from None
    return Loaded(converter, "v1", _v1_specs(converter))


def call_entry(source: PythonSource) -> Any:
    """What the entry point returns, called with fresh Keras and graph state and a fixed seed."""
    import keras
    import tensorflow as tf

    fn = load_entry(source.entry, source.base_dir)
    # A fresh Keras state and a fixed seed: the same entry point gives the same
    # layer names and random weights on every call, in any worker.
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    tf.compat.v1.reset_default_graph()
    with _on_sys_path(source.base_dir):
        try:
            return fn()
        except SourceError:
            raise
        except Exception as e:
            raise SourceError(
                f"{source.entry!r}: raised {type(e).__name__}: {_first_line(e)}"
            ) from None


def _python(source: PythonSource) -> Loaded:
    return _from_python_result(source.entry, call_entry(source))


def is_session_triple(result: Any) -> bool:
    import tensorflow as tf

    return (
        isinstance(result, tuple)
        and len(result) == 3
        and isinstance(result[0], tf.compat.v1.Session)
    )


def _from_python_result(entry: str, result: Any) -> Loaded:
    import tensorflow as tf

    if is_session_triple(result):
        session, inputs, outputs = result
        inputs, outputs = as_list(inputs), as_list(outputs)
        try:
            converter = tf.compat.v1.lite.TFLiteConverter.from_session(session, inputs, outputs)
        except Exception as e:
            session.close()
            raise SourceError(f"{entry!r}: cannot convert the session: {_first_line(e)}") from None
        return Loaded(converter, "v1", _v1_specs(converter), close=session.close)
    if is_keras_model(result):
        converter = tf.lite.TFLiteConverter.from_keras_model(result)
        return Loaded(converter, "v2", lambda: keras_input_specs(result), signature=True)
    functions = [concrete(entry, item) for item in as_list(result)]
    # No trackable object: TF then freezes the variables itself. Passing a Keras 3
    # model as the trackable leaves unfrozen resource variables (NaN outputs). The
    # model then has no signature: its inputs are the function's placeholders, in
    # the function's order, named after them (a TensorSpec's name, else the argument's).
    converter = tf.lite.TFLiteConverter.from_concrete_functions(functions)

    def specs() -> list[InputSpec]:
        if len(functions) != 1:
            raise SourceError(
                f"{entry!r}: representative data for several functions at once is not supported"
            )
        return function_input_specs(functions[0])

    return Loaded(converter, "v2", specs)


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def is_keras_model(value: Any) -> bool:
    for module_name in ("keras", "tf_keras"):
        module = sys.modules.get(module_name)
        if module is not None and isinstance(value, module.Model):
            return True
    return False


def concrete(entry: str, item: Any) -> Any:
    import tensorflow as tf

    if isinstance(item, tf.types.experimental.ConcreteFunction):
        return item
    if hasattr(item, "get_concrete_function"):
        try:
            return item.get_concrete_function()
        except Exception as e:
            raise SourceError(
                f"{entry!r}: the tf.function needs an input_signature to be converted: "
                f"{_first_line(e)}"
            ) from None
    raise SourceError(
        f"{entry!r}: returned {type(item).__name__}; expected a Keras model, a tf.function, "
        "ConcreteFunction(s), or a (tf.compat.v1.Session, inputs, outputs) triple"
    )
