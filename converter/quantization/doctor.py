"""The quantization doctor, in the worker: each int8 op's error, and int8 models with layers kept in float.

It stands on TF's own ``tf.lite.experimental.QuantizationDebugger``: the
debugger calibrates the model once (TF's converter in calibrate-only mode),
quantizes it with a NumericVerify op beside every quantized op, runs that debug
model and reports, per op, how far the quantized result is from the same op in
float on the same input. A model that keeps layers in float is the calibrated
model quantized again with those layers' ops denylisted: the call TF's
``get_nondebug_quantized_model`` makes, so the bytes are the debugger's own.

Ops are named the way the user knows them: by the Keras layer (or TF name
scope) behind the op's output tensor. TensorFlow is imported inside functions.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from converter.conversion.options import suggest
from converter.errors import ConversionError, ConverterError, OptionsError, describe
from converter.protocol import LayerError

MAX_DEBUG_SAMPLES = 256  # the per-layer figures settle long before; the debug model is slow


def layer_of(tensor: str, known: Collection[str]) -> str | None:
    """The layer behind a TFLite tensor name, or None when the name carries no scope.

    A fused op's tensor lists every TF op it came from, separated by ``;``;
    each is a name-scope path ending in the TF op (``model/dense_1/MatMul``).
    With ``known`` layer names (a Keras model's), the innermost scope that is
    one of them wins, also with the ``_N`` suffix Keras adds when it exports a
    model; without them, the scope just above the op.
    """
    for piece in tensor.split(";"):
        scopes = piece.split("/")[:-1]
        if known:
            for scope in reversed(scopes):
                if scope in known:
                    return scope
                base = re.sub(r"_\d+$", "", scope)
                if base in known:
                    return base
        elif scopes:
            return scopes[-1]
    return None


def name_layers(
    tensors: Sequence[str], known: Collection[str], producers: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Each quantized op's output tensor -> its layer.

    An op whose tensor carries no scope (a model output, named after the
    signature: ``StatefulPartitionedCall:0``) belongs to the layer of the op
    that feeds it, as a Keras activation belongs to its Dense layer; when that
    is unknown too, the tensor's own name stands for it. ``producers`` maps a
    tensor to the input tensors of the op that writes it.
    """
    named: dict[str, str] = {}

    def resolve(tensor: str, depth: int = 0) -> str | None:
        found = layer_of(tensor, known)
        if found is not None or depth > 8:
            return found
        for source in producers.get(tensor, ()):
            found = resolve(source, depth + 1)
            if found is not None:
                return found
        return None

    for tensor in tensors:
        named[tensor] = resolve(tensor) or tensor
    return named


def resolve(names: Sequence[str], layers: Collection[str]) -> tuple[str, ...]:
    """The layers ``names`` mean; OptionsError, with the valid names and a did-you-mean, else.

    A name may leave out the ``_N`` suffix that Keras's export gives every
    scope (``features`` for a SavedModel's ``features_1``) when that makes it
    one layer's.
    """
    valid = sorted(set(layers))
    resolved = []
    for name in names:
        if name in valid:
            resolved.append(name)
            continue
        suffixed = [layer for layer in valid if re.fullmatch(rf"{re.escape(name)}_\d+", layer)]
        if len(suffixed) != 1:
            raise OptionsError(
                f"keep_float: no quantized layer is named {name!r}{suggest(name, valid)} "
                f"(the layers: {', '.join(valid)})"
            )
        resolved.append(suffixed[0])
    return tuple(resolved)


def ranked_layers(ops: Sequence[LayerError]) -> list[str]:
    """The layers, worst first (a layer ranks by its worst op)."""
    return list(dict.fromkeys(op.layer for op in sorted(ops, key=_severity)))


SUSPECT = 1.0  # quantization steps of RMSE: well above rounding alone (about 0.29)


def search_order(ops: Sequence[LayerError], feeds: Mapping[str, Sequence[str]]) -> list[str]:
    """The ranked layers, each suspect one followed by the quantized layers that feed it.

    An op is measured on its quantized input, so a layer whose input lost
    its resolution upstream (a wide activation range) shows the error, and
    keeping it alone in float does not help: its input must be float too. So
    the search tries a suspect layer's feeders right after it.
    """
    worst: dict[str, float] = {}
    for op in sorted(ops, key=_severity):
        worst.setdefault(op.layer, op.rmse_scale)
    order: list[str] = []
    for layer in worst:
        if layer not in order:
            order.append(layer)
        if not worst[layer] <= SUSPECT:  # NaN included
            order.extend(f for f in feeds.get(layer, ()) if f not in order and f != layer)
    return order


def _severity(op: LayerError) -> tuple[float, str]:
    value = op.rmse_scale if math.isfinite(op.rmse_scale) else math.inf
    return -value, op.tensor


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep the debugger's interpreter deprecation warning (and TF's calibration one) out of sight."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        yield


class Doctor:
    """One model calibrated once, then measured per op and quantized with layers kept in float."""

    def __init__(self, converter: Any, known_layers: Collection[str]) -> None:
        """``converter`` is set up for int8 (optimizations and representative data)."""
        import tensorflow as tf

        self.converter = converter
        self.known = frozenset(known_layers)
        self._batches: list[list[np.ndarray]] = []
        try:
            with quiet():
                self.debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=lambda: iter(self._batches)
                )
        except ConverterError:
            raise
        except Exception as e:  # the converter's own failures, and a model it cannot debug
            raise ConversionError(f"TF's quantization debugger: {describe(e)}") from None
        self.calibrated: bytes = self.debugger.calibrated_model
        self._ops: list[LayerError] | None = None
        self._feeds: dict[str, list[str]] = {}  # layer -> the quantized layers feeding it

    def input_names(self) -> list[str]:
        """The debug model's inputs, in its order, named as ``converter.evaluation.evaluate.Runner`` names them."""
        from converter.evaluation.evaluate import Runner

        return Runner(self.calibrated).input_names

    def measure(self, inputs: Sequence[np.ndarray]) -> list[LayerError]:
        """Each quantized op's error over ``inputs`` (arrays in the debug model's input order)."""
        count = min(len(inputs[0]), MAX_DEBUG_SAMPLES)
        arrays = [np.asarray(a[:count]) for a in inputs]
        if self._batchable():  # the debugger sizes the model to its first batch: one batch
            self._batches = [arrays]
        else:
            self._batches = [[a[i : i + 1] for a in arrays] for i in range(count)]
        with quiet():
            self.debugger.run()
            dump = io.StringIO()
            self.debugger.layer_statistics_dump(dump)
        self._batches = []
        rows = list(csv.DictReader(io.StringIO(dump.getvalue())))
        producers = self._producers()
        names = name_layers([r["tensor_name"] for r in rows], self.known, producers)
        self._feeds = {
            names[tensor]: [
                names[source] for source in producers.get(tensor, ()) if source in names
            ]
            for tensor in names
        }
        ops = [
            LayerError(
                layer=names[row["tensor_name"]],
                op=row["op_name"],
                tensor=row["tensor_name"],
                rmse_scale=_ratio(math.sqrt(float(row["mean_squared_error"])), row["scale"]),
                max_abs_error=float(row["max_abs_error"]),
                scale=float(row["scale"]),
            )
            for row in rows
        ]
        self._ops = sorted(ops, key=_severity)
        return self._ops

    @property
    def ops(self) -> list[LayerError]:
        if self._ops is None:
            raise RuntimeError("measure() first: the layers are named from the debug run")
        return self._ops

    def layers(self) -> list[str]:
        return ranked_layers(self.ops)

    def search_order(self) -> list[str]:
        """The layers in the order the keep_float search adds them (see ``search_order``)."""
        return search_order(self.ops, self._feeds)

    def resolve(self, names: Sequence[str]) -> tuple[str, ...]:
        """The layers ``names`` mean (see ``resolve``)."""
        return resolve(names, self.layers())

    def keep(self, kept: Collection[str]) -> None:
        """Measure from now on the model with the ops of ``kept`` layers in float."""
        import tensorflow as tf

        nodes = [op.tensor for op in self.ops if op.layer in kept]
        with quiet():
            self.debugger.options = tf.lite.experimental.QuantizationDebugOptions(
                denylisted_nodes=nodes
            )

    def quantize(self, kept: Collection[str]) -> bytes:
        """The int8 model with the ops of ``kept`` layers left in float.

        The same call as the debugger's ``get_nondebug_quantized_model`` with
        those ops' tensors as ``denylisted_nodes``, plus the converter's I/O
        types (the debugger leaves them float).
        """
        import tensorflow as tf
        from tensorflow.lite.python import convert

        nodes = [op.tensor for op in self.ops if op.layer in kept]
        converter = self.converter
        with quiet():
            data: bytes = convert.mlir_quantize(
                self.calibrated,
                disable_per_channel=converter._experimental_disable_per_channel,
                fully_quantize=False,
                input_data_type=converter.inference_input_type or tf.float32,
                output_data_type=converter.inference_output_type or tf.float32,
                enable_numeric_verify=False,
                denylisted_nodes=nodes or None,
                disable_per_channel_for_dense_layers=(
                    converter._experimental_disable_per_channel_quantization_for_dense_layers
                ),
            )
        return data

    def _batchable(self) -> bool:
        from converter.evaluation.evaluate import Runner

        return Runner(self.calibrated).batchable

    def _producers(self) -> dict[str, list[str]]:
        """Tensor name -> the names of the inputs of the op that writes it (the first subgraph)."""
        from ai_edge_litert import schema_py_generated as schema

        model = schema.Model.GetRootAs(self.calibrated, 0)
        graph = model.Subgraphs(0)
        names = [graph.Tensors(i).Name().decode() for i in range(graph.TensorsLength())]
        producers: dict[str, list[str]] = {}
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            sources = [names[t] for t in op.InputsAsNumpy() if t >= 0] if op.InputsLength() else []
            for j in range(op.OutputsLength()):
                producers[names[op.Outputs(j)]] = sources
        return producers


def _ratio(value: float, scale: str) -> float:
    step = float(scale)
    return value / step if step else math.inf
