"""Reading and stamping .tflite flatbuffers through TF's generated schema, without TensorFlow.

The schema module is the flatc output TensorFlow generates; ``ai_edge_litert``
ships a copy that imports in a fraction of a second, so nothing here loads TF.
Stamping goes through the schema's object API: unpacking and repacking a
converter-written model gives back the same bytes, so removing our entry again
(``strip_metadata``) restores the converter's exact output.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
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


def resource_variable_count(data: bytes) -> int:
    """VAR_HANDLE ops: resource variables the converter could not freeze into constants."""
    return op_counts(data)["VAR_HANDLE"]
