"""GPU delegate compatibility, on flatbuffers built here with the schema (no TF)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from converter.tflite.gpu import GpuVerdict, gpu_compatibility
from converter.tflite.gpurules import CHECKS, MAX_VERSIONS

F32 = "FLOAT32"


@dataclass
class Op:
    name: str  # a BuiltinOperator name, "CUSTOM:Name" or "FLEX:Name"
    inputs: list[int]  # tensor indices; -1 leaves an optional input out
    outputs: list[int]
    version: int = 1
    options: Any = None  # an object-API options table, e.g. schema.Conv2DOptionsT


def options(cls: type, **fields: Any) -> Any:
    table = cls()
    for name, value in fields.items():
        assert hasattr(table, name), name
        setattr(table, name, value)
    return table


def model(tensors: Sequence[tuple[str, Sequence[int], bool]], ops: Sequence[Op]) -> bytes:
    """One subgraph; ``tensors`` are (type, shape, constant), referred to by index."""
    built = schema.ModelT()
    built.version = 3
    built.buffers = [schema.BufferT()]
    subgraph = schema.SubGraphT()
    subgraph.tensors = []
    for dtype, shape, const in tensors:
        tensor = schema.TensorT()
        tensor.type = getattr(schema.TensorType, dtype)
        tensor.shape = list(shape)
        if const:
            buffer = schema.BufferT()
            buffer.data = np.zeros(4, np.uint8)
            built.buffers.append(buffer)
            tensor.buffer = len(built.buffers) - 1
        subgraph.tensors.append(tensor)
    built.operatorCodes = []
    codes: dict[tuple[str, int], int] = {}
    subgraph.operators = []
    for spec in ops:
        if (spec.name, spec.version) not in codes:
            kind, _, custom = spec.name.partition(":")
            code = schema.OperatorCodeT()
            code.builtinCode = getattr(schema.BuiltinOperator, "CUSTOM" if custom else kind)
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
            code.version = spec.version
            if custom:
                code.customCode = f"Flex{custom}" if kind == "FLEX" else custom
            codes[spec.name, spec.version] = len(built.operatorCodes)
            built.operatorCodes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex = codes[spec.name, spec.version]
        op.inputs, op.outputs = spec.inputs, spec.outputs
        if spec.options is not None:
            union = type(spec.options).__name__.removesuffix("T")
            op.builtinOptionsType = getattr(schema.BuiltinOptions, union)
            op.builtinOptions = spec.options
        subgraph.operators.append(op)
    built.subgraphs = [subgraph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(built.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def one_op(op: str, inputs: Sequence[tuple[str, Sequence[int], bool]], **kwargs: Any) -> bytes:
    """A model of one node reading ``inputs`` and writing one tensor (``output``, float)."""
    output = kwargs.pop("output", (F32, [1, 4], False))
    tensors = [*inputs, output]
    return model(tensors, [Op(op, list(range(len(inputs))), [len(inputs)], **kwargs)])


def conv_options(**fields: Any) -> Any:
    return options(schema.Conv2DOptionsT, **{"strideH": 1, "strideW": 1, **fields})


def test_an_ordinary_float_cnn_passes() -> None:
    tensors = [
        (F32, [1, 8, 8, 1], False),  # 0 image
        (F32, [4, 3, 3, 1], True),  # 1 filter
        (F32, [4], True),  # 2 bias
        (F32, [1, 8, 8, 4], False),  # 3
        (F32, [1, 4, 4, 4], False),  # 4
        ("INT32", [2], True),  # 5 new shape
        (F32, [1, 64], False),  # 6
        (F32, [3, 64], True),  # 7 weights
        (F32, [1, 3], False),  # 8
        (F32, [1, 3], False),  # 9 probabilities
    ]
    pool = options(schema.Pool2DOptionsT, filterHeight=2, filterWidth=2, strideH=2, strideW=2)
    data = model(
        tensors,
        [
            Op(
                "CONV_2D",
                [0, 1, 2],
                [3],
                version=1,
                options=conv_options(fusedActivationFunction=1),
            ),
            Op("MAX_POOL_2D", [3], [4], options=pool),
            Op("RESHAPE", [4, 5], [6]),
            Op("FULLY_CONNECTED", [6, 7, -1], [8], version=9),
            Op("SOFTMAX", [8], [9], options=options(schema.SoftmaxOptionsT, beta=1.0)),
        ],
    )
    verdict = gpu_compatibility(data)
    assert verdict == GpuVerdict({}, {}, 5)
    assert verdict.compatible
    assert verdict.sentence() == "all 5 ops can run on the GPU delegate"


def test_rejections_are_counted_per_op_with_the_first_reason() -> None:
    tensors = [
        (F32, [1, 8], False),  # 0
        ("INT32", [], True),  # 1 axis
        ("INT64", [1], False),  # 2
        ("INT64", [1], False),  # 3
        (F32, [1, 8], False),  # 4
        (F32, [1, 8], False),  # 5
        (F32, [3, 8], True),  # 6
        (F32, [1, 3], False),  # 7
        ("INT64", [1], False),  # 8
        (F32, [1, 8], False),  # 9
    ]
    data = model(
        tensors,
        [
            Op("ARG_MAX", [0, 1], [2]),
            Op("ARG_MAX", [0, 1], [3]),
            Op("FLEX:Erf", [0], [4]),
            Op("CUSTOM:MyOp", [4], [5]),
            Op("FULLY_CONNECTED", [5, 6, -1], [7], version=12),
            Op("ADD", [2, 3], [8]),
            Op("RELU", [5], [9]),
        ],
    )
    verdict = gpu_compatibility(data)
    assert verdict.rejected == {
        "ADD": 1,
        "ARG_MAX": 2,
        "CUSTOM:MyOp": 1,
        "FLEX:Erf": 1,
        "FULLY_CONNECTED": 1,
    }
    assert verdict.reasons == {
        "ADD": "input of type INT64",
        "ARG_MAX": "not supported",
        "CUSTOM:MyOp": "custom op not supported",
        "FLEX:Erf": "a Select TF op",
        "FULLY_CONNECTED": "version 12 is over the delegate's 9",
    }
    assert verdict.nodes == 7
    assert not verdict.compatible
    assert verdict.sentence() == (
        "6 of 7 ops cannot run on the GPU delegate: ADD (1, input of type INT64), "
        "ARG_MAX (2, not supported), CUSTOM:MyOp (1, custom op not supported), "
        "FLEX:Erf (1, a Select TF op), FULLY_CONNECTED (1, version 12 is over the delegate's 9)"
    )
    round_trip = GpuVerdict.from_dict(json.loads(json.dumps(verdict.to_dict())))
    assert round_trip == verdict
    assert verdict.to_dict()["compatible"] is False


IMAGE = (F32, [1, 8, 8, 4], False)
FILTER = (F32, [4, 3, 3, 4], True)


# One node each: op, inputs (type, shape, constant), Op fields or output, reason or None.
# fmt: off
CASES: list[tuple[str, list[tuple[str, list[int], bool]], dict[str, Any], str | None]] = [
    ("CONV_2D", [IMAGE, FILTER], {"options": conv_options()}, None),
    ("CONV_2D", [IMAGE, FILTER], {"options": conv_options(strideW=0)}, "strides 1x0 are not positive"),
    ("CONV_2D", [IMAGE, FILTER], {"options": conv_options(fusedActivationFunction=5)}, "fused activation SIGN_BIT"),
    ("CONV_2D", [IMAGE, FILTER], {"version": 7, "options": conv_options()}, "version 7 is over the delegate's 6"),
    ("CONV_2D", [IMAGE, FILTER, IMAGE, IMAGE], {"options": conv_options()}, "needs 1 or 2 runtime inputs, has 3"),
    ("SOFTMAX", [(F32, [1, 4], False)], {"options": options(schema.SoftmaxOptionsT, beta=2.0)}, "softmax beta 2 is not 1"),
    ("FULLY_CONNECTED", [(F32, [1, 4], True), (F32, [4, 4], False)], {}, "constant input"),
    ("MEAN", [IMAGE, ("INT32", [2], False)], {}, "needs 1 constant input, has 0"),
    ("MEAN", [IMAGE, ("INT64", [2], True)], {}, "axes of type INT64"),
    ("STRIDED_SLICE", [(F32, [1, 64], False), *[("INT32", [2], True)] * 3], {}, "input of rank 2, not 3 or 4"),
    ("STRIDED_SLICE", [IMAGE, *[("INT32", [4], True)] * 3], {"options": options(schema.StridedSliceOptionsT, shrinkAxisMask=1)}, "shrink_axis_mask is set"),
    ("PAD", [IMAGE, ("INT32", [4, 2], True)], {}, None),
    ("PAD", [IMAGE, ("INT32", [5, 2], True)], {}, "paddings of shape [5, 2], not 4x2 or 3x2"),
    ("CUMSUM", [(F32, [1, 4], False), ("INT32", [], True)], {}, None),
    ("CUMSUM", [(F32, [1, 4], False), ("INT32", [], False)], {}, "axis is not a constant INT32"),
    ("CAST", [("INT64", [1, 4], False)], {}, "cast from INT64 to FLOAT32"),
    ("CAST", [("INT32", [1, 4], False)], {}, None),
    # The delegate's standard broadcasting, cases from its own tests.
    ("ADD", [(F32, [1, 128, 513, 3], False), (F32, [128, 513, 3], False)], {"output": (F32, [1, 128, 513, 3], False)}, None),
    ("ADD", [(F32, [1, 4, 4, 10], False), (F32, [1, 10], False)], {"output": (F32, [1, 4, 4, 10], False)}, None),
    ("ADD", [(F32, [1, 100, 256], False), (F32, [100, 256], False)], {"output": (F32, [1, 100, 256], False)}, "broadcasts [1, 100, 256] with [100, 256]"),
    ("ADD", [(F32, [4, 1, 1, 2], False), (F32, [1, 1, 2], False)], {"output": (F32, [4, 1, 1, 2], False)}, "broadcasts [4, 1, 1, 2] with [1, 1, 2]"),
    ("ADD", [(F32, [1, 1, 2, 2, 2], False), (F32, [1, 1, 2, 2, 2], False)], {}, "input of rank 5"),
    # Quantized tensors: 8-bit at run time is fine, 16-bit (int16x8 models) is not.
    ("ADD", [("INT8", [1, 4], False), ("INT8", [1, 4], False)], {"output": ("INT8", [1, 4], False)}, None),
    ("ADD", [("INT16", [1, 4], False), ("INT16", [1, 4], False)], {"output": ("INT16", [1, 4], False)}, "input of type INT16"),
    ("DEQUANTIZE", [("INT16", [1, 4], False)], {"version": 3}, "dequantizes INT16"),
    ("DEQUANTIZE", [("INT8", [1, 4], False)], {"version": 4}, "version 4 is over the delegate's 3"),
    ("CUSTOM:MaxUnpooling2D", [IMAGE, IMAGE], {}, None),
    ("CUSTOM:Resampler", [IMAGE, (F32, [1, 8, 8, 1], False)], {}, "warp has fewer than 2 channels"),
]
# fmt: on


@pytest.mark.parametrize(("op", "inputs", "extra", "reason"), CASES)
def test_per_op_checks(
    op: str, inputs: list[tuple[str, list[int], bool]], extra: dict[str, Any], reason: str | None
) -> None:
    verdict = gpu_compatibility(one_op(op, inputs, **extra))
    assert verdict.nodes == 1
    assert verdict.reasons == ({} if reason is None else {op: reason})
    assert verdict.rejected == ({} if reason is None else {op: 1})


def test_a_comparison_must_feed_a_cast_to_float() -> None:
    tensors = [(F32, [1, 4], False), (F32, [1, 4], False), ("BOOL", [1, 4], False)]
    as_output = model(tensors, [Op("GREATER", [0, 1], [2])])
    assert gpu_compatibility(as_output).reasons == {
        "GREATER": "result does not feed one CAST or SELECT to float"
    }
    cast = [Op("GREATER", [0, 1], [2]), Op("CAST", [2], [3])]
    tensors += [(F32, [1, 4], False), (F32, [1, 4], False)]
    assert gpu_compatibility(model(tensors, [*cast, Op("RELU", [3], [4])])).compatible
    # Casting to a model output is left to the CPU.
    assert gpu_compatibility(model(tensors, cast)).reasons == {
        "CAST": "cast from BOOL does not feed exactly one op"
    }
    # A bool input of the model is no comparison's result: the delegate leaves that cast out.
    lone_cast = model([("BOOL", [1, 4], False), (F32, [1, 4], False)], [Op("CAST", [0], [1])])
    assert gpu_compatibility(lone_cast).reasons == {"CAST": "casts a BOOL no single op makes"}


def test_float16_weights_are_folded_into_their_reader() -> None:
    """A float16 model dequantizes its weights at run time; the delegate reads the constants."""

    def conv(const: bool) -> bytes:
        tensors = [
            IMAGE,
            ("FLOAT16", [4, 3, 3, 4], const),
            ("FLOAT16", [4], const),
            (F32, [4, 3, 3, 4], False),
            (F32, [4], False),
            IMAGE,
        ]
        ops = [
            Op("DEQUANTIZE", [1], [3], version=3),
            Op("DEQUANTIZE", [2], [4], version=3),
            Op("CONV_2D", [0, 3, 4], [5], options=conv_options()),
        ]
        return model(tensors, ops)

    assert gpu_compatibility(conv(const=True)) == GpuVerdict({}, {}, 3)
    # Only constants fold: dequantized at run time, filter and bias are two more inputs.
    assert gpu_compatibility(conv(const=False)).reasons == {
        "CONV_2D": "needs 1 or 2 runtime inputs, has 3"
    }


def test_the_tables_name_real_ops() -> None:
    builtins = {name for name in vars(schema.BuiltinOperator) if not name.startswith("_")}
    for op in MAX_VERSIONS:
        assert op.startswith("CUSTOM:") or op in builtins, op
    assert set(CHECKS) <= set(MAX_VERSIONS)
