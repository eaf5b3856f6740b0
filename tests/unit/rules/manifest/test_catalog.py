"""Manifests: parsing into dataclasses, and the exact text of every error (the messages are product)."""

from __future__ import annotations

from pathlib import Path

import pytest

from converter.spec import KerasSource, PythonSource, SavedModelSource
from rules.errors import ManifestError
from rules.manifest.catalog import load_manifests
from rules.project.root import find_manifests, load_project
from rules.project.state import BuildState
from tests.support.manifests import BASE, GOLDEN, problems
from tests.support.project import write_files


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
            "c/model.keras": b"",
            "c/layers.py": "",
            "c/model.yaml": """
                source:
                  keras: model.keras
                  imports: [layers.py, pkg.blocks]
                  custom_objects: {Shift: pkg.blocks:Shift, Scale: layers.py:Scale}
                  safe_mode: false
                variants: {float32: {}}
                """,
        },
    )
    project = load_project(tmp_path)
    state = BuildState(project.state_dir)
    (a, b, c), found = load_manifests(project, find_manifests(project, state), state)
    assert found == []
    assert a.source == KerasSource(tmp_path / "a/model.keras", legacy=True)
    assert b.name == "bee" and b.source == PythonSource("build.py:make", tmp_path / "b")
    assert c.source == KerasSource(
        tmp_path / "c/model.keras",
        imports=("layers.py", "pkg.blocks"),
        custom_objects=(("Scale", "layers.py:Scale"), ("Shift", "pkg.blocks:Shift")),
        safe_mode=False,
        base_dir=tmp_path / "c",
    )
    # The parse cache gives the same sources back, pairs and all.
    assert load_manifests(project, find_manifests(project, state), state) == ([a, b, c], [])


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
