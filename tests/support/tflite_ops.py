"""The ops a .tflite file uses, as TensorFlow's own tools read them: the oracle of the op inventory."""

from __future__ import annotations

import contextlib
import io
import re


def tf_ops(data: bytes) -> dict[str, tuple[int, ...]]:
    """The ops a model uses, with their versions, as TensorFlow's own flatbuffer_utils reads them."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    found: dict[str, set[int]] = {}
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
            if name == "CUSTOM":
                custom = code.customCode.decode()
                name = f"FLEX:{custom[4:]}" if custom.startswith("Flex") else f"CUSTOM:{custom}"
            found.setdefault(name, set()).add(code.version)
    return {name: tuple(sorted(v)) for name, v in sorted(found.items())}


def analyzer_ops(data: bytes) -> set[str]:
    """The ops TensorFlow's Model Analyzer lists, named as the inventory names them (it prints
    a Select TF op as ``FlexCumprod``, a custom op by its own name)."""
    import tensorflow as tf

    from converter.tflite.modelinfo import builtin_names

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tf.lite.experimental.Analyzer.analyze(model_content=data)
    printed = set(re.findall(r"^\s+Op#\d+ (\w+)\(", out.getvalue(), re.MULTILINE))
    return {
        name if name in builtin_names()
        else f"FLEX:{name[4:]}" if name.startswith("Flex")
        else f"CUSTOM:{name}"
        for name in printed
    }  # fmt: skip
