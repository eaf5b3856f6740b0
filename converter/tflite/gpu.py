"""Which nodes of a .tflite model the TFLite GPU delegate can take, read without TensorFlow.

A deployment gate needs this in every report, and TensorFlow cannot give it: in TF 2.21
``tf.lite.experimental.Analyzer.analyze(..., gpu_compatibility=True)`` declares its list of
incompatible nodes but never fills it, so it calls every model compatible, Select TF ops
included. We apply the delegate's own rules to the flatbuffer instead.

The rules come from LiteRT, TensorFlow Lite's runtime:

- ``tflite/delegates/gpu/common/model_builder.cc``: the ops the delegate has a parser for
  (``NewOperationParser``), the newest version each parser accepts
  (``CheckMaxSupportedOpVersion``), and the node filter of ``GetOpsToReplace``: a node's
  non-constant tensors must be float32 or float16, or int8/uint8 since the default options
  allow quantized ops (a few ops may also read or write int32 or bool); no tensor may have
  rank 5 or more; a comparison must feed one CAST or SELECT to float; a CAST from bool must
  read a tensor one op makes for it alone.
- ``tflite/tools/versioning/gpu_compatibility.cc`` (``CheckGpuDelegateCompatibility``),
  the per-op checks. Ported: runtime and constant input and output counts; positive strides,
  dilations and kernel sizes; fused activations; depthwise convolution shapes; fully
  connected weights format, constant input and ``keep_num_dims``; softmax beta; slice ranks
  and strided slice masks; constant int32 reduction axes; padding shapes and mirror mode;
  resize flags; block sizes; CAST, CUMSUM and DEQUANTIZE types; GATHER indices; ADD and MUL
  broadcasting (the delegate's standard rule, which the offline analyzer relaxes); the
  supported custom ops' tensor counts and Resampler shapes.
- ``tflite/delegates/utils.cc`` (``FP16GraphPartitionHelper``): a float16 model's
  DEQUANTIZE of constant weights is folded away, its readers checked as if they read the
  float16 constant.

Not ported: the options of custom ops (raw C structs, not flatbuffer tables), LSTM and
ONE_HOT details, SELECT shape rules, and whatever the delegate finds only when it builds
its own graph or on a device (GPU memory, OpenCL/OpenGL limits). The verdict is per node;
by default the delegate takes only the largest run of compatible nodes, so a compatible
node between two rejected ones may still run on the CPU.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from math import prod
from typing import Any, TypeVar

from ai_edge_litert import schema_py_generated as schema

from converter.tflite import modelinfo

_V = TypeVar("_V")


def _each(names: str, value: _V) -> dict[str, _V]:
    return dict.fromkeys(names.split(), value)


# Op (as modelinfo.op_name names it) -> newest version the delegate accepts; None where
# its parser checks no version. An op missing here has no parser: the delegate rejects it.
MAX_VERSIONS: dict[str, int | None] = {
    # The elementwise parser takes MUL up to version 3 and every other op up to 2.
    **_each(
        "ABS ADD ADD_N COS DIV ELU EQUAL EXP FLOOR FLOOR_DIV FLOOR_MOD GELU GREATER GREATER_EQUAL"
        " LESS LESS_EQUAL LOG LOGICAL_AND LOGISTIC MAXIMUM MINIMUM NEG NOT_EQUAL POW RSQRT SIGN"
        " SIN SQRT SQUARE SQUARED_DIFFERENCE SUB TANH",
        2,
    ),
    "MUL": 3,
    **_each("RELU RELU6 RELU_0_TO_1 RELU_N1_TO_1 LEAKY_RELU", 2),
    **_each(
        "AVERAGE_POOL_2D MAX_POOL_2D CONCATENATION PAD PADV2 MIRROR_PAD QUANTIZE SLICE SOFTMAX"
        " SPACE_TO_DEPTH",
        2,
    ),
    **_each("CUMSUM DENSIFY GATHER ONE_HOT PRELU RESHAPE SELECT SELECT_V2", 1),
    **_each("DEQUANTIZE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR TRANSPOSE_CONV", 3),
    **_each("LSTM STRIDED_SLICE TRANSPOSE", 4),
    **_each("CONV_2D DEPTHWISE_CONV_2D", 6),
    "FULLY_CONNECTED": 9,
    **_each(
        "BATCH_MATMUL CAST DEPTH_TO_SPACE HARD_SWISH MEAN PACK REDUCE_MAX REDUCE_MIN REDUCE_PROD"
        " SPLIT SPLIT_V SUM TILE UNPACK",
        None,
    ),
    **_each(
        "CUSTOM:Convolution2DTransposeBias CUSTOM:MaxPoolingWithArgmax2D CUSTOM:MaxUnpooling2D"
        " CUSTOM:Resampler",
        None,
    ),
}

_FLOATS = frozenset({"FLOAT32", "FLOAT16"})
_QUANTIZED = frozenset({"INT8", "UINT8"})
_COMPARISONS = frozenset({"EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"})
# Beyond floats and 8-bit integers, the types particular ops may read or write at run time.
_EXTRA_INPUT_TYPES: dict[str, frozenset[str]] = {
    "CAST": frozenset({"BOOL", "INT32"}),
    "GATHER": frozenset({"INT32"}),
    "LOGICAL_AND": frozenset({"BOOL"}),
    "ONE_HOT": frozenset({"INT32"}),
    "SELECT": frozenset({"BOOL"}),
    "SELECT_V2": frozenset({"BOOL"}),
}
_EXTRA_OUTPUT_TYPES: dict[str, frozenset[str]] = {
    "CAST": frozenset({"BOOL", "INT32"}),
    "LOGICAL_AND": frozenset({"BOOL"}),
    **dict.fromkeys(_COMPARISONS, frozenset({"BOOL"})),
}
_CASTS = frozenset(
    {("BOOL", "FLOAT16"), ("BOOL", "FLOAT32"), ("FLOAT16", "BOOL"), ("FLOAT32", "BOOL")}
    | {(a, b) for a in ("FLOAT32", "INT32") for b in ("FLOAT32", "INT32")}
)
_TYPE_NAMES = {
    value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")
}


@dataclass(frozen=True)
class GpuVerdict:
    """Which ops the GPU delegate would leave to the CPU, and why."""

    rejected: dict[str, int]  # op -> how many of its nodes the delegate cannot take
    reasons: dict[str, str]  # op -> the first node's reason, one short phrase
    nodes: int  # every node checked, over all subgraphs

    @property
    def compatible(self) -> bool:
        return not self.rejected

    def to_dict(self) -> dict[str, Any]:
        return {
            "compatible": self.compatible,
            "nodes": self.nodes,
            "rejected": dict(self.rejected),
            "reasons": dict(self.reasons),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GpuVerdict:
        return cls(
            rejected={str(op): int(n) for op, n in raw["rejected"].items()},
            reasons={str(op): str(reason) for op, reason in raw["reasons"].items()},
            nodes=int(raw["nodes"]),
        )

    def sentence(self) -> str:
        if self.compatible:
            return f"all {self.nodes} ops can run on the GPU delegate"
        parts = ", ".join(f"{op} ({n}, {self.reasons[op]})" for op, n in self.rejected.items())
        count = sum(self.rejected.values())
        return f"{count} of {self.nodes} ops cannot run on the GPU delegate: {parts}"


@dataclass(frozen=True)
class _Tensor:
    index: int
    dtype: str
    shape: tuple[int, ...]
    const: bool  # data in a buffer: the runtime maps it read-only and never type-checks it
    variable: bool


@dataclass(frozen=True)
class _Node:
    op: str
    version: int
    inputs: tuple[_Tensor | None, ...]  # None: an optional input left out
    outputs: tuple[_Tensor, ...]
    options: Any  # the schema's object-API options table, None when the operator has none

    def option(self, name: str) -> Any:
        """An option's value; 0 when the operator carries no options table."""
        return getattr(self.options, name, 0)

    def input_shape(self, index: int) -> tuple[int, ...]:
        tensor = self.inputs[index] if index < len(self.inputs) else None
        return () if tensor is None else tensor.shape

    @property
    def runtime_inputs(self) -> int:
        return sum(1 for t in self.inputs if t is not None and not t.const)

    @property
    def const_inputs(self) -> int:
        return sum(1 for t in self.inputs if t is not None and t.const)


@dataclass(frozen=True)
class _Graph:
    nodes: list[_Node]
    producers: dict[int, list[_Node]]
    consumers: dict[int, list[_Node]]


Check = Callable[[_Node], str | None]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _counts(node: _Node, runtime: int, outputs: int, const: int | None = None) -> str | None:
    if const is not None and node.const_inputs != const:
        return f"needs {_plural(const, 'constant input')}, has {node.const_inputs}"
    if node.runtime_inputs != runtime:
        return f"needs {_plural(runtime, 'runtime input')}, has {node.runtime_inputs}"
    if len(node.outputs) != outputs:
        return f"needs {_plural(outputs, 'output')}, has {len(node.outputs)}"
    return None


def _unary(node: _Node) -> str | None:
    return _counts(node, runtime=1, outputs=1)


def _one_or_two_operands(node: _Node) -> str | None:
    if _counts(node, 2, 1, const=0) and _counts(node, 1, 1, const=1):
        return "needs two runtime operands, or one and a constant"
    return None


def _positive(node: _Node, height: str, width: str, what: str) -> str | None:
    h, w = node.option(height), node.option(width)
    return None if h > 0 and w > 0 else f"{what} {h}x{w} are not positive"


def _activation(node: _Node) -> str | None:
    sign_bit = node.option("fusedActivationFunction") == schema.ActivationFunctionType.SIGN_BIT
    return "fused activation SIGN_BIT" if sign_bit else None


def _binary(node: _Node) -> str | None:
    return _one_or_two_operands(node) or _activation(node)


def _conv_inputs(node: _Node) -> str | None:
    if node.runtime_inputs > 2:
        return f"needs 1 or 2 runtime inputs, has {node.runtime_inputs}"
    if len(node.outputs) != 1:
        return f"needs 1 output, has {len(node.outputs)}"
    if node.runtime_inputs == 1 and len(node.inputs) < 2:
        return "has no filter"
    return None


def _conv_2d(node: _Node) -> str | None:
    return (
        _conv_inputs(node)
        or _positive(node, "strideH", "strideW", "strides")
        or _positive(node, "dilationHFactor", "dilationWFactor", "dilations")
        or _activation(node)
    )


def _depthwise_conv_2d(node: _Node) -> str | None:
    reason = _conv_2d(node)
    if reason:
        return reason
    source, filter_, output = node.input_shape(0), node.input_shape(1), node.outputs[0].shape
    if len(source) != 4 or len(filter_) != 4 or len(output) != 4:
        return "needs 4-D input, filter and output"
    if source[0] != output[0]:
        return "input and output batches differ"
    if filter_[3] != output[3]:
        return "filter and output channels differ"
    if output[3] != source[3] * node.option("depthMultiplier"):
        return "output channels are not input channels times the depth multiplier"
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    if bias is not None and prod(bias.shape) != output[3]:
        return "bias size differs from output channels"
    return None


def _transpose_conv(node: _Node) -> str | None:
    return _conv_inputs(node) or _positive(node, "strideH", "strideW", "strides")


def _pool(node: _Node) -> str | None:
    return (
        _unary(node)
        or _positive(node, "filterHeight", "filterWidth", "kernel sizes")
        or _positive(node, "strideH", "strideW", "strides")
        or _activation(node)
    )


def _fully_connected(node: _Node) -> str | None:
    if not node.inputs or node.inputs[0] is None:
        return "has no input"
    if node.option("weightsFormat") != schema.FullyConnectedOptionsWeightsFormat.DEFAULT:
        return "shuffled weights format"
    if node.runtime_inputs > 2:
        return f"needs at most 2 runtime inputs, has {node.runtime_inputs}"
    if node.inputs[0].const:
        return "constant input"
    output = node.outputs[0].shape if node.outputs else ()
    if node.option("keepNumDims") and len(node.inputs[0].shape) != len(output):
        return "keep_num_dims with input and output of different ranks"
    return None


def _softmax(node: _Node) -> str | None:
    beta = node.option("beta")
    return None if beta == 1 else f"softmax beta {beta:g} is not 1"


def _axes(node: _Node) -> str | None:
    axes = node.inputs[1] if len(node.inputs) > 1 else None
    if axes is None or not axes.const:
        return "axes are not constant"
    return None if axes.dtype == "INT32" else f"axes of type {axes.dtype}"


def _mean(node: _Node) -> str | None:
    return _counts(node, runtime=1, outputs=1, const=1) or _axes(node)


def _reduce(node: _Node) -> str | None:
    return _unary(node) or _axes(node)


def _rank_3_or_4(node: _Node) -> str | None:
    rank = len(node.input_shape(0))
    return None if rank in (3, 4) else f"input of rank {rank}, not 3 or 4"


def _slice(node: _Node) -> str | None:
    return "needs 3 inputs" if len(node.inputs) < 3 else _rank_3_or_4(node)


def _strided_slice(node: _Node) -> str | None:
    for mask, name in [
        ("ellipsisMask", "ellipsis_mask"),
        ("newAxisMask", "new_axis_mask"),
        ("shrinkAxisMask", "shrink_axis_mask"),
    ]:
        if node.option(mask):
            return f"{name} is set"
    return "needs 4 inputs" if len(node.inputs) < 4 else _rank_3_or_4(node)


def _pad(node: _Node) -> str | None:
    if node.op == "MIRROR_PAD" and node.option("mode") != schema.MirrorPadMode.REFLECT:
        return "mirror padding other than REFLECT"
    reason = _unary(node)
    if reason:
        return reason
    shape = node.input_shape(1)
    if len(shape) != 2 or shape[0] not in (3, 4) or shape[1] != 2:
        return f"paddings of shape {list(shape)}, not 4x2 or 3x2"
    return None


def _resize_bilinear(node: _Node) -> str | None:
    both = node.option("alignCorners") and node.option("halfPixelCenters")
    return _unary(node) or ("align_corners with half_pixel_centers" if both else None)


def _block_size(node: _Node) -> str | None:
    size = node.option("blockSize")
    return _unary(node) or (None if size > 1 else f"block size {size} (needs more than 1)")


def _dequantize(node: _Node) -> str | None:
    if len(node.inputs) != 1 or len(node.outputs) != 1:
        return "needs 1 input and 1 output"
    source = node.inputs[0]
    return "dequantizes INT16" if source is not None and source.dtype == "INT16" else None


def _cumsum(node: _Node) -> str | None:
    if len(node.inputs) != 2 or not node.outputs:
        return "needs 2 inputs"
    data, axis = node.inputs
    if data is None or data.dtype not in _FLOATS or node.outputs[0].dtype != data.dtype:
        return "needs float input and output of one type"
    if axis is None or not axis.const or axis.dtype != "INT32":
        return "axis is not a constant INT32"
    return None


def _cast(node: _Node) -> str | None:
    reason = _unary(node)
    if reason or node.inputs[0] is None:
        return reason
    source, target = node.inputs[0].dtype, node.outputs[0].dtype
    return None if (source, target) in _CASTS else f"cast from {source} to {target}"


def _gather(node: _Node) -> str | None:
    reason = _one_or_two_operands(node)
    if reason:
        return reason
    indices = node.inputs[1]
    if indices is None or len(indices.shape) != 1:
        return "indices are not 1-D"
    return None if indices.dtype == "INT32" else f"indices of type {indices.dtype}"


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> str | None:
    """The delegate's standard rule: equal ranks, a rank under 2, or 4-D against 3-D or 2-D."""
    if len(a) <= 1 or len(b) <= 1 or len(a) == len(b):
        return None
    long, short = (a, b) if len(a) >= len(b) else (b, a)
    fits = len(long) == 4 and (
        (len(short) == 3 and long[0] == 1)
        or (len(short) == 2 and long[0] == 1 and short == (1, 1))
        or (len(short) == 2 and long[0] == short[0] and long[3] == short[1])
    )
    return None if fits else f"broadcasts {list(a)} with {list(b)}"


def _add(node: _Node) -> str | None:
    if len(node.inputs) != 2:
        return "needs 2 inputs"
    return _broadcast(node.input_shape(0), node.input_shape(1))


def _mul(node: _Node) -> str | None:
    return _add(node) or _activation(node)


def _two_inputs(node: _Node) -> str | None:
    return None if len(node.inputs) == 2 else f"has {_plural(len(node.inputs), 'input')}, not 2"


def _batch_matmul(node: _Node) -> str | None:
    return _two_inputs(node) or (None if len(node.outputs) == 1 else "needs 1 output")


def _select(node: _Node) -> str | None:
    if len(node.inputs) != 3 or len(node.outputs) != 1 or node.inputs[0] is None:
        return "needs 3 inputs and 1 output"
    condition = node.inputs[0].dtype
    ok = condition == "BOOL" or condition in _FLOATS
    return None if ok else f"condition of type {condition}"


def _transpose_conv_bias(node: _Node) -> str | None:
    return None if len(node.inputs) > 1 else "has no filter"  # strides are custom options


def _resampler(node: _Node) -> str | None:
    reason = _counts(node, runtime=2, outputs=1)
    if reason:
        return reason
    source, warp = node.input_shape(0), node.input_shape(1)
    if len(source) != 4 or len(warp) != 4:
        return "needs 4-D source and warp"
    if source[0] != warp[0]:
        return "source and warp batches differ"
    return None if warp[3] >= 2 else "warp has fewer than 2 channels"


# Ops absent here pass on their op, version and tensors alone (see the module docstring).
_CHECKS: dict[str, Check] = {
    **_each(
        "ABS COS ELU EXP FLOOR GELU LOG LOGISTIC NEG RSQRT SIGN SIN SQRT SQUARE TANH",
        partial(_counts, runtime=1, outputs=1, const=0),
    ),
    **_each(
        "DIV FLOOR_DIV FLOOR_MOD LOGICAL_AND MAXIMUM MINIMUM POW SQUARED_DIFFERENCE SUB", _binary
    ),
    **_each("HARD_SWISH QUANTIZE RESHAPE RESIZE_NEAREST_NEIGHBOR TILE TRANSPOSE", _unary),
    **_each("AVERAGE_POOL_2D MAX_POOL_2D", _pool),
    **_each("PAD PADV2 MIRROR_PAD", _pad),
    **_each("REDUCE_MAX REDUCE_MIN REDUCE_PROD SUM", _reduce),
    **_each("DEPTH_TO_SPACE SPACE_TO_DEPTH", _block_size),
    **_each("SELECT SELECT_V2", _select),
    "ADD": _add,
    "ADD_N": _two_inputs,
    "BATCH_MATMUL": _batch_matmul,
    "CAST": _cast,
    "CONV_2D": _conv_2d,
    "CUMSUM": _cumsum,
    "DENSIFY": partial(_counts, runtime=0, outputs=1),
    "DEPTHWISE_CONV_2D": _depthwise_conv_2d,
    "DEQUANTIZE": _dequantize,
    "FULLY_CONNECTED": _fully_connected,
    "GATHER": _gather,
    "MEAN": _mean,
    "MUL": _mul,
    "RESIZE_BILINEAR": _resize_bilinear,
    "SLICE": _slice,
    "SOFTMAX": _softmax,
    "STRIDED_SLICE": _strided_slice,
    "TRANSPOSE_CONV": _transpose_conv,
    "CUSTOM:Convolution2DTransposeBias": _transpose_conv_bias,
    # Kernel sizes and strides of these two are custom options, which we do not decode.
    "CUSTOM:MaxPoolingWithArgmax2D": partial(_counts, runtime=1, outputs=2),
    "CUSTOM:MaxUnpooling2D": partial(_counts, runtime=2, outputs=1),
    "CUSTOM:Resampler": _resampler,
}


def _comparison(node: _Node, graph: _Graph) -> str | None:
    """The delegate computes a comparison only as the condition of a float CAST or SELECT."""
    result = node.outputs[0].index if node.outputs else -1
    readers = graph.consumers.get(result, [])
    if len(graph.producers.get(result, [])) == 1 and len(readers) == 1:
        reader = readers[0]
        if reader.op in ("CAST", "SELECT", "SELECT_V2") and reader.outputs[0].dtype in _FLOATS:
            return None
    return "result does not feed one CAST or SELECT to float"


def _cast_from_bool(node: _Node, graph: _Graph) -> str | None:
    if not node.inputs or not node.outputs:
        return None  # the CAST check itself rejects it
    source, target = node.inputs[0], node.outputs[0]
    if source is None or source.dtype != "BOOL" or target.dtype not in _FLOATS:
        return None
    if len(graph.producers.get(source.index, [])) != 1:
        return "casts a BOOL no single op makes"
    if len(graph.consumers.get(source.index, [])) != 1:
        return "casts a BOOL other ops read too"
    if len(graph.consumers.get(target.index, [])) != 1:
        return "cast from BOOL does not feed exactly one op"
    return None


def _tensors(node: _Node) -> str | None:
    """GetOpsToReplace's filter: no rank over 4, and only the allowed types at run time."""
    allowed_in = _FLOATS | _QUANTIZED | _EXTRA_INPUT_TYPES.get(node.op, frozenset())
    allowed_out = _FLOATS | _QUANTIZED | _EXTRA_OUTPUT_TYPES.get(node.op, frozenset())
    for kind, tensors, allowed in [
        ("input", node.inputs, allowed_in),
        ("output", node.outputs, allowed_out),
    ]:
        for tensor in tensors:
            if tensor is None:
                continue
            if len(tensor.shape) >= 5:
                return f"{kind} of rank {len(tensor.shape)}"
            if not tensor.const and not tensor.variable and tensor.dtype not in allowed:
                return f"{kind} of type {tensor.dtype}"
    return None


def _is_fp16_weights(node: _Node) -> bool:
    """A float16 model's DEQUANTIZE of constant weights, which the delegate folds away."""
    source = node.inputs[0] if node.op == "DEQUANTIZE" and node.inputs else None
    return source is not None and source.const and source.dtype == "FLOAT16"


def _reason(node: _Node, graph: _Graph) -> str | None:
    """Why the delegate would not take ``node``, in the delegate's own order; None: it would."""
    if _is_fp16_weights(node):
        return None
    if node.op.startswith("FLEX:"):
        return "a Select TF op"
    if node.op not in MAX_VERSIONS:
        return "custom op not supported" if node.op.startswith("CUSTOM:") else "not supported"
    newest = MAX_VERSIONS[node.op]
    if newest is not None and node.version > newest:
        return f"version {node.version} is over the delegate's {newest}"
    if node.op in _COMPARISONS:
        reason = _comparison(node, graph)
    else:
        reason = _cast_from_bool(node, graph) if node.op == "CAST" else None
        check = _CHECKS.get(node.op)
        reason = reason or (check(node) if check is not None else None)
    return reason or _tensors(node)


def _read_graph(model: Any, subgraph: Any) -> _Graph:
    tensors: dict[int, _Tensor] = {}

    def tensor(index: int) -> _Tensor:
        if index not in tensors:
            table = subgraph.Tensors(index)
            buffer = model.Buffers(table.Buffer()) if table.Buffer() else None
            # Weights past 2 GB live after the flatbuffer: an offset instead of inline data.
            const = buffer is not None and (buffer.DataLength() > 0 or buffer.Offset() > 1)
            shape = tuple(int(d) for d in table.ShapeAsNumpy()) if table.ShapeLength() else ()
            tensors[index] = _Tensor(
                index,
                _TYPE_NAMES.get(table.Type(), str(table.Type())),
                shape,
                const,
                bool(table.IsVariable()),
            )
        return tensors[index]

    # Consumers of folded float16 DEQUANTIZE nodes are checked as if they read the constant.
    folded: dict[int, _Tensor] = {}
    graph = _Graph([], defaultdict(list), defaultdict(list))
    for o in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(o)
        inputs = op.InputsAsNumpy() if op.InputsLength() else []
        outputs = op.OutputsAsNumpy() if op.OutputsLength() else []
        node = _Node(
            modelinfo.op_name(model, op.OpcodeIndex()),
            int(model.OperatorCodes(op.OpcodeIndex()).Version()),
            tuple(folded.get(int(i)) or tensor(int(i)) if i >= 0 else None for i in inputs),
            tuple(tensor(int(i)) for i in outputs),
            schema.BuiltinOptionsCreator(op.BuiltinOptionsType(), op.BuiltinOptions()),
        )
        graph.nodes.append(node)
        source = node.inputs[0] if _is_fp16_weights(node) else None
        if source is not None and node.outputs:
            folded[node.outputs[0].index] = source
        for t in node.inputs:
            if t is not None:
                graph.consumers[t.index].append(node)
        for t in node.outputs:
            graph.producers[t.index].append(node)
    return graph


def gpu_compatibility(data: bytes) -> GpuVerdict:
    """The delegate's verdict on every node of every subgraph of the model in ``data``."""
    model = modelinfo.root(data)
    rejected: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    nodes = 0
    for s in range(model.SubgraphsLength()):
        graph = _read_graph(model, model.Subgraphs(s))
        for node in graph.nodes:
            nodes += 1
            reason = _reason(node, graph)
            if reason is not None:
                rejected[node.op] += 1
                reasons.setdefault(node.op, reason)
    return GpuVerdict(dict(sorted(rejected.items())), dict(sorted(reasons.items())), nodes)
