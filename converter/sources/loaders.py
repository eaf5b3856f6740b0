"""One loaded model per input format: its converter, its reference run and its input specs.

A loader loads its source once, in the worker, and hands out on demand what a
request needs: a conversion takes TF's converter (and the input specs when it
calibrates), a reference run takes the model as a function of its inputs (and
the same specs, to match the given arrays to them). The input specs are stated
here and nowhere else: names as the converted model knows them, in the order
calibration samples follow (a signature's sorted by name, a Keras model's as
declared, a function's by argument, a TF1 graph's as its converter holds its
tensors), with shapes and dtypes, all through one normalisation.

Three families: TF2 SavedModels and Keras models have a signature (inputs by
signature name), bare ConcreteFunctions do not (inputs by placeholder name, in
argument order), and TF1 graphs (frozen graphs, TF1 SavedModels, sessions) are
read from the TF1 converter's input tensors and run in a session. TensorFlow is
imported inside the methods, so importing this module never imports it.
"""

from __future__ import annotations

import abc
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from converter.errors import SourceError, hint_for, summary
from converter.evaluation.evaluate import plain_name
from converter.sources.precheck import load_entry, on_sys_path, precheck
from converter.spec import (
    ConverterApi,
    FrozenGraphSource,
    KerasSource,
    PythonSource,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)

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


def _spec(name: str, shape: Any, dtype: Any) -> InputSpec:
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
    return _from_entry(source.entry, call_entry(source))


def _first_line(error: BaseException) -> str:
    return summary(error) + hint_for(str(error))


def _named_outputs(result: Any) -> dict[str, np.ndarray]:
    """Keras and tf.function results as TFLite names them: dict keys, else output_0, output_1..."""
    if isinstance(result, dict):
        return {name: np.asarray(result[name]) for name in sorted(result)}
    if isinstance(result, (list, tuple)):
        return {f"output_{i}": np.asarray(value) for i, value in enumerate(result)}
    return {"output_0": np.asarray(result)}


# --- TF2 SavedModels -----------------------------------------------------------------------


class SavedModelLoader(Loader):
    """A TF2 SavedModel: TF's converter reads the directory itself; its signature is loaded once."""

    api = "v2"
    signature = True

    def __init__(self, source: SavedModelSource) -> None:
        super().__init__()
        self.source = source
        self._loaded: Any = None

    def _make_converter(self) -> Any:
        import tensorflow as tf

        try:
            return tf.lite.TFLiteConverter.from_saved_model(
                str(self.source.path),
                signature_keys=list(self.source.signature_keys) or None,
                tags=set(self.source.tags) or None,
            )
        except Exception as e:
            raise SourceError(
                f"{self.source.path}: cannot load the SavedModel: {_first_line(e)}"
            ) from None

    def _function(self, several: str) -> Any:
        """The signature's function; ``several`` is the sentence for more than one signature."""
        import tensorflow as tf

        path, keys = self.source.path, self.source.signature_keys
        if len(keys) > 1:
            raise SourceError(f"{path}: {several}")
        if self._loaded is None:
            try:
                self._loaded = tf.saved_model.load(str(path), tags=list(self.source.tags) or None)
            except Exception as e:
                raise SourceError(f"{path}: cannot load the SavedModel: {_first_line(e)}") from None
        key = keys[0] if keys else "serving_default"
        if key not in self._loaded.signatures:
            raise SourceError(f"{path}: has no signature {key!r}")
        return self._loaded.signatures[key]

    def _input_specs(self) -> list[InputSpec]:
        function = self._function(
            "representative data for several signatures at once is not supported; "
            "convert one signature per variant (signature_keys)"
        )
        named = function.structured_input_signature[1]
        # A signature's inputs have no order of their own; TFLite lists them by name.
        return [_spec(name, named[name].shape, named[name].dtype) for name in sorted(named)]

    def reference(self) -> Call:
        import tensorflow as tf

        function = self._function(
            "an accuracy reference for several signatures at once is not supported"
        )
        names = [spec.name for spec in self.input_specs()]

        def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
            result = function(**{n: tf.constant(a) for n, a in zip(names, arrays, strict=True)})
            return {name: result[name].numpy() for name in sorted(result)}

        return call


# --- Keras models ----------------------------------------------------------------------------


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


class KerasLoader(Loader):
    """A Keras model (Keras 3 or tf_keras), from a file or an entry point: ``from_keras_model``."""

    api = "v2"
    signature = True

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def _make_converter(self) -> Any:
        import tensorflow as tf

        return tf.lite.TFLiteConverter.from_keras_model(self.model)

    def _input_specs(self) -> list[InputSpec]:
        """The model's inputs in its own order, named as ``from_keras_model``'s signature names them.

        For functional and sequential models TF names each signature input after
        the model's input tensor (``keras.Input(name=...)``, else Keras's
        ``keras_tensor_N``); for other models it traces ``model.__call__`` on the
        model's save spec, whose placeholder names (``args_0``, ``args_0_1``...)
        become the signature's.
        """
        inputs = _functional_inputs(self.model)
        if inputs is None:
            return _traced_keras_specs(self.model)
        return [_spec(getattr(t, "name", "input"), t.shape, t.dtype) for t in inputs]

    def layer_names(self) -> frozenset[str]:
        names: set[str] = set()
        stack = list(getattr(self.model, "layers", []))
        while stack:  # nested models' layers too
            layer = stack.pop()
            names.add(layer.name)
            stack.extend(getattr(layer, "layers", []))
        return frozenset(names)

    def reference(self) -> Call:
        model = self.model
        # tf_keras signatures name list outputs after their layers; Keras 3's output_0, 1...
        layer_names = (
            list(getattr(model, "output_names", None) or []) if _is_tf_keras(model) else []
        )

        def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
            result = model(arrays if len(arrays) > 1 else arrays[0], training=False)
            if layer_names and not isinstance(result, dict):
                values = result if isinstance(result, (list, tuple)) else [result]
                if len(values) == len(layer_names):
                    return {n: np.asarray(v) for n, v in zip(layer_names, values, strict=True)}
            return _named_outputs(result)

        return call


def _functional_inputs(model: Any) -> list[Any] | None:
    """``model.inputs`` where TF's converter names the signature after them, else None."""
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(model, keras.Model):
        from keras.src.models import Functional, Sequential

        return list(model.inputs) if isinstance(model, (Functional, Sequential)) else None
    return list(model.inputs) if getattr(model, "inputs", None) else None  # tf_keras


def _traced_keras_specs(model: Any) -> list[InputSpec]:
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
    return _function_specs(function)


def _is_tf_keras(model: Any) -> bool:
    module = sys.modules.get("tf_keras")
    return module is not None and isinstance(model, module.Model)


def _is_keras_model(value: Any) -> bool:
    for module_name in ("keras", "tf_keras"):
        module = sys.modules.get(module_name)
        if module is not None and isinstance(value, module.Model):
            return True
    return False


# --- ConcreteFunctions -----------------------------------------------------------------------


class FunctionLoader(Loader):
    """tf.functions and ConcreteFunctions from an entry point: ``from_concrete_functions``.

    No trackable object is passed: TF then freezes the variables itself (passing
    a Keras 3 model as the trackable leaves unfrozen resource variables, NaN
    outputs). The model has no signature: its inputs are the function's
    placeholders, in the function's order, named after them (a TensorSpec's
    name, else the argument's).
    """

    api = "v2"

    def __init__(self, entry: str, functions: list[Any]) -> None:
        super().__init__()
        self.entry = entry
        self.functions = functions

    def _make_converter(self) -> Any:
        import tensorflow as tf

        return tf.lite.TFLiteConverter.from_concrete_functions(self.functions)

    def _function(self, several: str) -> Any:
        if len(self.functions) != 1:
            raise SourceError(f"{self.entry!r}: {several}")
        return self.functions[0]

    def _input_specs(self) -> list[InputSpec]:
        return _function_specs(
            self._function("representative data for several functions at once is not supported")
        )

    def reference(self) -> Call:
        import tensorflow as tf

        function = self._function(
            "an accuracy reference for several functions at once is not supported"
        )
        structure = function.structured_input_signature
        # Converted without a signature, the model's outputs are the function's own
        # output tensors (Identity, Identity_1...), in its flattened output order.
        output_names = [plain_name(t.name) for t in function.outputs]

        def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
            given = iter(arrays)
            leaves = [
                tf.constant(next(given)) if isinstance(leaf, tf.TensorSpec) else leaf
                for leaf in tf.nest.flatten(structure)
            ]
            args, kwargs = tf.nest.pack_sequence_as(structure, leaves)
            result = function(*args, **kwargs)
            values = tf.nest.flatten(result)
            if len(values) == len(output_names):
                return {n: np.asarray(v) for n, v in zip(output_names, values, strict=True)}
            return _named_outputs(result)

        return call


def _function_specs(function: Any) -> list[InputSpec]:
    """A ConcreteFunction's arguments, flattened, by placeholder name (captures left out).

    The placeholder is named after the argument's TensorSpec, else the argument
    (``args_0_1`` style for nested unnamed ones); TF names signature inputs, and
    the inputs of a model converted without one, after it.
    """
    import tensorflow as tf

    count = sum(
        isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(function.structured_input_signature)
    )
    # Arguments come first, captures after.
    return [_spec(t.name, t.shape, t.dtype) for t in function.inputs[:count]]


def _concrete(entry: str, item: Any) -> Any:
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


# --- TF1 graphs ------------------------------------------------------------------------------


class GraphLoader(Loader):
    """A TF1 graph: converted by the TF1 converter, run in a session on the converter's tensors.

    The converter is the one that knows the inputs: it orders them (a TF1
    SavedModel's by tensor name, the others as given) and applies
    ``input_shapes``. So the input specs, and the tensors a reference run feeds
    and fetches, are its own; a reference run makes the converter too.
    """

    api = "v1"

    def __init__(self) -> None:
        super().__init__()
        self._held: Any = None  # the session the graph runs in, once there is one

    def _session(self) -> Any:
        if self._held is None:
            self._held = self._open_session()
        return self._held

    @abc.abstractmethod
    def _open_session(self) -> Any:
        """A session holding the graph, with its variables, to run it in."""

    def close(self) -> None:
        if self._held is not None:
            self._held.close()

    def _input_specs(self) -> list[InputSpec]:
        converter = self.converter()
        tensors = converter._input_tensors
        if tensors is None:  # TF could not import the graph (unknown ops): names only
            return [InputSpec(name, None, "float32") for name in converter.get_input_arrays()]
        return [_spec(t.name, t.shape, t.dtype) for t in tensors]

    def reference(self) -> Call:
        converter = self.converter()
        names = [spec.name for spec in self.input_specs()]
        output_names = (
            [t.name for t in converter._output_tensors]
            if converter._output_tensors
            else list(converter._output_arrays)
        )
        session = self._session()
        inputs, outputs = _tensors(session.graph, names), _tensors(session.graph, output_names)
        plain = [plain_name(t.name) for t in outputs]

        def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
            values = session.run(outputs, dict(zip(inputs, arrays, strict=True)))
            return dict(zip(plain, values, strict=True))

        return call


def _tensors(graph: Any, names: Sequence[str]) -> list[Any]:
    return [graph.get_tensor_by_name(n if ":" in n else f"{n}:0") for n in names]


class FrozenGraphLoader(GraphLoader):
    """A frozen GraphDef, read and checked once; ``from_frozen_graph`` reads the file itself."""

    def __init__(self, source: FrozenGraphSource) -> None:
        import tensorflow as tf

        super().__init__()
        self.source = source
        self._graph_def = tf.compat.v1.GraphDef()
        try:
            self._graph_def.ParseFromString(source.path.read_bytes())
        except Exception:
            raise SourceError(f"{source.path}: is not a valid frozen GraphDef (.pb)") from None
        nodes = {node.name for node in self._graph_def.node}
        if not nodes:
            raise SourceError(
                f"{source.path}: is not a valid frozen GraphDef (.pb): it has no nodes"
            )
        placeholders = sorted(n.name for n in self._graph_def.node if n.op == "Placeholder")
        for kind, names in (("input", source.input_arrays), ("output", source.output_arrays)):
            missing = [name for name in names if name.split(":")[0] not in nodes]
            if missing:
                known = (
                    f"; its placeholders are: {', '.join(placeholders)}" if kind == "input" else ""
                )
                raise SourceError(
                    f"{source.path}: {kind} array {', '.join(map(repr, missing))} is not in the "
                    f"graph{known}"
                )

    def _make_converter(self) -> Any:
        import tensorflow as tf

        try:
            return tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
                str(self.source.path),
                list(self.source.input_arrays),
                list(self.source.output_arrays),
                {k: list(v) for k, v in self.source.input_shapes.items()} or None,
            )
        except Exception as e:
            raise SourceError(
                f"{self.source.path}: cannot load the frozen graph: {_first_line(e)}"
            ) from None

    def _open_session(self) -> Any:
        import tensorflow as tf

        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(self._graph_def, name="")
        return tf.compat.v1.Session(graph=graph)


class TF1SavedModelLoader(GraphLoader):
    """A SavedModel through the TF1 converter; run in a session that loads it."""

    def __init__(self, source: TF1SavedModelSource) -> None:
        super().__init__()
        self.source = source

    def _make_converter(self) -> Any:
        import tensorflow as tf

        source = self.source
        try:
            return tf.compat.v1.lite.TFLiteConverter.from_saved_model(
                str(source.path),
                input_arrays=list(source.input_arrays) or None,
                input_shapes={k: list(v) for k, v in source.input_shapes.items()} or None,
                output_arrays=list(source.output_arrays) or None,
                tag_set=set(source.tags) or None,
                signature_key=source.signature_key,
            )
        except Exception as e:
            raise SourceError(
                f"{source.path}: cannot load the SavedModel with the TF1 converter: "
                f"{_first_line(e)}"
            ) from None

    def _open_session(self) -> Any:
        import tensorflow as tf

        graph = tf.Graph()
        session = tf.compat.v1.Session(graph=graph)
        with graph.as_default():
            tf.compat.v1.saved_model.loader.load(
                session, list(self.source.tags) or ["serve"], str(self.source.path)
            )
        return session


class SessionLoader(GraphLoader):
    """A ``(tf.compat.v1.Session, inputs, outputs)`` triple from an entry point: ``from_session``."""

    def __init__(self, entry: str, session: Any, inputs: list[Any], outputs: list[Any]) -> None:
        super().__init__()
        self.entry = entry
        self.session, self.inputs, self.outputs = session, inputs, outputs
        self._held = session  # handed over by the entry point: closed with the loader

    def _make_converter(self) -> Any:
        import tensorflow as tf

        try:
            return tf.compat.v1.lite.TFLiteConverter.from_session(
                self.session, self.inputs, self.outputs
            )
        except Exception as e:
            raise SourceError(
                f"{self.entry!r}: cannot convert the session: {_first_line(e)}"
            ) from None

    def _open_session(self) -> Any:
        return self.session


# --- Python entry points ---------------------------------------------------------------------


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
    with on_sys_path(source.base_dir):
        try:
            return fn()
        except SourceError:
            raise
        except Exception as e:
            raise SourceError(
                f"{source.entry!r}: raised {type(e).__name__}: {_first_line(e)}"
            ) from None


def _from_entry(entry: str, result: Any) -> Loader:
    """The loader for what an entry point returned: a session, a Keras model or functions."""
    if _is_session_triple(result):
        session, inputs, outputs = result
        return SessionLoader(entry, session, _as_list(inputs), _as_list(outputs))
    if _is_keras_model(result):
        return KerasLoader(result)
    return FunctionLoader(entry, [_concrete(entry, item) for item in _as_list(result)])


def _is_session_triple(result: Any) -> bool:
    import tensorflow as tf

    return (
        isinstance(result, tuple)
        and len(result) == 3
        and isinstance(result[0], tf.compat.v1.Session)
    )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]
