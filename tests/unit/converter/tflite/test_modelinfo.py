"""Flatbuffer reading and stamping without TensorFlow, on a model built here with the schema."""

from __future__ import annotations

import flatbuffers
import pytest
from ai_edge_litert import schema_py_generated as schema

from converter.errors import SourceError
from converter.tflite import modelinfo


def _tiny_model() -> bytes:
    model = schema.ModelT()
    model.version = 3
    model.description = "test"
    model.buffers = [schema.BufferT()]
    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.VAR_HANDLE
    code.deprecatedBuiltinCode = min(schema.BuiltinOperator.VAR_HANDLE, 127)
    model.operatorCodes = [code]
    op = schema.OperatorT()
    op.opcodeIndex = 0
    subgraph = schema.SubGraphT()
    subgraph.operators = [op, op]
    model.subgraphs = [subgraph]
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_stamp_read_strip_round_trip() -> None:
    original = _tiny_model()
    assert modelinfo.read_provenance(original) is None
    stamped = modelinfo.stamp_provenance(original, {"key": "k1", "n": 1})
    assert modelinfo.read_provenance(stamped) == {"key": "k1", "n": 1}
    restamped = modelinfo.stamp_provenance(stamped, {"key": "k2"})
    assert modelinfo.read_provenance(restamped) == {"key": "k2"}
    assert list(modelinfo.metadata(restamped)) == [modelinfo.PROVENANCE_KEY]
    assert modelinfo.strip_provenance(restamped) == original


def test_op_counts_and_resource_variables() -> None:
    data = _tiny_model()
    assert modelinfo.op_counts(data) == {"VAR_HANDLE": 2}
    assert modelinfo.resource_variable_count(data) == 2


def test_not_a_tflite_file() -> None:
    with pytest.raises(SourceError, match="not a TensorFlow Lite model"):
        modelinfo.metadata(b"PK\x03\x04 a zip file")
