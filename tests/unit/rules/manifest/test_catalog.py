"""Manifests: parsing into dataclasses, and the exact text of every error (the messages are product)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import write_files

from converter.spec import KerasSource, PythonSource, SavedModelSource
from rules.errors import ManifestError, RulesError
from rules.manifest.catalog import load_manifests
from rules.project.root import find_manifests, load_project
from rules.project.state import BuildState
from rules.quantities import parse_size

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


def test_a_full_manifest_parses_into_dataclasses(tmp_path: Path) -> None:
    write_files(tmp_path, {f"digits/{k}": v for k, v in BASE.items()})
    write_files(
        tmp_path,
        {
            "digits/model.yaml": """
            source:
              saved_model: export
              signature_keys: [serving_default]
              deps: [build.py]
            defaults:
              representative: {data: data/calib.npz, samples: 100}
              converter: {_experimental_disable_per_channel: true}
            variants:
              float32: {representative: null}
              int8:
                quantize: int8
                io_type: int8
                converter: {experimental_new_quantizer: true}
            evaluate: {data: data/test.npz}
            budgets:
              "*": {max_size: 2MB}
              int8: {min_accuracy: 95%, max_accuracy_drop: 0.01}
            """
        },
    )
    project = load_project(tmp_path)
    state = BuildState(project.state_dir)
    (manifest,), found = load_manifests(project, find_manifests(project, state), state)
    assert found == []
    assert manifest.name == "digits"
    assert manifest.source == SavedModelSource(tmp_path / "digits/export", ("serving_default",))
    assert manifest.deps == (tmp_path / "digits/build.py",)
    float32, int8 = manifest.variants
    assert float32.options.representative is None
    assert float32.options.converter == {"_experimental_disable_per_channel": True}
    assert int8.options.quantize == "int8"
    assert (int8.options.input_type, int8.options.output_type) == ("int8", "int8")
    assert int8.options.representative is not None and int8.options.representative.samples == 100
    assert int8.options.converter == {
        "_experimental_disable_per_channel": True,
        "experimental_new_quantizer": True,
    }
    assert manifest.budgets["*"].max_size == 2_000_000
    assert manifest.budgets["int8"].min_accuracy == pytest.approx(0.95)
    assert (
        manifest.evaluate is not None
        and manifest.evaluate.data == tmp_path / "digits/data/test.npz"
    )


def test_other_source_formats(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "a/model.keras": b"",
            "a/model.yaml": "source: {keras: model.keras, legacy: true}\nvariants: {float32: {}}\n",
            "b/build.py": "",
            "b/model.yaml": "name: bee\nsource: {python: build.py:make}\nvariants: {f: {}}\n",
        },
    )
    project = load_project(tmp_path)
    state = BuildState(project.state_dir)
    (a, b), found = load_manifests(project, find_manifests(project, state), state)
    assert found == []
    assert a.source == KerasSource(tmp_path / "a/model.keras", legacy=True)
    assert b.name == "bee" and b.source == PythonSource("build.py:make", tmp_path / "b")


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
        "tf1_saved_model, python; got saved_model, keras",
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


@pytest.mark.parametrize(("kind", "text", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_errors(tmp_path: Path, kind: str, text: str, expected: str) -> None:
    assert problems(tmp_path, {"m/model.yaml": text}) == [expected]


def test_duplicate_model_names_name_both_files(tmp_path: Path) -> None:
    text = "name: same\nsource: {saved_model: export}\nvariants: {float32: {}}\n"
    assert problems(tmp_path, {"a/model.yaml": text, "b/model.yaml": text}) == [
        "b/model.yaml: name: model name 'same' is also used by a/model.yaml; "
        "names must be unique in the project"
    ]


def test_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "a/model.yaml": "source: {saved_model: export}\nvariants:\n  x: {quantize: int9, probe: 1}\n",
            "b/model.yaml": "sauce: {}\n",
        },
    )
    assert found == [
        "a/model.yaml:3: variants -> x -> quantize: expected one of none, dynamic, float16, int8, "
        "int16x8; got 'int9'; did you mean 'int8'?",
        "a/model.yaml:3: variants -> x -> probe: expected true or false; got integer 1",
        "b/model.yaml:1: sauce: unknown key; did you mean 'source'? "
        "(valid: name, source, defaults, variants, evaluate, budgets)",
        "b/model.yaml:1: missing required key 'source'",
        "b/model.yaml:1: missing required key 'variants'",
    ]
    assert str(ManifestError([])).startswith("0 problems")


def test_a_producing_task_excuses_missing_outputs(tmp_path: Path) -> None:
    text = "source: {saved_model: not_yet, task: train, deps: [build.py]}\nvariants:\n  int8:\n    quantize: int8\n    representative: {data: later.npz}\n"
    assert problems(tmp_path, {"m/model.yaml": text}) == []
    text = "source: {saved_model: not_yet, task: train}\nvariants: {f: {}}\n"
    assert problems(tmp_path, {"m/model.yaml": text}) == [
        "m/model.yaml:1: source -> task: needs deps: the files the task reads (they, not the "
        "bytes it writes, key the cache)"
    ]


def test_project_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(
        tmp_path,
        {"pyproject.toml": "[tool.tflite-build]\nbuild_dir = 'out'\nmanifest = ['*.yaml']\n"},
    )
    with pytest.raises(RulesError, match="manifest: unknown setting; did you mean 'manifests'"):
        load_project(tmp_path)
    write_files(
        tmp_path, {"pyproject.toml": "[tool.tflite-build]\nbuild_dir = 'out'\ncache = 'here'\n"}
    )
    monkeypatch.setenv("TFLITE_BUILD_CACHE", "s3://bucket/cache")
    project = load_project(tmp_path)
    assert project.build_dir == tmp_path / "out" and project.cache == "s3://bucket/cache"
    write_files(
        tmp_path,
        {"pyproject.toml": "[tool.tflite-build]\nworker_memory = '16GiB'\nworker_timeout = 1200\n"},
    )
    limits = load_project(tmp_path).limits
    assert (limits.timeout, limits.memory_mb) == (1200.0, 16384.0)
    write_files(tmp_path, {"pyproject.toml": "[tool.tflite-build]\nworker_memory = 'lots'\n"})
    with pytest.raises(RulesError, match="worker_memory: expected a size like 16GB; got 'lots'"):
        load_project(tmp_path)
    write_files(
        tmp_path,
        {"pyproject.toml": "[tool.tflite-build]\ncache_max_size = 'big'\nmeasure_latency = 'x'\n"},
    )
    monkeypatch.chdir(tmp_path)  # problems name files relative to where doit runs
    with pytest.raises(RulesError) as raised:
        load_project(tmp_path)
    assert str(raised.value).splitlines() == [
        "pyproject.toml: tool.tflite-build -> cache_max_size: expected a size like 10GB or "
        "500MiB; got 'big'",
        "pyproject.toml: tool.tflite-build -> measure_latency: expected one of budgets, always; "
        "got 'x'",
    ]


def test_discovery_skips_build_hidden_and_venv_folders(tmp_path: Path) -> None:
    manifest = "source: {saved_model: export}\nvariants: {f: {}}\n"
    write_files(
        tmp_path,
        {
            "a/model.yaml": manifest,
            "deep/er/b/model.yaml": manifest,
            "build/c/model.yaml": manifest,
            ".venv/lib/d/model.yaml": manifest,
            "node_modules/e/model.yaml": manifest,
        },
    )
    project = load_project(tmp_path)
    found = find_manifests(project, BuildState(project.state_dir))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/model.yaml",
        "deep/er/b/model.yaml",
    ]


@pytest.mark.parametrize(
    ("text", "size"),
    [("2MB", 2_000_000), ("1.5 MiB", 1_572_864), (4096, 4096), ("500kb", 500_000), ("x", None)],
)
def test_sizes(text: object, size: int | None) -> None:
    assert parse_size(text) == size


def test_importing_rules_stays_light() -> None:
    """A no-op build starts by importing rules: nothing heavy may come with it."""
    import subprocess
    import sys

    heavy = (
        "tensorflow",
        "keras",
        "numpy",
        "yaml",
        "flatbuffers",
        "ai_edge_litert",
        "urllib.request",
    )
    script = f"import sys, rules; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_manifest_globs_have_real_double_star_semantics(tmp_path: Path) -> None:
    manifest = "source: {saved_model: export}\nvariants: {f: {}}\n"
    write_files(
        tmp_path,
        {
            "pyproject.toml": "[tool.tflite-build]\nmanifests = ['models/*.yaml', 'zoo/**/m.yaml']\n"
            "exclude = ['zoo/old/**']\n",
            "models/a.yaml": manifest,
            "models/deep/b.yaml": manifest,  # `*` stays within one folder
            "zoo/m.yaml": manifest,  # `**/` matches no folder too
            "zoo/x/y/m.yaml": manifest,
            "zoo/old/z/m.yaml": manifest,
        },
    )
    project = load_project(tmp_path)
    found = find_manifests(project, BuildState(project.state_dir))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "models/a.yaml",
        "zoo/m.yaml",
        "zoo/x/y/m.yaml",
    ]
