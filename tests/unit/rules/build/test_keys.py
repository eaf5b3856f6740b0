"""The key recipe (rules/build/keys.py): what changes a variant's key and what does not.

Keys are computed from the real parsed manifests of a project in a temp dir, each
time with a build state of its own (nothing remembered between two keys), so a key
says only what the files and the manifest say. No TF: the files are placeholders.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from converter import versions
from converter.digest import path_digest
from converter.spec import KerasSource, PythonSource, SavedModelSource
from rules.build.jobs import ConvertJob
from rules.build.keys import (
    KEY_FORMAT,
    declared_key,
    full_key,
    inputs_of,
    source_digest,
)
from rules.manifest.catalog import load_manifests
from rules.manifest.types import Manifest
from rules.project.root import find_manifests, load_project
from rules.project.state import BuildState
from rules.tasks import job_for
from tests.support.project import Files, ProjectFactory, write_files

SM = """
source: {saved_model: export}
variants:
  float32: {}
  int8: {quantize: int8, representative: {data: calib.npz}}
evaluate: {data: test.npz}
budgets: {int8: {max_size: 1MB}}
"""
MODELS: Files = {
    "sm/export/saved_model.pb": b"graph",
    "sm/export/variables/variables.data": b"weights",
    "sm/calib.npz": b"calibration",
    "sm/test.npz": b"test data",
    "sm/model.yaml": SM,
    "made/recipe.py": "EPOCHS = 3\n",
    "made/model.keras": b"what the task wrote",
    "made/model.yaml": "source: {keras: model.keras, task: train, deps: [recipe.py]}\n"
    "variants: {float32: {}}\n",
    "old/model.h5": b"legacy weights",
    "old/model.yaml": "source: {keras: model.h5, legacy: true}\nvariants: {float32: {}}\n",
    "py/build.py": "from helper import make\n",
    "py/helper.py": "def make(): ...\n",
    "py/gen.py": "def samples(): ...\n",
    "py/model.yaml": "source: {python: build.py:make}\nvariants:\n"
    "  float32: {}\n  int8: {quantize: int8, representative: {python: gen.py:samples}}\n",
}


class Keys:
    """Jobs and keys of the project at ``root``, read afresh for every call."""

    def __init__(self, root: Path, states: Path) -> None:
        self.root, self.states, self.made = root, states, 0

    def _state(self) -> BuildState:
        self.made += 1
        return BuildState(self.states / str(self.made))

    def manifests(self) -> dict[str, Manifest]:
        project = load_project(self.root)
        state = self._state()
        found, problems = load_manifests(project, find_manifests(project, state), state)
        assert problems == []
        return {m.name: m for m in found}

    def job(self, name: str) -> ConvertJob:
        model, variant = name.split("/")
        manifest = self.manifests()[model]
        (chosen,) = [v for v in manifest.variants if v.name == variant]
        return job_for(load_project(self.root), manifest, chosen)

    def declared(self, name: str) -> str:
        return declared_key(self.job(name), self._state())

    def all(self) -> dict[str, str]:
        names = ["sm/float32", "sm/int8", "made/float32", "old/float32", "py/float32", "py/int8"]
        return {name: self.declared(name) for name in names}


@pytest.fixture
def keys(make_project: ProjectFactory, tmp_path: Path) -> Keys:
    return Keys(make_project(MODELS), tmp_path / "states")


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_fingerprint_names_the_variant_its_source_options_and_versions(keys: Keys) -> None:
    job = keys.job("sm/int8")
    assert job.fingerprint == {
        "format": KEY_FORMAT,
        "model": "sm",
        "variant": "int8",
        "task": None,
        "source": {"kind": "saved_model", "path": "sm/export"},
        "options": {
            "quantize": "int8",
            "representative": {"data": "sm/calib.npz", "base_dir": "sm"},
        },
        **versions.conversion(),
    }
    assert set(versions.conversion()) == {"tensorflow", "keras", "tflite-build"}
    # A legacy Keras file converts with tf-keras: its version keys that variant, and only it.
    assert keys.job("old/float32").fingerprint.items() >= versions.conversion(True).items()
    assert "tf-keras" in keys.job("old/float32").fingerprint
    assert "tf-keras" not in keys.job("made/float32").fingerprint
    assert keys.job("made/float32").fingerprint["task"] == "train"


def test_keys_are_the_same_in_any_root(
    make_project: ProjectFactory, tmp_path: Path, keys: Keys
) -> None:
    """Paths are relative to the project root: a clone elsewhere has every key of the original."""
    elsewhere = Keys(make_project(MODELS, at="deeper/clone"), tmp_path / "other-states")
    assert elsewhere.all() == keys.all()
    for name in ("sm/int8", "py/int8", "made/float32"):
        job = elsewhere.job(name)
        assert str(elsewhere.root) not in job.fingerprint_json
        assert job.fingerprint == keys.job(name).fingerprint


def test_an_inputs_bytes_change_the_keys_of_the_variants_that_read_it(keys: Keys) -> None:
    before = keys.all()
    (keys.root / "sm/calib.npz").write_bytes(b"other calibration")
    assert _changed(before, after := keys.all()) == {"sm/int8"}
    write_files(keys.root, {"sm/export/assets/vocab.txt": "a new file in the SavedModel\n"})
    assert _changed(after, after_asset := keys.all()) == {"sm/float32", "sm/int8"}
    (keys.root / "py/gen.py").write_text("def samples(): return []\n")
    assert _changed(after_asset, after_gen := keys.all()) == {"py/int8"}
    (keys.root / "py/build.py").write_text("from helper import make  # edited\n")
    assert _changed(after_gen, keys.all()) == {"py/float32", "py/int8"}


def test_a_made_source_is_keyed_by_what_its_task_reads_not_what_it_wrote(keys: Keys) -> None:
    before = keys.all()
    (keys.root / "made/model.keras").write_bytes(b"trained again: other bytes")
    assert keys.all() == before  # training is rarely byte-reproducible
    _edit(keys.root / "made/recipe.py", "EPOCHS = 3", "EPOCHS = 4")
    assert _changed(before, keys.all()) == {"made/float32"}


def test_a_touch_budgets_and_evaluate_data_change_no_key(keys: Keys) -> None:
    before = keys.all()
    later = time.time() + 5
    for path in keys.root.rglob("*"):
        os.utime(path, (later, later))
    assert keys.all() == before
    _edit(keys.root / "sm/model.yaml", "budgets: {int8: {max_size: 1MB}}", "budgets: {}")
    _edit(keys.root / "sm/model.yaml", "evaluate: {data: test.npz}", "evaluate: {data: calib.npz}")
    (keys.root / "sm/test.npz").write_bytes(b"other test data")
    assert keys.all() == before


def test_a_variants_own_options_change_its_key_alone(keys: Keys) -> None:
    before = keys.all()
    _edit(
        keys.root / "sm/model.yaml",
        "int8: {quantize: int8, representative",
        "int8: {quantize: int8, io_type: int8, representative",
    )
    assert _changed(before, after := keys.all()) == {"sm/int8"}
    _edit(keys.root / "sm/model.yaml", "float32: {}", "float32: {probe: false}")
    assert _changed(after, keys.all()) == {"sm/float32"}


def test_a_model_or_variant_renamed_is_another_key(keys: Keys) -> None:
    before = keys.all()
    _edit(keys.root / "sm/model.yaml", "source:", "name: other\nsource:")
    assert keys.declared("other/int8") != before["sm/int8"]
    _edit(keys.root / "py/model.yaml", "  float32: {}", "  f32: {}")
    assert keys.declared("py/f32") != before["py/float32"]


def test_a_tool_upgrade_changes_every_key_and_going_back_restores_them(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The versions come from package metadata (``converter.versions``), never from importing TF."""
    before = keys.all()
    for distribution, changed in [
        ("tensorflow", set(before)),
        ("keras", set(before)),
        ("tflite-build", set(before)),
        ("tf-keras", {"old/float32"}),  # only the legacy model converts with it
    ]:
        site = tmp_path / f"site-{distribution}"
        info = site / f"{distribution.replace('-', '_')}-99.0.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 99.0.0\n"
        )
        with monkeypatch.context() as upgraded:
            upgraded.syspath_prepend(str(site))
            versions.forget()
            assert versions.environment()[distribution] == "99.0.0"
            assert _changed(before, keys.all()) == changed, distribution
        versions.forget()
        assert keys.all() == before, distribution


def test_the_full_key_adds_discovered_files_only_where_code_runs(keys: Keys) -> None:
    plain, code = keys.job("sm/int8"), keys.job("py/float32")
    assert not plain.discovers and code.discovers and keys.job("py/int8").discovers
    declared = keys.declared("py/float32")
    assert full_key(plain, "d" * 64, {"x.py": "1" * 64}) == "d" * 64  # nothing runs: declared
    helper, data = {"py/helper.py": "1" * 64}, {"py/data.npz": "2" * 64}
    found = full_key(code, declared, {**helper, **data})
    assert len(found) == 64 and found != declared
    assert full_key(code, declared, {**data, **helper}) == found  # order does not matter
    assert full_key(code, declared, {**helper, "py/data.npz": "3" * 64}) != found
    assert full_key(code, declared, helper) != found
    assert full_key(code, declared, {}) not in (found, declared)


def test_source_digest_is_the_provenance_digest_read_from_the_state(
    keys: Keys, tmp_path: Path
) -> None:
    state = BuildState(tmp_path / "state")
    root = keys.root
    folder = SavedModelSource(root / "sm/export")
    assert source_digest(folder, state) == path_digest(root / "sm/export")
    assert source_digest(KerasSource(root / "old/model.h5"), state) == path_digest(
        root / "old/model.h5"
    )
    entry = PythonSource("build.py:make", root / "py")
    assert source_digest(entry, state) == path_digest(root / "py/build.py")
    assert source_digest(PythonSource("pkg.models:make", root / "py"), state) is None  # a module
    assert source_digest(KerasSource(root / "missing.keras"), state) is None
    hashed = state.hashed
    assert source_digest(folder, state) == path_digest(root / "sm/export")
    assert state.hashed == hashed  # known bytes are not read a second time


def test_the_inputs_of_each_kind_of_variant(keys: Keys) -> None:
    root = keys.root
    manifests = keys.manifests()

    def inputs(name: str) -> tuple[Path, ...]:
        model, variant = name.split("/")
        (chosen,) = [v for v in manifests[model].variants if v.name == variant]
        return inputs_of(manifests[model], chosen)

    assert inputs("sm/float32") == (root / "sm/export",)
    assert inputs("sm/int8") == (root / "sm/export", root / "sm/calib.npz")
    assert inputs("made/float32") == (root / "made/recipe.py",)  # the task's recipe, not its output
    assert inputs("old/float32") == (root / "old/model.h5",)
    assert inputs("py/float32") == (root / "py/build.py",)  # what it imports is discovered
    assert inputs("py/int8") == (root / "py/build.py", root / "py/gen.py")


def test_keep_float_auto_is_keyed_by_the_data_its_search_measures_on(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    root = make_project(
        {
            "m/model.keras": b"model",
            "m/calib.npz": b"calibration",
            "m/test.npz": b"test data",
            "m/model.yaml": """
                source: {keras: model.keras}
                defaults: {representative: {data: calib.npz}}
                variants:
                  int8: {quantize: int8}
                  mixed: {quantize: int8, keep_float: auto}
                evaluate: {data: test.npz}
                budgets: {mixed: {max_accuracy_drop: 0.02}}
                """,
        }
    )
    keys = Keys(root, tmp_path / "states")
    int8, mixed = keys.declared("m/int8"), keys.declared("m/mixed")
    assert keys.job("m/mixed").inputs == (
        root / "m/model.keras",
        root / "m/calib.npz",
        root / "m/test.npz",
    )
    (root / "m/test.npz").write_bytes(b"other test data")
    assert keys.declared("m/int8") == int8 and keys.declared("m/mixed") != mixed
    _edit(root / "m/model.yaml", "max_accuracy_drop: 0.02", "max_accuracy_drop: 0.01")
    assert keys.declared("m/int8") == int8  # the budget is the search's goal: mixed's option
    assert keys.job("m/mixed").fingerprint != Keys(root, tmp_path / "s2").job("m/int8").fingerprint


KERAS_CODE: Files = {
    "plain/model.keras": b"model",
    "plain/model.yaml": "source: {keras: model.keras}\nvariants: {float32: {}}\n",
    "kc/model.keras": b"model",
    "kc/layers.py": "from helper import SCALE\n",
    "kc/helper.py": "SCALE = 2\n",
    "kc/pkg/__init__.py": "",
    "kc/pkg/objects.py": "class Shift: ...\n",
    "kc/model.yaml": """
        source:
          keras: model.keras
          imports: [layers.py]
          custom_objects: {Shift: pkg.objects:Shift}
        variants: {float32: {}}
        """,
}


def test_a_keras_sources_own_code_is_declared_and_keys_it(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    root = make_project(KERAS_CODE)
    keys = Keys(root, tmp_path / "states")
    plain = keys.job("plain/float32")
    # Without code of its own a Keras source is described, and so keyed, as it always was.
    assert plain.fingerprint["source"] == {"kind": "keras", "path": "plain/model.keras"}
    assert plain.inputs == (root / "plain/model.keras",) and not plain.discovers
    job = keys.job("kc/float32")
    assert job.fingerprint["source"] == {
        "kind": "keras",
        "path": "kc/model.keras",
        "imports": ["layers.py"],
        "custom_objects": [["Shift", "pkg.objects:Shift"]],
        "base_dir": "kc",
    }
    # Its code's own files are declared (a module resolved to its files); what they import
    # (helper.py) is discovered when it runs.
    assert job.inputs == (
        root / "kc/model.keras",
        root / "kc/layers.py",
        root / "kc/pkg/__init__.py",
        root / "kc/pkg/objects.py",
    )
    assert job.discovers
    before = keys.declared("kc/float32")
    later = time.time() + 5
    os.utime(root / "kc/layers.py", (later, later))
    assert keys.declared("kc/float32") == before
    _edit(root / "kc/pkg/objects.py", "class Shift: ...", "class Shift: pass")
    assert keys.declared("kc/float32") != before
    trusted = keys.declared("kc/float32")
    _edit(root / "kc/model.yaml", "keras: model.keras", "keras: model.keras\n  safe_mode: false")
    assert keys.job("kc/float32").fingerprint["source"]["safe_mode"] is False
    assert keys.declared("kc/float32") != trusted
