"""Op versions as the flatbuffer reader sees them, against TensorFlow's own reading of the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ai_edge_litert import schema_py_generated as schema

from converter.tflite import modelinfo


@pytest.mark.tf
@pytest.mark.parametrize("mode", ["none", "int8"])
def test_op_versions_match_tensorflows_own_reading(
    engine: Any, models: Any, tmp_path: Path, mode: str
) -> None:
    """The inventory a deployment gate reads, against TF's flatbuffer_utils on the same bytes."""
    from tensorflow.lite.tools import flatbuffer_utils

    import converter
    from tests.support.models import mode_options

    rep = converter.Representative(data=models.calibration)
    result = engine.convert(
        converter.KerasSource(models.keras), mode_options(mode, rep), tmp_path / "m.tflite"
    )
    data = result.path.read_bytes()
    tf_model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    expected: dict[str, set[int]] = {}
    for graph in tf_model.subgraphs:
        for op in graph.operators:
            code = tf_model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            expected.setdefault(names[builtin], set()).add(code.version)
    assert modelinfo.op_versions(data) == {k: tuple(sorted(v)) for k, v in expected.items()}
    assert "FULLY_CONNECTED" in expected and "CONV_2D" in expected
