"""TF1 graphs (frozen graphs, TF1 SavedModels, sessions): TF1's converter, run in a session."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from converter.errors import SourceError
from converter.sources.loader import Call, InputSpec, Loader, first_line, input_spec, plain_name
from converter.spec import FrozenGraphSource, TF1SavedModelSource


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
        return [input_spec(t.name, t.shape, t.dtype) for t in tensors]

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
                f"{self.source.path}: cannot load the frozen graph: {first_line(e)}"
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
                f"{source.path}: cannot load the SavedModel with the TF1 converter: {first_line(e)}"
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
                f"{self.entry!r}: cannot convert the session: {first_line(e)}"
            ) from None

    def _open_session(self) -> Any:
        return self.session
