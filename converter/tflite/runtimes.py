"""Which TFLite runtime first runs each builtin op version, and so which runtime a model needs.

The facts are TF's own: the table in TF's runtime_version.cc
(``FindMinimumRuntimeVersionForOp``), from which the converter computes the
``min_runtime_version`` metadata of every model it writes. They are transcribed
here, as data, from the copy LiteRT keeps in
``tflite/converter/tools/versioning/runtime_version.cc`` (its change of July
2026, 82abce880), a superset of TensorFlow 2.21's. With the table we can say
not only which runtime a model needs but *which op version* makes it need it,
and check a model against a device's runtime without TensorFlow.

A runtime version is "MAJOR.MINOR.PATCH"; "2.14" means 2.14.0, its first release.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from converter.codec import Record

Version = tuple[int, int, int]

# One builtin op a line: the first runtime of version 1, 2, 3, ... in order
# ("-" for a version the table does not list; a ".0" patch is left out).
_TABLE = """
    ABS: 1.13 2.4 2.5 2.6 2.12
    ADD: 1.5 1.14 2.4 2.6 2.13 2.23
    ADD_N: 1.14
    ARG_MAX: 1.9 1.14 2.9
    ARG_MIN: 1.9 1.14 2.9
    ASSIGN_VARIABLE: 2.6
    ATAN2: 2.10
    AVERAGE_POOL_2D: 1.5 1.14 2.3
    BATCH_MATMUL: 2.3 2.3 2.4 2.5
    BATCH_TO_SPACE_ND: 1.6 1.14 2.3 2.12
    BIDIRECTIONAL_SEQUENCE_LSTM: 1.14 1.14 1.14
    BIDIRECTIONAL_SEQUENCE_RNN: 1.14 1.14 2.3
    BITCAST: 2.13
    BITWISE_XOR: 2.13
    BROADCAST_ARGS: 2.6
    BROADCAST_TO: - 2.5 2.5 2.23
    BUCKETIZE: 2.8
    CALL_ONCE: 2.5
    CAST: 1.5 2.7 2.8 2.9 2.12 2.15 2.17 2.21 2.23
    CEIL: 1.14
    COMPLEX_ABS: 2.5
    CONCATENATION: 1.5 1.14 2.3 2.14 2.21 2.23 2.23
    CONV_2D: 1.5 1.14 1.14 2.3 2.4 2.9 2.11 2.15
    CONV_3D: 2.5
    CONV_3D_TRANSPOSE: 2.6
    COS: 1.14 2.23
    CUMSUM: 2.4
    DENSIFY: 2.2
    DEPTHWISE_CONV_2D: 1.5 1.12 1.14 2.2 2.3 2.3 2.11
    DEPTH_TO_SPACE: 2.1 2.5
    DEQUANTIZE: 1.13.1 1.14 1.15 2.2 2.7 2.18 2.21 2.22 2.23
    DILATE: 2.15
    DIV: 1.6 2.3
    DYNAMIC_UPDATE_SLICE: 2.9 2.17 2.19 2.20 2.21 2.22
    ELU: 1.14
    EMBEDDING_LOOKUP: 1.13 1.14 1.14 2.18 2.21
    EMBEDDING_LOOKUP_SPARSE: 1.5
    EQUAL: 1.14 1.14 2.3 2.13 2.21
    EXP: 1.7 2.12
    EXPAND_DIMS: 1.10
    FAKE_QUANT: 1.5 1.10
    FILL: 1.13 2.3 2.5 2.12 2.23
    FLOOR: 1.9
    FLOOR_DIV: 1.14 1.14 2.13
    FLOOR_MOD: 1.13 2.13
    FULLY_CONNECTED: 1.5 1.10 1.14 1.14 2.0 2.1 2.3 2.3 2.3 2.11 2.15 2.17 2.18 2.21
    GATHER: 1.6 1.14 1.15 2.4 2.5 2.13 2.15 2.23
    GATHER_ND: 1.14 2.3 2.5 2.13 2.16 2.23
    GELU: 2.9 2.9 2.23
    GREATER: 1.14 1.14
    GREATER_EQUAL: 1.14 1.14 2.13
    HARD_SWISH: 1.15
    HASHTABLE: 2.5
    HASHTABLE_FIND: 2.5
    HASHTABLE_IMPORT: 2.5
    HASHTABLE_LOOKUP: 1.5
    HASHTABLE_SIZE: 2.5
    IF: 1.15
    IMAG: 2.5
    L2_NORMALIZATION: 1.5 1.14
    L2_POOL_2D: 1.5
    LEAKY_RELU: 1.13.1 2.3
    LESS: 1.14 1.14 2.13
    LESS_EQUAL: 1.14 1.14
    LOCAL_RESPONSE_NORMALIZATION: 1.5
    LOG: 1.14 2.15
    LOGICAL_AND: 1.11
    LOGICAL_NOT: 1.11
    LOGICAL_OR: 1.11
    LOGISTIC: 1.14 1.14 2.3
    LOG_SOFTMAX: 1.14 1.14
    LSH_PROJECTION: 1.5
    LSTM: 1.7 1.10 1.14 2.3
    MATRIX_DIAG: 1.14
    MATRIX_SET_DIAG: 1.14
    MAXIMUM: 1.14 1.14 2.3 2.3
    MAX_POOL_2D: 1.5 1.14 2.3
    MEAN: 1.6 1.14 2.4
    MINIMUM: 1.14 1.14 2.3 2.3
    MIRROR_PAD: 1.13.1 2.3 2.12
    MUL: 1.5 1.14 1.15 2.3 2.6 2.11 2.13 2.23
    MULTINOMIAL: 2.8
    NEG: 1.9
    NON_MAX_SUPPRESSION_V4: 2.1
    NON_MAX_SUPPRESSION_V5: 2.1
    NOT_EQUAL: 1.14 1.14 2.3 2.21
    ONE_HOT: 1.11
    PACK: 1.11 1.14 2.3 2.13 2.23
    PAD: 1.5 1.14 2.4 2.6 2.20 2.23
    PADV2: 1.9 1.14 2.4 2.6 2.20 2.23
    POW: 1.10
    PRELU: 1.8
    QUANTIZE: 1.14 1.15 2.7 2.21 2.21 2.21
    RANDOM_STANDARD_NORMAL: 2.8
    RANDOM_UNIFORM: 2.8
    RANGE: 1.13 2.14
    RANK: 1.14
    READ_VARIABLE: 2.6
    REAL: 2.5
    REDUCE_ALL: 2.6
    REDUCE_ANY: 1.11
    REDUCE_MAX: 1.11 1.14 2.5
    REDUCE_MIN: 1.11 1.14 2.5
    REDUCE_PROD: 1.11 2.6
    REDUCE_WINDOW: 2.15
    RELU: 1.5 2.1 2.5
    RELU6: 1.5 1.14 2.5
    RELU_0_TO_1: 2.10
    RELU_N1_TO_1: 1.5
    RESHAPE: 1.5
    RESIZE_BILINEAR: 1.7 1.14 2.2 2.5
    RESIZE_NEAREST_NEIGHBOR: 1.13.1 1.14 2.3 2.4
    REVERSE_SEQUENCE: 1.14
    REVERSE_V2: 1.14 2.2 2.5 2.23
    RFFT2D: 2.5
    RIGHT_SHIFT: 2.13
    RNN: 1.5 1.14 2.3
    ROUND: 1.14
    RSQRT: 1.10 2.5 2.15
    SCATTER_ND: 2.1
    SEGMENT_SUM: 2.2
    SELECT: 1.14 1.14 2.12 2.12
    SELECT_V2: 2.2 2.12
    SHAPE: 1.10
    SIGN: 2.11 2.12
    SIN: 1.9 2.23
    SKIP_GRAM: 1.5
    SLICE: 1.14 1.14 1.14 2.4 2.5 2.14 2.21 2.23
    SOFTMAX: 1.5 1.14 2.3 2.23
    SPACE_TO_BATCH_ND: 1.6 1.14 2.3 2.12
    SPACE_TO_DEPTH: 1.5 1.14
    SPARSE_TO_DENSE: 1.9 1.14 1.15
    SPLIT: 1.5 1.14 1.14 2.3 2.23
    SPLIT_V: 1.13.1 2.3 2.23
    SQRT: 1.10 2.21
    SQUARE: 1.12
    SQUARED_DIFFERENCE: 1.13.1 2.5
    SQUEEZE: 1.6 2.5
    STABLEHLO_ADD: 2.16
    STABLEHLO_AND: 2.17
    STABLEHLO_CASE: 2.17
    STABLEHLO_CBRT: 2.17
    STABLEHLO_COMPOSITE: 2.17
    STABLEHLO_GATHER: 2.16
    STABLEHLO_MAXIMUM: 2.16
    STABLEHLO_MINIMUM: 2.16
    STABLEHLO_MULTIPLY: 2.16
    STABLEHLO_PAD: 2.16
    STABLEHLO_REDUCE_WINDOW: 2.16
    STABLEHLO_RNG_BIT_GENERATOR: 2.15
    STABLEHLO_SCATTER: 2.15
    STABLEHLO_SHIFT_LEFT: 2.17
    STRIDED_SLICE: 1.6 1.14 2.1 2.2 2.5 2.6 2.14 2.14
    SUB: 1.6 1.14 2.3 2.4 2.4
    SUM: 1.10 1.15
    SVDF: 1.5 1.14 2.2 2.3
    TANH: 1.14 1.14 2.3
    TILE: 1.10.1 2.2 2.8
    TOPK_V2: 1.7 1.14 2.13
    TRANSPOSE: 1.6 1.14 1.15 2.3 2.4 2.12 2.14.4 2.22 2.23
    TRANSPOSE_CONV: 1.9 2.2 2.3 2.13 2.15
    UNIDIRECTIONAL_SEQUENCE_LSTM: 1.13.1 1.14 2.3 2.12
    UNIDIRECTIONAL_SEQUENCE_RNN: 1.14 1.14 2.3
    UNIQUE: 1.14
    UNPACK: 1.11 1.14 2.2 2.3 2.22 2.23
    UNSORTED_SEGMENT_MAX: 2.10
    UNSORTED_SEGMENT_MIN: 2.11
    UNSORTED_SEGMENT_PROD: 2.10
    UNSORTED_SEGMENT_SUM: 2.10
    VAR_HANDLE: 2.6
    WHERE: 1.14 2.8
    WHILE: 1.15
    ZEROS_LIKE: 1.12
"""


def parse_version(text: str) -> Version:
    """``"2.14"`` -> ``(2, 14, 0)``; ``"2"``, ``"2.14"`` and ``"2.14.0"`` are accepted."""
    if not isinstance(text, str):  # YAML reads 2.10 as the number 2.1
        raise ValueError(f'runtime version {text!r} is not a string: write it quoted, as "2.14"')
    if not re.fullmatch(r"\d+(\.\d+){0,2}", text):
        raise ValueError(f"runtime version {text!r} is not of the form 2, 2.14 or 2.14.0")
    parts = [int(p) for p in text.split(".")] + [0, 0]
    return parts[0], parts[1], parts[2]


def show_version(version: Version | str) -> str:
    """``(2, 17, 0)`` -> ``"2.17"``: a ".0" patch is dropped, any other kept (``"1.13.1"``)."""
    major, minor, patch = parse_version(version) if isinstance(version, str) else version
    return f"{major}.{minor}" if patch == 0 else f"{major}.{minor}.{patch}"


def _full(version: Version) -> str:
    return ".".join(str(p) for p in version)


def _parse_table(text: str) -> dict[str, dict[int, str]]:
    table: dict[str, dict[int, str]] = {}
    for line in text.strip().splitlines():
        op, _, cells = line.strip().partition(": ")
        table[op] = {
            version: _full(parse_version(cell))
            for version, cell in enumerate(cells.split(), start=1)
            if cell != "-"
        }
    return table


FIRST_RUNTIME: dict[str, dict[int, str]] = _parse_table(_TABLE)
"""Builtin op name (as ``modelinfo.op_name`` gives it) -> op version -> first runtime."""


def first_runtime(op: str, version: int) -> str | None:
    """The first runtime ("x.y.z") that runs ``op`` at ``version``; None when the table has no
    entry (custom ``CUSTOM:x`` and Select TF ``FLEX:x`` ops never have one)."""
    return FIRST_RUNTIME.get(op, {}).get(version)


@dataclass(frozen=True)
class Need(Record):
    """The oldest runtime that can load a model, and why."""

    version: str  # "x.y.z"; "" when nothing is known
    because: str | None  # the op version that sets it ("FULLY_CONNECTED v12"); None: metadata
    unknown: tuple[str, ...] = ()  # builtin op versions the table does not know ("FOO v9")


def needs(ops: Mapping[str, Sequence[int]], metadata: str = "") -> Need:
    """The largest first runtime over the op versions and the artifact's own
    ``min_runtime_version`` metadata (``metadata``); on a tie the op version is named."""
    best: Version | None = None
    because: str | None = None
    unknown: list[str] = []
    for op in sorted(ops):
        if op.startswith(("CUSTOM:", "FLEX:")):
            continue
        for version in sorted(set(ops[op])):
            runtime = first_runtime(op, version)
            if runtime is None:
                unknown.append(f"{op} v{version}")
            elif best is None or parse_version(runtime) > best:
                best, because = parse_version(runtime), f"{op} v{version}"
    if metadata and (best is None or parse_version(metadata) > best):
        best, because = parse_version(metadata), None
    return Need("" if best is None else _full(best), because, tuple(unknown))


def need_of(data: bytes) -> Need:
    """``needs`` on an artifact's bytes: its op versions and its own metadata."""
    # Imported here: the flatbuffer schema imports numpy, and the table alone needs neither.
    from converter.tflite import modelinfo

    return needs(modelinfo.op_versions(data), modelinfo.min_runtime_version(data))


def loads_on(need: Need, runtime: str) -> bool | None:
    """Whether a runtime of version ``runtime`` can load the model: None when the known part
    passes but some op version is unknown to the table, so no one can vouch for it."""
    available = parse_version(runtime)  # checked even when nothing is needed
    if need.version and parse_version(need.version) > available:
        return False
    return None if need.unknown else True
