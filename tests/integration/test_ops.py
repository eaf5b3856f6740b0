"""Deployment gates for real: ``doit ops``, the device section and its budgets, the summary's view.

A small project (a Keras CNN as float32, dynamic-range and int8; a tf.function
that converts only with Select TF ops) is converted once into a cache the tests
share; each test works on its own copy of the project.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest

from rules.fleet.inventory import Fleet
from tests.support.doit_runs import doit
from tests.support.models import Models, Tiny
from tests.support.project import Files, ProjectFactory
from tests.support.tflite_ops import analyzer_ops, tf_ops

pytestmark = pytest.mark.tf

KERAS = """\
source: {keras: model.keras}
variants:
  float32: {}
  dynamic: {quantize: dynamic}
  int8: {quantize: int8, representative: {data: calib.npz}}
"""
FLEX = """\
source: {python: entries.py:flex}
variants:
  flex: {supported_ops: [builtins, select_tf_ops]}
"""
# Runs `doit ops` in a process of its own and says whether TensorFlow was imported, and the
# flatbuffer schema (a rerun reads the inventory of unchanged artifacts from the build state).
PROBE = """
import runpy, sys
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
code = DoitMain(ModuleTaskLoader(runpy.run_path("dodo.py"))).run(["ops"])
print("PROBE", code, "tensorflow" in sys.modules, "flatbuffers" in sys.modules)
"""


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ops-cache")


@pytest.fixture(scope="module")
def keras_model(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CNN with a hidden layer big enough for dynamic-range quantization (which leaves
    tensors under 1024 elements in float): its FULLY_CONNECTED is v12, runtime 2.17.

    Pooled, not flattened: Flatten on a free batch size converts to SHAPE, STRIDED_SLICE,
    PACK and a RESHAPE of a computed shape, none of which the GPU delegate takes.
    """
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(models.samples.shape[1:], name="img")
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.Dense(64, activation="relu")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    path = tmp_path_factory.mktemp("ops-model") / "model.keras"
    model.save(path)
    return path


@pytest.fixture(autouse=True)
def _converted_once(shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test of this module builds into the module's cache: conversions are made once."""
    monkeypatch.setenv("TFLITE_BUILD_CACHE", str(shared_cache))


# The CNN (``keras_model``, added by each test) and a model that needs Select TF ops.
FLEET: Files = {
    "kr/calib.npz": Tiny.calibration,
    "kr/model.yaml": KERAS,
    "fx/entries.py": Tiny.entries,
    "fx/model.yaml": FLEX,
}


def test_the_inventory_is_what_tensorflow_reads_and_the_registration_source_is_the_fleets(
    make_project: ProjectFactory,
    keras_model: Path,
) -> None:
    project = make_project({**FLEET, "kr/model.keras": keras_model})
    run = doit(project, "ops")
    assert run.code == 0, run.output
    assert "ops: 4 variants" in run.output and "the fleet needs runtime 2.17" in run.output
    inventory = json.loads((project / "build/ops.json").read_text())
    fleet = Fleet.from_dict(inventory)
    assert sorted(fleet.variants) == ["fx/flex", "kr/dynamic", "kr/float32", "kr/int8"]
    for name, variant in fleet.variants.items():
        data = (project / "build" / f"{name}.tflite").read_bytes()
        assert dict(variant.ops) == tf_ops(data), name
        assert set(variant.ops) == analyzer_ops(data), name
    dynamic = inventory["variants"]["kr/dynamic"]
    assert dynamic["builtin"]["FULLY_CONNECTED"] == [12]
    assert (dynamic["runtime"], dynamic["runtime_because"]) == ("2.17.0", "FULLY_CONNECTED v12")
    assert inventory["variants"]["fx/flex"]["select_tf"]  # Cumprod, Lgamma
    assert inventory["fleet"]["runtime_because"] == "kr/dynamic: FULLY_CONNECTED v12"

    # The registration source registers exactly the fleet's builtins, at the versions used.
    source = (project / "build/register_ops.cc").read_text()
    registered: dict[str, tuple[int, ...]] = {}
    for op, low, high in re.findall(
        r"AddBuiltin\(::tflite::BuiltinOperator_(\w+),\s*::tflite::ops::builtin::Register_\w+\(\)"
        r"(?:,\s*(\d+),\s*(\d+))?\)",
        source,
    ):
        registered[op] = (int(low), int(high)) if low else (1, 1)
    builtins = {op: v for op, v in fleet.ops().items() if ":" not in op}
    assert registered == {op: (min(v), max(v)) for op, v in builtins.items()}
    assert "AddCustom" not in source  # Select TF ops go to the Flex delegate's own build
    for op in inventory["fleet"]["select_tf"]:
        assert re.search(rf"^//.*\b{op}\b", source, re.MULTILINE), op

    # Again, in a process of its own: no TensorFlow, and neither file is written again.
    stamps = {p: p.stat().st_mtime_ns for p in (project / "build").glob("*") if p.is_file()}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=project, capture_output=True, text=True, timeout=600
    )
    assert "PROBE 0 False False" in probe.stdout, probe.stdout + probe.stderr
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # New bytes under the same name: read afresh, not taken from the last run's inventory.
    (project / "kr/model.yaml").write_text(
        KERAS.replace("{quantize: dynamic}", "{quantize: float16}")
    )
    assert doit(project, "ops").code == 0
    again = json.loads((project / "build/ops.json").read_text())
    assert again["variants"]["kr/dynamic"]["builtin"]["FULLY_CONNECTED"] == [1]
    assert again["fleet"]["runtime"] != "2.17.0"


def test_device_gates_fail_reports_with_one_sentence_each(
    make_project: ProjectFactory, keras_model: Path
) -> None:
    project = make_project({**FLEET, "kr/model.keras": keras_model})
    assert doit(project, "ops").code == 0
    fleet = json.loads((project / "build/ops.json").read_text())["fleet"]["allowed_ops"]
    # A selective runtime of the fleet's ops, then one built before FULLY_CONNECTED v12.
    older = [op if not op.startswith("FULLY_CONNECTED") else "FULLY_CONNECTED v11" for op in fleet]
    (project / "kr/model.yaml").write_text(
        KERAS
        + "budgets:\n"
        + '  "*": {runtime: "2.14"}\n'
        + f"  float32: {{gpu_compatible: true, allowed_ops: [{', '.join(fleet)}]}}\n"
        + f"  dynamic: {{allowed_ops: [{', '.join(older)}]}}\n"
    )
    (project / "fx/model.yaml").write_text(
        FLEX + "budgets:\n  flex: {gpu_compatible: true, select_tf_ops: false}\n"
    )
    run = doit(project, "--continue", "report")
    assert run.code != 0
    reports = {
        p.relative_to(project / "build").as_posix(): json.loads(p.read_text())
        for p in (project / "build").rglob("*.report.json")
    }
    verdicts = {
        (name, check["budget"]): check["passed"]
        for name, report in reports.items()
        for check in report["budgets"]
    }
    assert verdicts == {
        ("kr/float32.report.json", "runtime"): True,
        ("kr/float32.report.json", "gpu_compatible"): True,
        ("kr/float32.report.json", "allowed_ops"): True,
        ("kr/dynamic.report.json", "runtime"): False,
        ("kr/dynamic.report.json", "allowed_ops"): False,
        ("kr/int8.report.json", "runtime"): True,
        ("fx/flex.report.json", "gpu_compatible"): False,
        ("fx/flex.report.json", "select_tf_ops"): False,
    }
    for sentence in (
        "kr/dynamic: over budget: runtime is 2.14, the variant needs 2.17 (FULLY_CONNECTED v12)",
        "kr/dynamic: over budget: allowed_ops leaves out FULLY_CONNECTED v12",
    ):
        assert sentence in run.output
    flex = reports["fx/flex.report.json"]
    refused = flex["device"]["gpu"]["rejected"]
    assert all(op in refused for op in flex["device"]["ops"] if ":" in op)  # Select TF ops
    sentences = [c["sentence"] for c in flex["budgets"]]
    assert sentences[0].startswith("fx/flex: over budget: gpu_compatible is true, ")
    assert "cannot run on the GPU delegate: " in sentences[0]
    assert sentences[1].startswith(
        "fx/flex: over budget: select_tf_ops is false, the variant uses "
    )
    assert all(sentence in run.output for sentence in sentences)


def test_the_summary_says_what_a_change_adds_to_the_fleet(
    make_project: ProjectFactory, keras_model: Path
) -> None:
    project = make_project({**FLEET, "kr/model.keras": keras_model})
    (project / "kr/model.yaml").write_text(
        "source: {keras: model.keras}\nvariants: {float32: {}}\n"
    )
    shutil.rmtree(project / "fx")
    assert doit(project, "summary").code == 0
    baseline = project / "base.json"
    shutil.copy(project / "build/summary.json", baseline)
    (project / "pyproject.toml").write_text('[tool.tflite-build]\nbaseline = "base.json"\n')
    (project / "kr/model.yaml").write_text(KERAS)
    run = doit(project, "summary")
    assert run.code == 0, run.output
    summary = json.loads((project / "build/summary.json").read_text())
    added = summary["baseline"]["ops_added"]
    assert "kr/dynamic adds FULLY_CONNECTED v12" in added[:-1]
    assert added[-1].startswith(
        "the fleet now needs runtime 2.17 (kr/dynamic: FULLY_CONNECTED v12, was "
    )
    markdown = (project / "build/summary.md").read_text()
    assert f"Ops against the baseline: {'; '.join(added)}." in markdown
    assert "**Runtime and ops:** the fleet needs runtime 2.17" in markdown
    page = (project / "build/summary.html").read_text()
    assert 'id="fleet"' in page and f"Against the baseline: {escape('; '.join(added))}." in page
    # The same project against itself adds nothing.
    shutil.copy(project / "build/summary.json", baseline)
    assert doit(project, "summary").code == 0
    assert json.loads((project / "build/summary.json").read_text())["baseline"]["ops_added"] == []
