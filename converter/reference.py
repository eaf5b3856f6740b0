"""The source model run in TensorFlow, inside the worker: the reference for accuracy reports.

Each input format is loaded the way a user would run it: a SavedModel's
signature function, a Keras model called in inference mode, a session for
frozen graphs, TF1 SavedModels and session entry points, a ConcreteFunction
for function entry points. Inputs are matched to the model by name, else by
position, and run in batches (padded to a fixed batch when the model has one).
Inputs and outputs carry the names the converted model gives them (its
signature's, else its tensors'), so a report matches them to the interpreter's
by name however the TFLite model orders its tensors.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from converter import sources
from converter.errors import SourceError
from converter.evaluate import match, plain_name
from converter.spec import (
    FrozenGraphSource,
    KerasSource,
    RunOutcome,
    RunRequest,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)

BATCH = 256  # for models whose batch dimension is free


@dataclass
class Reference:
    """A loaded model as a function of its inputs (in ``inputs`` order) to named outputs."""

    inputs: list[str]
    dtypes: list[str]
    call: Callable[[list[np.ndarray]], dict[str, np.ndarray]]
    batch: int | None = None  # the model's fixed batch size, if it has one
    close: Callable[[], None] = field(default=lambda: None)


def run(request: RunRequest) -> RunOutcome:
    """Run ``request.source`` on ``request.inputs`` and write its outputs to ``request.output``."""
    start = time.perf_counter()
    with np.load(request.inputs, allow_pickle=False) as data:
        given = {name: data[name] for name in data.files}
    reference = load(request.source)
    try:
        order, matched = match(list(given), reference.inputs, what="input")
        values = list(given.values())
        arrays = [values[i].astype(dtype) for i, dtype in zip(order, reference.dtypes, strict=True)]
        outputs = _batched(reference, arrays)
    finally:
        reference.close()
    np.savez(request.output, **outputs)  # type: ignore[arg-type]
    return RunOutcome(
        inputs=tuple(reference.inputs),
        outputs=tuple(outputs),
        matched=matched,
        seconds=time.perf_counter() - start,
    )


def _batched(reference: Reference, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    count = len(arrays[0])
    batch = reference.batch or BATCH
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, count, batch):
        chunk = [a[start : start + batch] for a in arrays]
        size = len(chunk[0])
        if reference.batch and size < batch:  # a fixed batch: pad, then drop the padding
            chunk = [
                np.concatenate([c, np.zeros((batch - size, *c.shape[1:]), c.dtype)]) for c in chunk
            ]
        for name, value in reference.call(chunk).items():
            parts.setdefault(name, []).append(np.asarray(value)[:size])
    return {name: np.concatenate(values) for name, values in parts.items()}


def load(source: Source) -> Reference:
    sources.precheck(source)
    if isinstance(source, SavedModelSource):
        return _saved_model(source)
    if isinstance(source, TF1SavedModelSource):
        return _tf1_saved_model(source)
    if isinstance(source, KerasSource):
        return _keras(sources.load_keras_model(source))
    if isinstance(source, FrozenGraphSource):
        return _frozen_graph(source)
    return _from_python(source.entry, sources.call_entry(source))


def _fixed_batch(shapes: Sequence[Any]) -> int | None:
    """The first dimension when every input fixes it, else None (free)."""
    firsts = {shape[0] if shape is not None and len(shape) else None for shape in shapes}
    if len(firsts) == 1:
        (first,) = firsts
        return int(first) if first is not None else None
    return None


def _named_outputs(result: Any) -> dict[str, np.ndarray]:
    """Keras and tf.function results as TFLite names them: dict keys, else output_0, output_1..."""
    if isinstance(result, dict):
        return {name: np.asarray(result[name]) for name in sorted(result)}
    if isinstance(result, (list, tuple)):
        return {f"output_{i}": np.asarray(value) for i, value in enumerate(result)}
    return {"output_0": np.asarray(result)}


def _saved_model(source: SavedModelSource) -> Reference:
    import tensorflow as tf

    if len(source.signature_keys) > 1:
        raise SourceError(
            f"{source.path}: an accuracy reference for several signatures at once is not supported"
        )
    loaded = tf.saved_model.load(str(source.path), tags=list(source.tags) or None)
    key = source.signature_keys[0] if source.signature_keys else "serving_default"
    if key not in loaded.signatures:
        raise SourceError(f"{source.path}: has no signature {key!r}")
    function = loaded.signatures[key]
    specs = function.structured_input_signature[1]
    names = sorted(specs)  # TFLite lists a signature's inputs sorted by name too

    def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        result = function(**{n: tf.constant(a) for n, a in zip(names, arrays, strict=True)})
        return {name: result[name].numpy() for name in sorted(result)}

    return Reference(
        inputs=names,
        dtypes=[specs[n].dtype.as_numpy_dtype.__name__ for n in names],
        call=call,
        batch=_fixed_batch([specs[n].shape.as_list() for n in names]),
    )


def _keras(model: Any) -> Reference:
    specs = sources.keras_input_specs(model)
    # tf_keras signatures name list outputs after their layers; Keras 3's output_0, 1...
    layer_names = list(getattr(model, "output_names", None) or []) if _is_tf_keras(model) else []

    def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        result = model(arrays if len(arrays) > 1 else arrays[0], training=False)
        if layer_names and not isinstance(result, dict):
            values = result if isinstance(result, (list, tuple)) else [result]
            if len(values) == len(layer_names):
                return {n: np.asarray(v) for n, v in zip(layer_names, values, strict=True)}
        return _named_outputs(result)

    return Reference(
        inputs=[s.name for s in specs],
        dtypes=[s.dtype for s in specs],
        call=call,
        batch=_fixed_batch([s.shape for s in specs]),
    )


def _is_tf_keras(model: Any) -> bool:
    module = sys.modules.get("tf_keras")
    return module is not None and isinstance(model, module.Model)


def _session(session: Any, inputs: list[Any], outputs: list[Any], close: bool) -> Reference:
    """A TF1 session with its input and output tensors."""
    names = [plain_name(t.name) for t in outputs]

    def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        values = session.run(outputs, dict(zip(inputs, arrays, strict=True)))
        return dict(zip(names, values, strict=True))

    return Reference(
        inputs=[plain_name(t.name) for t in inputs],
        dtypes=[t.dtype.as_numpy_dtype.__name__ for t in inputs],
        call=call,
        batch=_fixed_batch([t.shape.as_list() if t.shape.rank else None for t in inputs]),
        close=session.close if close else (lambda: None),
    )


def _tensors(graph: Any, names: Sequence[str]) -> list[Any]:
    return [graph.get_tensor_by_name(n if ":" in n else f"{n}:0") for n in names]


def _frozen_graph(source: FrozenGraphSource) -> Reference:
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(source.path.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)
    return _session(
        session,
        _tensors(graph, source.input_arrays),
        _tensors(graph, source.output_arrays),
        close=True,
    )


def _tf1_saved_model(source: TF1SavedModelSource) -> Reference:
    import tensorflow as tf

    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        meta = tf.compat.v1.saved_model.loader.load(
            session, list(source.tags) or ["serve"], str(source.path)
        )
    if source.input_arrays and source.output_arrays:
        inputs, outputs = list(source.input_arrays), list(source.output_arrays)
    else:
        key = source.signature_key or "serving_default"
        if key not in meta.signature_def:
            session.close()
            raise SourceError(f"{source.path}: has no signature {key!r}")
        signature = meta.signature_def[key]
        inputs = [signature.inputs[k].name for k in sorted(signature.inputs)]
        outputs = [signature.outputs[k].name for k in sorted(signature.outputs)]
    return _session(session, _tensors(graph, inputs), _tensors(graph, outputs), close=True)


def _from_python(entry: str, result: Any) -> Reference:
    import tensorflow as tf

    if sources.is_session_triple(result):
        session, inputs, outputs = result
        return _session(session, sources.as_list(inputs), sources.as_list(outputs), close=True)
    if sources.is_keras_model(result):
        return _keras(result)
    functions = [sources.concrete(entry, item) for item in sources.as_list(result)]
    if len(functions) != 1:
        raise SourceError(
            f"{entry!r}: an accuracy reference for several functions at once is not supported"
        )
    (function,) = functions
    specs = sources.function_input_specs(function)
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

    return Reference(
        inputs=[s.name for s in specs],
        dtypes=[s.dtype for s in specs],
        call=call,
        batch=_fixed_batch([s.shape for s in specs]),
    )
