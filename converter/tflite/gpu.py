"""The GPU delegate's verdict on a .tflite model: its graph read into nodes, each node judged.

The rules, and where they come from, are ``converter.tflite.gpurules``'s: the ops the
delegate takes and each op's own checks. Here the flatbuffer is read without TensorFlow
into the nodes those rules judge, and the rest of the delegate's rules are applied: its
node filter (``GetOpsToReplace``: tensor types and ranks), comparisons that must feed a
float CAST or SELECT, casts from bool, and a float16 model's DEQUANTIZE of its weights,
folded away.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from ai_edge_litert import schema_py_generated as schema

from converter.codec import Record, to_dict
from converter.tflite import modelinfo
from converter.tflite.gpurules import CHECKS, FLOATS, MAX_VERSIONS, Node, Tensor

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
_TYPE_NAMES = {
    value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")
}


@dataclass(frozen=True)
class GpuVerdict(Record):
    """Which ops the GPU delegate would leave to the CPU, and why."""

    rejected: dict[str, int]  # op -> how many of its nodes the delegate cannot take
    reasons: dict[str, str]  # op -> the first node's reason, one short phrase
    nodes: int  # every node checked, over all subgraphs

    @property
    def compatible(self) -> bool:
        return not self.rejected

    def to_dict(self) -> dict[str, Any]:
        return {**to_dict(self), "compatible": self.compatible}

    def sentence(self) -> str:
        if self.compatible:
            return f"all {self.nodes} ops can run on the GPU delegate"
        parts = ", ".join(f"{op} ({n}, {self.reasons[op]})" for op, n in self.rejected.items())
        count = sum(self.rejected.values())
        return f"{count} of {self.nodes} ops cannot run on the GPU delegate: {parts}"


@dataclass(frozen=True)
class _Graph:
    nodes: list[Node]
    producers: dict[int, list[Node]]
    consumers: dict[int, list[Node]]


def _comparison(node: Node, graph: _Graph) -> str | None:
    """The delegate computes a comparison only as the condition of a float CAST or SELECT."""
    result = node.outputs[0].index if node.outputs else -1
    readers = graph.consumers.get(result, [])
    if len(graph.producers.get(result, [])) == 1 and len(readers) == 1:
        reader = readers[0]
        if reader.op in ("CAST", "SELECT", "SELECT_V2") and reader.outputs[0].dtype in FLOATS:
            return None
    return "result does not feed one CAST or SELECT to float"


def _cast_from_bool(node: Node, graph: _Graph) -> str | None:
    if not node.inputs or not node.outputs:
        return None  # the CAST check itself rejects it
    source, target = node.inputs[0], node.outputs[0]
    if source is None or source.dtype != "BOOL" or target.dtype not in FLOATS:
        return None
    if len(graph.producers.get(source.index, [])) != 1:
        return "casts a BOOL no single op makes"
    if len(graph.consumers.get(source.index, [])) != 1:
        return "casts a BOOL other ops read too"
    if len(graph.consumers.get(target.index, [])) != 1:
        return "cast from BOOL does not feed exactly one op"
    return None


def _tensors(node: Node) -> str | None:
    """GetOpsToReplace's filter: no rank over 4, and only the allowed types at run time."""
    allowed_in = FLOATS | _QUANTIZED | _EXTRA_INPUT_TYPES.get(node.op, frozenset())
    allowed_out = FLOATS | _QUANTIZED | _EXTRA_OUTPUT_TYPES.get(node.op, frozenset())
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


def _is_fp16_weights(node: Node) -> bool:
    """A float16 model's DEQUANTIZE of constant weights, which the delegate folds away."""
    source = node.inputs[0] if node.op == "DEQUANTIZE" and node.inputs else None
    return source is not None and source.const and source.dtype == "FLOAT16"


def _reason(node: Node, graph: _Graph) -> str | None:
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
        check = CHECKS.get(node.op)
        reason = reason or (check(node) if check is not None else None)
    return reason or _tensors(node)


def _read_graph(model: Any, subgraph: Any) -> _Graph:
    tensors: dict[int, Tensor] = {}

    def tensor(index: int) -> Tensor:
        if index not in tensors:
            table = subgraph.Tensors(index)
            buffer = model.Buffers(table.Buffer()) if table.Buffer() else None
            # Weights past 2 GB live after the flatbuffer: an offset instead of inline data.
            const = buffer is not None and (buffer.DataLength() > 0 or buffer.Offset() > 1)
            shape = tuple(int(d) for d in table.ShapeAsNumpy()) if table.ShapeLength() else ()
            tensors[index] = Tensor(
                index,
                _TYPE_NAMES.get(table.Type(), str(table.Type())),
                shape,
                const,
                bool(table.IsVariable()),
            )
        return tensors[index]

    # Consumers of folded float16 DEQUANTIZE nodes are checked as if they read the constant.
    folded: dict[int, Tensor] = {}
    graph = _Graph([], defaultdict(list), defaultdict(list))
    for o in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(o)
        inputs = op.InputsAsNumpy() if op.InputsLength() else []
        outputs = op.OutputsAsNumpy() if op.OutputsLength() else []
        node = Node(
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
