"""The size report's anatomy, read without TF, against TF's own flatbuffer_utils on the same file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import converter
from converter.tflite import modelinfo
from tests.support.models import Models

pytestmark = pytest.mark.tf


def _oracle(path: Path) -> tuple[int, dict[str, int], dict[str, int]]:
    """Parameters, constant bytes by dtype and the op histogram, through TF's flatbuffer_utils."""
    from tensorflow.lite.python import schema_py_generated as tf_schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    names = {v: k for k, v in vars(tf_schema.TensorType).items() if not k.startswith("_")}
    parameters, seen = 0, set()
    by_type: Counter[str] = Counter()
    ops: Counter[str] = Counter()
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            data = model.buffers[tensor.buffer].data if tensor.buffer else None
            if data is None or len(data) == 0 or tensor.buffer in seen:
                continue
            seen.add(tensor.buffer)
            parameters += int(np.prod(tensor.shape)) if tensor.shape is not None else 1
            by_type[names[tensor.type]] += len(data)
        for op in subgraph.operators:
            ops[flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)] += 1
    return parameters, dict(by_type), dict(ops)


@pytest.mark.parametrize("mode", ["none", "int8"])
def test_anatomy_matches_tensorflows_reading(
    mode: str, models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    rep = converter.Representative(data=models.calibration) if mode == "int8" else None
    options = converter.Options(quantize=mode, representative=rep)  # type: ignore[arg-type]
    result = engine.convert(
        converter.SavedModelSource(models.saved_model),
        options,
        tmp_path / "m.tflite",
        provenance={"key": "k"},
    )
    info = modelinfo.describe(result.path.read_bytes())
    parameters, by_type, ops = _oracle(result.path)
    assert info.size == result.size
    assert info.parameters == parameters
    assert info.constant_bytes == by_type
    assert info.ops == ops
    (signature,) = info.signatures
    assert signature.key == "serving_default"
    assert signature.inputs[0].shape == [-1, 8, 8, 1]
    assert info.provenance == {**(result.provenance or {})}
    assert info.conversion is not None and info.conversion["tensorflow_version"]
    if mode == "int8":
        assert set(by_type) >= {"INT8"} and info.conversion["optimization_modes"] == [1003]
        assert signature.inputs[0].dtype == "FLOAT32"  # float I/O unless asked otherwise
    assert info.min_runtime_version.count(".") == 2


def test_select_tf_ops_are_counted(
    engine: converter.Engine, models: Models, tmp_path: Path
) -> None:
    options = converter.Options(supported_ops=("builtins", "select_tf_ops"))
    result = engine.convert(
        converter.PythonSource("entries.py:flex", models.root), options, tmp_path / "f.tflite"
    )
    info = modelinfo.describe(result.path.read_bytes())
    assert info.select_tf_ops >= 1 and any(op.startswith("FLEX:") for op in info.ops)
    assert info.to_dict()["select_tf_ops"] == info.select_tf_ops
