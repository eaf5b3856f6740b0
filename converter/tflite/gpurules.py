"""The TFLite GPU delegate's rules: the ops it takes, their newest versions, each op's checks.

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

Applied where the graph is read (``converter.tflite.gpu``, which gives the verdict): the
node filter's tensor types and ranks, and the rules that look past one node (comparisons,
casts from bool, folded float16 weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from math import prod
from typing import Any, TypeVar

from ai_edge_litert import schema_py_generated as schema

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

FLOATS = frozenset({"FLOAT32", "FLOAT16"})
_CASTS = frozenset(
    {("BOOL", "FLOAT16"), ("BOOL", "FLOAT32"), ("FLOAT16", "BOOL"), ("FLOAT32", "BOOL")}
    | {(a, b) for a in ("FLOAT32", "INT32") for b in ("FLOAT32", "INT32")}
)


@dataclass(frozen=True)
class Tensor:
    """A tensor as the rules see it (``converter.tflite.gpu`` reads it from the flatbuffer)."""

    index: int
    dtype: str
    shape: tuple[int, ...]
    const: bool  # data in a buffer: the runtime maps it read-only and never type-checks it
    variable: bool


@dataclass(frozen=True)
class Node:
    """One operator as the rules see it: its op name and version, tensors and options."""

    op: str
    version: int
    inputs: tuple[Tensor | None, ...]  # None: an optional input left out
    outputs: tuple[Tensor, ...]
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


Check = Callable[[Node], str | None]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _counts(node: Node, runtime: int, outputs: int, const: int | None = None) -> str | None:
    if const is not None and node.const_inputs != const:
        return f"needs {_plural(const, 'constant input')}, has {node.const_inputs}"
    if node.runtime_inputs != runtime:
        return f"needs {_plural(runtime, 'runtime input')}, has {node.runtime_inputs}"
    if len(node.outputs) != outputs:
        return f"needs {_plural(outputs, 'output')}, has {len(node.outputs)}"
    return None


def _unary(node: Node) -> str | None:
    return _counts(node, runtime=1, outputs=1)


def _one_or_two_operands(node: Node) -> str | None:
    if _counts(node, 2, 1, const=0) and _counts(node, 1, 1, const=1):
        return "needs two runtime operands, or one and a constant"
    return None


def _positive(node: Node, height: str, width: str, what: str) -> str | None:
    h, w = node.option(height), node.option(width)
    return None if h > 0 and w > 0 else f"{what} {h}x{w} are not positive"


def _activation(node: Node) -> str | None:
    sign_bit = node.option("fusedActivationFunction") == schema.ActivationFunctionType.SIGN_BIT
    return "fused activation SIGN_BIT" if sign_bit else None


def _binary(node: Node) -> str | None:
    return _one_or_two_operands(node) or _activation(node)


def _conv_inputs(node: Node) -> str | None:
    if node.runtime_inputs > 2:
        return f"needs 1 or 2 runtime inputs, has {node.runtime_inputs}"
    if len(node.outputs) != 1:
        return f"needs 1 output, has {len(node.outputs)}"
    if node.runtime_inputs == 1 and len(node.inputs) < 2:
        return "has no filter"
    return None


def _conv_2d(node: Node) -> str | None:
    return (
        _conv_inputs(node)
        or _positive(node, "strideH", "strideW", "strides")
        or _positive(node, "dilationHFactor", "dilationWFactor", "dilations")
        or _activation(node)
    )


def _depthwise_conv_2d(node: Node) -> str | None:
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


def _transpose_conv(node: Node) -> str | None:
    return _conv_inputs(node) or _positive(node, "strideH", "strideW", "strides")


def _pool(node: Node) -> str | None:
    return (
        _unary(node)
        or _positive(node, "filterHeight", "filterWidth", "kernel sizes")
        or _positive(node, "strideH", "strideW", "strides")
        or _activation(node)
    )


def _fully_connected(node: Node) -> str | None:
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


def _softmax(node: Node) -> str | None:
    beta = node.option("beta")
    return None if beta == 1 else f"softmax beta {beta:g} is not 1"


def _axes(node: Node) -> str | None:
    axes = node.inputs[1] if len(node.inputs) > 1 else None
    if axes is None or not axes.const:
        return "axes are not constant"
    return None if axes.dtype == "INT32" else f"axes of type {axes.dtype}"


def _mean(node: Node) -> str | None:
    return _counts(node, runtime=1, outputs=1, const=1) or _axes(node)


def _reduce(node: Node) -> str | None:
    return _unary(node) or _axes(node)


def _rank_3_or_4(node: Node) -> str | None:
    rank = len(node.input_shape(0))
    return None if rank in (3, 4) else f"input of rank {rank}, not 3 or 4"


def _slice(node: Node) -> str | None:
    return "needs 3 inputs" if len(node.inputs) < 3 else _rank_3_or_4(node)


def _strided_slice(node: Node) -> str | None:
    for mask, name in [
        ("ellipsisMask", "ellipsis_mask"),
        ("newAxisMask", "new_axis_mask"),
        ("shrinkAxisMask", "shrink_axis_mask"),
    ]:
        if node.option(mask):
            return f"{name} is set"
    return "needs 4 inputs" if len(node.inputs) < 4 else _rank_3_or_4(node)


def _pad(node: Node) -> str | None:
    if node.op == "MIRROR_PAD" and node.option("mode") != schema.MirrorPadMode.REFLECT:
        return "mirror padding other than REFLECT"
    reason = _unary(node)
    if reason:
        return reason
    shape = node.input_shape(1)
    if len(shape) != 2 or shape[0] not in (3, 4) or shape[1] != 2:
        return f"paddings of shape {list(shape)}, not 4x2 or 3x2"
    return None


def _resize_bilinear(node: Node) -> str | None:
    both = node.option("alignCorners") and node.option("halfPixelCenters")
    return _unary(node) or ("align_corners with half_pixel_centers" if both else None)


def _block_size(node: Node) -> str | None:
    size = node.option("blockSize")
    return _unary(node) or (None if size > 1 else f"block size {size} (needs more than 1)")


def _dequantize(node: Node) -> str | None:
    if len(node.inputs) != 1 or len(node.outputs) != 1:
        return "needs 1 input and 1 output"
    source = node.inputs[0]
    return "dequantizes INT16" if source is not None and source.dtype == "INT16" else None


def _cumsum(node: Node) -> str | None:
    if len(node.inputs) != 2 or not node.outputs:
        return "needs 2 inputs"
    data, axis = node.inputs
    if data is None or data.dtype not in FLOATS or node.outputs[0].dtype != data.dtype:
        return "needs float input and output of one type"
    if axis is None or not axis.const or axis.dtype != "INT32":
        return "axis is not a constant INT32"
    return None


def _cast(node: Node) -> str | None:
    reason = _unary(node)
    if reason or node.inputs[0] is None:
        return reason
    source, target = node.inputs[0].dtype, node.outputs[0].dtype
    return None if (source, target) in _CASTS else f"cast from {source} to {target}"


def _gather(node: Node) -> str | None:
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


def _add(node: Node) -> str | None:
    if len(node.inputs) != 2:
        return "needs 2 inputs"
    return _broadcast(node.input_shape(0), node.input_shape(1))


def _mul(node: Node) -> str | None:
    return _add(node) or _activation(node)


def _two_inputs(node: Node) -> str | None:
    return None if len(node.inputs) == 2 else f"has {_plural(len(node.inputs), 'input')}, not 2"


def _batch_matmul(node: Node) -> str | None:
    return _two_inputs(node) or (None if len(node.outputs) == 1 else "needs 1 output")


def _select(node: Node) -> str | None:
    if len(node.inputs) != 3 or len(node.outputs) != 1 or node.inputs[0] is None:
        return "needs 3 inputs and 1 output"
    condition = node.inputs[0].dtype
    ok = condition == "BOOL" or condition in FLOATS
    return None if ok else f"condition of type {condition}"


def _transpose_conv_bias(node: Node) -> str | None:
    return None if len(node.inputs) > 1 else "has no filter"  # strides are custom options


def _resampler(node: Node) -> str | None:
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
CHECKS: dict[str, Check] = {
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
