"""Manifests for the tests: the golden bad manifests (their errors are product text) and ``problems``."""

from __future__ import annotations

import os
from pathlib import Path

from rules.manifest.catalog import load_manifests
from rules.project.root import find_manifests, load_project
from rules.project.state import BuildState
from tests.support.project import write_files

BASE: dict[str, str | bytes] = {
    "export/saved_model.pb": b"",
    "model.keras": b"",
    "graph.pb": b"",
    "data/calib.npz": b"",
    "data/test.npz": b"",
    "build.py": "def make(): ...\n",
}


def problems(
    tmp_path: Path, manifests: dict[str, str], extra: dict[str, str | bytes] | None = None
) -> list[str]:
    files: dict[str, str | bytes] = {}
    for folder in {str(Path(name).parent) for name in manifests}:
        files.update({f"{folder}/{k}": v for k, v in BASE.items()})
    files.update(manifests)
    files.update(extra or {})
    write_files(tmp_path, files)
    project = load_project(tmp_path)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        state = BuildState(project.state_dir)
        _, found = load_manifests(project, find_manifests(project, state), state)
    finally:
        os.chdir(old)
    return [str(p) for p in found]


GOLDEN = [
    (
        "yaml syntax error",
        "source: {saved_model: export\nvariants: {float32: {}}\n",
        "m/model.yaml:2: YAML syntax error: did not find expected ',' or '}'",
    ),
    (
        "unknown key",
        "source: {saved_model: export}\nvariants:\n  int8:\n    quantise: int8\n",
        "m/model.yaml:4: variants -> int8 -> quantise: unknown key; did you mean 'quantize'? "
        "(valid: quantize, float_fallback, representative, io_type, input_type, output_type, "
        "supported_ops, keep_float, allow_custom_ops, exclude_conversion_metadata, inference_type, "
        "quantized_input_stats, default_ranges, converter, allow_resource_variables, probe, signature_keys)",
    ),
    (
        "wrong type",
        "source: {saved_model: export}\nvariants:\n  float32: {probe: 'yes please'}\n",
        "m/model.yaml:3: variants -> float32 -> probe: expected true or false; got string 'yes please'",
    ),
    (
        "bad enum",
        "source: {saved_model: export}\nvariants:\n  int8:\n    quantize: int9\n",
        "m/model.yaml:4: variants -> int8 -> quantize: expected one of none, dynamic, float16, "
        "int8, int16x8; got 'int9'; did you mean 'int8'?",
    ),
    (
        "missing file",
        "source: {saved_model: export}\nvariants:\n  int8:\n    quantize: int8\n"
        "    representative: {data: data/calibration.npz}\n",
        "m/model.yaml:5: variants -> int8 -> representative -> data: 'data/calibration.npz' does not exist",
    ),
    (
        "two sources",
        "source:\n  saved_model: export\n  keras: model.keras\nvariants: {float32: {}}\n",
        "m/model.yaml:2: source: give exactly one of saved_model, keras, frozen_graph, "
        "tf1_saved_model, python, pytorch, jax; got saved_model, keras",
    ),
    (
        "no variants",
        "source: {saved_model: export}\nvariants: {}\n",
        "m/model.yaml:2: variants: needs at least one variant (for example float32: {})",
    ),
    (
        "path escaping the project root",
        "source: {saved_model: ../../elsewhere}\nvariants: {float32: {}}\n",
        "m/model.yaml:1: source -> saved_model: '../../elsewhere' is outside the project root",
    ),
    (
        "bad budget value",
        "source: {saved_model: export}\nvariants: {float32: {}}\nbudgets:\n  '*': {max_size: 2 potatoes}\n",
        "m/model.yaml:4: budgets -> * -> max_size: expected a size like 2MB, 500KiB or 123456; "
        "got string '2 potatoes'",
    ),
    (
        "runtime budget as a bare number",
        "source: {saved_model: export}\nvariants: {float32: {}}\nbudgets:\n  '*': {runtime: 2.10}\n",
        'm/model.yaml:4: budgets -> * -> runtime: expected a version in quotes, like "2.14" '
        "(YAML read 2.1)",
    ),
    (
        "allowed op that is no builtin",
        "source: {saved_model: export}\nvariants: {float32: {}}\nbudgets:\n"
        "  '*': {allowed_ops: [CONV_2D, FULLY_CONECTED v4]}\n",
        "m/model.yaml:4: budgets -> * -> allowed_ops: no builtin op named 'FULLY_CONECTED'; "
        "did you mean 'FULLY_CONNECTED'?",
    ),
    (
        "allowed op written loosely",
        "source: {saved_model: export}\nvariants: {float32: {}}\nbudgets:\n"
        "  '*': {allowed_ops: [conv_2d]}\n",
        "m/model.yaml:4: budgets -> * -> allowed_ops: 'conv_2d' is not an op: write a builtin "
        "like CONV_2D or FULLY_CONNECTED v1-4, CUSTOM:name or FLEX:name",
    ),
    (
        "impossible option combination",
        "source: {saved_model: export}\nvariants:\n  int8:\n    quantize: int8\n",
        "m/model.yaml:3: variants -> int8 -> representative: quantize int8 needs representative "
        "data to calibrate activation ranges; give representative: {data: samples.npz} or "
        "{python: file.py:function}",
    ),
    (
        "io type without integer quantization",
        "source: {saved_model: export}\nvariants:\n  f16:\n    quantize: float16\n    io_type: int8\n",
        "m/model.yaml:5: variants -> f16 -> io_type: int8 needs integer quantization "
        "(quantize: int8); the model is float16",
    ),
    (
        "budget for a variant that does not exist",
        "source: {saved_model: export}\nvariants: {int8: {quantize: dynamic}}\nbudgets:\n  int9: {max_size: 1MB}\n",
        "m/model.yaml:4: budgets -> int9: no variant named 'int9'; did you mean 'int8'? (use '*' for every variant)",
    ),
    (
        "option that does not apply to the format",
        "source: {keras: model.keras, signature_keys: [serve]}\nvariants: {float32: {}}\n",
        "m/model.yaml:1: source -> signature_keys: does not apply to a keras source",
    ),
    (
        "unknown converter attribute",
        "source: {saved_model: export}\nvariants:\n  f:\n    converter: {unfold_batch_matmul: true}\n",
        "m/model.yaml:4: variants -> f -> converter -> unfold_batch_matmul: is not a TFLiteConverter "
        "attribute; did you mean 'unfold_batchmatmul'?",
    ),
    (
        "entry point not following the syntax",
        "source: {python: build.py}\nvariants: {float32: {}}\n",
        "m/model.yaml:1: source -> python: expected 'file.py:function' or "
        "'package.module:function'; got 'build.py'",
    ),
    (
        "custom object not following the syntax",
        "source:\n  keras: model.keras\n  custom_objects: {Scale: build.py}\nvariants: {float32: {}}\n",
        "m/model.yaml:3: source -> custom_objects -> Scale: expected 'file.py:Class' or "
        "'package.module:Class'; got 'build.py'",
    ),
    (
        "missing import",
        "source:\n  keras: model.keras\n  imports: [build.py, helpers.py]\nvariants: {float32: {}}\n",
        "m/model.yaml:3: source -> imports: 'helpers.py' does not exist",
    ),
    (
        "custom objects on a python source",
        "source: {python: build.py:make, custom_objects: {Scale: build.py:Scale}}\n"
        "variants: {float32: {}}\n",
        "m/model.yaml:1: source -> custom_objects: does not apply to a python source",
    ),
    (
        "keep_float auto without an accuracy budget",
        "source: {saved_model: export}\nvariants:\n  int8:\n    quantize: int8\n"
        "    representative: {data: data/calib.npz}\n    keep_float: auto\n"
        "budgets: {int8: {max_size: 2MB}}\n",
        "m/model.yaml:6: variants -> int8 -> keep_float: auto needs an accuracy budget to meet: "
        "set one of min_accuracy, max_accuracy_drop, min_top1_agreement, max_error under "
        "budgets -> int8 (or '*')",
    ),
    (
        "keep_float without int8",
        "source: {saved_model: export}\nvariants:\n  f16: {quantize: float16, keep_float: [dense]}\n",
        "m/model.yaml:3: variants -> f16 -> keep_float: applies only to quantize int8 "
        "(TF's quantization debugger), not float16",
    ),
    (
        "frozen graph without inputs",
        "source: {frozen_graph: graph.pb, inputs: {}, outputs: [probs]}\nvariants: {float32: {}}\n",
        "m/model.yaml:1: source -> inputs: a frozen_graph source needs at least one input: "
        "{name: shape}",
    ),
]
