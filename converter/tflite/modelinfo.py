"""Reading and stamping .tflite flatbuffers through TF's generated schema, without TensorFlow.

The schema module is the flatc output TensorFlow generates; ``ai_edge_litert``
ships a copy that imports in a fraction of a second, so nothing here loads TF.
Stamping goes through the schema's object API: unpacking and repacking a
converter-written model gives back the same bytes, so removing our entry again
(``strip_metadata``) restores the converter's exact output.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from converter.errors import SourceError

FILE_IDENTIFIER = b"TFL3"
PROVENANCE_KEY = "tflite_build"

_BUILTIN_NAMES = {
    value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")
}


def builtin_names() -> frozenset[str]:
    """Every builtin operator the schema knows, by name: ``CONV_2D``, ``FULLY_CONNECTED``..."""
    return frozenset(_BUILTIN_NAMES.values())


def load_bytes(path_or_bytes: Path | str | bytes) -> bytes:
    if isinstance(path_or_bytes, bytes):
        return path_or_bytes
    return Path(path_or_bytes).read_bytes()


def root(data: bytes) -> Any:
    """The flatbuffer ``Model`` table; SourceError when the bytes are not a TFLite model."""
    if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise SourceError("not a TensorFlow Lite model (no 'TFL3' file identifier)")
    return schema.Model.GetRootAs(data, 0)


def metadata(data: bytes) -> dict[str, bytes]:
    """The model's metadata entries, name -> raw bytes."""
    model = root(data)
    out: dict[str, bytes] = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        buffer = model.Buffers(entry.Buffer())
        raw = buffer.DataAsNumpy() if buffer is not None and buffer.DataLength() else None
        out[(entry.Name() or b"").decode()] = b"" if raw is None else raw.tobytes()
    return out


def min_runtime_version(data: bytes) -> str:
    """The runtime version the converter wrote into the model, "" when it wrote none."""
    return _runtime_of(metadata(data))


def _runtime_of(entries: dict[str, bytes]) -> str:
    return entries.get("min_runtime_version", b"").rstrip(b"\0").decode(errors="replace")


def read_provenance(path_or_bytes: Path | str | bytes) -> dict[str, Any] | None:
    """Our provenance entry (parsed JSON), or None when the model has none."""
    raw = metadata(load_bytes(path_or_bytes)).get(PROVENANCE_KEY)
    return None if raw is None else dict(json.loads(raw.decode()))


def _pack(model: Any) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def stamp_metadata(data: bytes, name: str, value: bytes) -> bytes:
    """``data`` with a metadata entry ``name`` set to ``value`` (replacing an earlier one)."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(strip_metadata(data, name)), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(value, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    if model.metadata is None:
        model.metadata = []
    model.metadata.append(entry)
    return _pack(model)


def strip_metadata(data: bytes, name: str) -> bytes:
    """``data`` without the metadata entry ``name``; unchanged bytes if it has none."""
    root(data)
    if name not in metadata(data):
        return data
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    kept = []
    for entry in model.metadata:
        entry_name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if entry_name != name:
            kept.append(entry)
        elif entry.buffer == len(model.buffers) - 1:
            model.buffers.pop()  # ours is appended last; anything else keeps its index
        else:
            model.buffers[entry.buffer] = schema.BufferT()
    model.metadata = kept or None  # converter output without metadata has no vector at all
    return _pack(model)


def stamp_provenance(data: bytes, provenance: dict[str, Any]) -> bytes:
    text = json.dumps(provenance, sort_keys=True, separators=(",", ":"))
    return stamp_metadata(data, PROVENANCE_KEY, text.encode())


def strip_provenance(data: bytes) -> bytes:
    return strip_metadata(data, PROVENANCE_KEY)


def op_name(model: Any, opcode_index: int) -> str:
    """``CONV_2D``, ``CUSTOM:MyOp`` or ``FLEX:Erf`` (a Select TF op) for an operator code."""
    code = model.OperatorCodes(opcode_index)
    # Builtins past 127 live in BuiltinCode; older files only fill the deprecated byte.
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    name = _BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if name == "CUSTOM":
        custom = (code.CustomCode() or b"").decode()
        return f"FLEX:{custom[4:]}" if custom.startswith("Flex") else f"CUSTOM:{custom}"
    return str(name)


def op_counts(data: bytes) -> Counter[str]:
    """How many times each operator occurs, over every subgraph."""
    model = root(data)
    counts: Counter[str] = Counter()
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            counts[op_name(model, subgraph.Operators(o).OpcodeIndex())] += 1
    return counts


def op_versions(data: bytes) -> dict[str, tuple[int, ...]]:
    """Every operator the model uses (named as ``op_name`` names them) -> the versions it uses.

    A runtime must register each builtin at that version or later; this is what
    a deployment gate and a selective runtime build read, without TensorFlow.
    Only operator codes some operator uses count: a converter may list more.
    """
    model = root(data)
    used = {
        subgraph.Operators(o).OpcodeIndex()
        for subgraph in (model.Subgraphs(s) for s in range(model.SubgraphsLength()))
        for o in range(subgraph.OperatorsLength())
    }
    found: dict[str, set[int]] = {}
    for index in used:
        found.setdefault(op_name(model, index), set()).add(
            int(model.OperatorCodes(index).Version())
        )
    return {name: tuple(sorted(versions)) for name, versions in sorted(found.items())}


def resource_variable_count(data: bytes) -> int:
    """VAR_HANDLE ops: resource variables the converter could not freeze into constants."""
    return op_counts(data)["VAR_HANDLE"]


_TYPE_NAMES = {
    value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")
}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: list[int]  # -1 where the signature leaves a dimension free
    dtype: str
    scale: list[float] = field(default_factory=list)  # quantization, per tensor or per channel
    zero_point: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SignatureInfo:
    key: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]


@dataclass(frozen=True)
class ModelInfo:
    """What a .tflite file holds, read from the flatbuffer alone."""

    size: int
    parameters: int  # elements of constant tensors
    constant_bytes: dict[str, int]  # by tensor dtype; each buffer counted once
    ops: dict[str, int]  # CONV_2D, CUSTOM:name, FLEX:name (Select TF ops)
    subgraphs: list[dict[str, Any]]
    signatures: list[SignatureInfo]
    min_runtime_version: str
    conversion: dict[str, Any] | None  # the converter's own CONVERSION_METADATA
    provenance: dict[str, Any] | None

    @property
    def select_tf_ops(self) -> int:
        return sum(n for op, n in self.ops.items() if op.startswith("FLEX:"))

    @property
    def custom_ops(self) -> int:
        return sum(n for op, n in self.ops.items() if op.startswith("CUSTOM:"))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["select_tf_ops"] = self.select_tf_ops
        out["custom_ops"] = self.custom_ops
        return out


def _tensor(model: Any, subgraph: Any, index: int) -> TensorInfo:
    tensor = subgraph.Tensors(index)
    shape = (
        tensor.ShapeSignatureAsNumpy() if tensor.ShapeSignatureLength() else tensor.ShapeAsNumpy()
    )
    quantization = tensor.Quantization()
    scale: list[float] = []
    zero_point: list[int] = []
    if quantization is not None and quantization.ScaleLength():
        scale = [float(s) for s in quantization.ScaleAsNumpy()]
        zero_point = [int(z) for z in quantization.ZeroPointAsNumpy()]
    return TensorInfo(
        (tensor.Name() or b"").decode(),
        [int(d) for d in shape] if not isinstance(shape, int) else [],
        _TYPE_NAMES.get(tensor.Type(), str(tensor.Type())),
        scale,
        zero_point,
    )


def _buffer_bytes(buffer: Any) -> int:
    if buffer is None:
        return 0
    if buffer.Offset() > 1:  # weights stored after the flatbuffer (models over 2 GB)
        return int(buffer.Size())
    return int(buffer.DataLength())


def describe(data: bytes) -> ModelInfo:
    """The size report's data: constants by dtype, parameters, ops, signatures, metadata."""
    model = root(data)
    constant_bytes: Counter[str] = Counter()
    parameters = 0
    seen_buffers: set[int] = set()
    subgraphs = []
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            index = tensor.Buffer()
            size = _buffer_bytes(model.Buffers(index)) if index else 0
            if not size or index in seen_buffers:
                continue
            seen_buffers.add(index)
            dtype = _TYPE_NAMES.get(tensor.Type(), str(tensor.Type()))
            constant_bytes[dtype] += size
            elements = 1
            for d in tensor.ShapeAsNumpy() if tensor.ShapeLength() else []:
                elements *= int(d)
            parameters += elements
        subgraphs.append(
            {
                "name": (subgraph.Name() or b"").decode(),
                "tensors": subgraph.TensorsLength(),
                "operators": subgraph.OperatorsLength(),
            }
        )
    signatures = []
    for i in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(i)
        subgraph = model.Subgraphs(sig.SubgraphIndex())
        inputs = [
            _tensor(model, subgraph, sig.Inputs(j).TensorIndex()) for j in range(sig.InputsLength())
        ]
        outputs = [
            _tensor(model, subgraph, sig.Outputs(j).TensorIndex())
            for j in range(sig.OutputsLength())
        ]
        signatures.append(SignatureInfo((sig.SignatureKey() or b"").decode(), inputs, outputs))
    entries = metadata(data)
    conversion = entries.get("CONVERSION_METADATA")
    return ModelInfo(
        size=len(data),
        parameters=parameters,
        constant_bytes=dict(sorted(constant_bytes.items())),
        ops=dict(sorted(op_counts(data).items())),
        subgraphs=subgraphs,
        signatures=signatures,
        min_runtime_version=_runtime_of(entries),
        conversion=_conversion_metadata(conversion) if conversion else None,
        provenance=read_provenance(data),
    )


def signature_input_names(data: bytes) -> dict[str, list[str]]:
    """Each signature's input names (``args_0``...; not its tensors' names), in its order."""
    model = root(data)
    out = {}
    for i in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(i)
        key = (sig.SignatureKey() or b"").decode()
        out[key] = [(sig.Inputs(j).Name() or b"").decode() for j in range(sig.InputsLength())]
    return out


@functools.cache
def _conversion_schema() -> ModuleType | None:
    """TF's generated schema for CONVERSION_METADATA, loaded by path: importing it as
    ``tensorflow.lite.python...`` would import all of TensorFlow first."""
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)))
    path = path / "lite" / "python" / "conversion_metadata_schema_py_generated.py"
    loader_spec = importlib.util.spec_from_file_location("_tflite_conversion_metadata", path)
    if loader_spec is None or loader_spec.loader is None or not path.is_file():
        return None
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)
    return module


def _conversion_metadata(raw: bytes) -> dict[str, Any]:
    generated = _conversion_schema()
    if generated is None:
        return {"bytes": len(raw)}
    table = generated.ConversionMetadata.GetRootAs(raw, 0)
    environment, options = table.Environment(), table.Options()
    out: dict[str, Any] = {}
    if environment is not None:
        out["tensorflow_version"] = (environment.TensorflowVersion() or b"").decode()
        out["api_version"] = int(environment.ApiVersion())
        out["model_type"] = int(environment.ModelType())
    if options is not None:
        out["allow_custom_ops"] = bool(options.AllowCustomOps())
        out["enable_select_tf_ops"] = bool(options.EnableSelectTfOps())
        out["force_select_tf_ops"] = bool(options.ForceSelectTfOps())
        out["optimization_modes"] = [
            int(options.ModelOptimizationModes(i))
            for i in range(options.ModelOptimizationModesLength())
        ]
    return out
