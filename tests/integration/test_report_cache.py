"""Reports are cached build outputs: a warm cache reports without TensorFlow or the user's tasks.

Real doit runs. The worker's request counters tell conversions from reference
runs (the source model in TensorFlow), so each test can say what was measured.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rules.cache import reapi
from rules.report import measurements
from rules.report.variant import Report
from rules.summary.model import Summary
from tests.support.doit_runs import doit, edit
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory, npz

pytestmark = pytest.mark.tf

DODO = '''
import shutil
from pathlib import Path

import rules

globals().update(rules.doit_tasks(__file__))
HERE = Path(__file__).parent


def make(recipe, model, marker):
    Path(marker).write_text("the user's task ran\\n")
    shutil.copyfile(recipe, model)


def task_make_model():
    """A user's task that makes a source (it leaves a marker when it runs)."""
    recipe, model, marker = HERE / "made/recipe.keras", HERE / "made/model.keras", HERE / "ran.txt"
    return {"actions": [(make, [recipe, model, marker])], "file_dep": [recipe], "targets": [model]}
'''
PROBE = """
import runpy, sys
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
code = DoitMain(ModuleTaskLoader(runpy.run_path("dodo.py"))).run(["summary"])
print("PROBE", code, "tensorflow" in sys.modules)
"""


# A SavedModel with labelled evaluate data, a Python entry, and a source a user's task makes.
THREE_MODELS: Files = {
    "dodo.py": DODO,
    "sm/export": Tiny.saved_model,
    "sm/eval.npz": npz(
        img=np.random.default_rng(4).random((30, 8, 8, 1), np.float32), labels=np.arange(30) % 3
    ),
    "sm/calib.npz": Tiny.calibration,
    "sm/model.yaml": """
        source: {saved_model: export}
        variants:
          float32: {}
          int8: {quantize: int8, representative: {data: calib.npz}}
        evaluate: {data: eval.npz}
        budgets: {"*": {max_size: 1MB}}
        """,
    "py/entries.py": Tiny.entries,
    "py/model.yaml": "source: {python: entries.py:keras_model}\nvariants: {float32: {}}\n",
    "made/recipe.keras": Tiny.keras,
    "made/model.yaml": """
        source: {keras: model.keras, task: make_model, deps: [recipe.keras]}
        variants: {float32: {}, dynamic: {quantize: dynamic}}
        """,
}


def _probe(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, timeout=600
    )


def _outputs(root: Path) -> dict[str, bytes]:
    build = root / "build"
    found = [*build.rglob("*.report.json"), *build.glob("summary.*")]
    return {p.relative_to(build).as_posix(): p.read_bytes() for p in sorted(found)}


def test_fresh_clone_reports_from_the_cache_without_tensorflow(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    project = make_project(THREE_MODELS)
    first = _probe(project)
    assert first.stdout.strip().endswith("PROBE 0 False"), first.stdout + first.stderr
    assert (project / "ran.txt").is_file()  # the first build made the source
    clone = tmp_path / "clone"
    shutil.copytree(
        project, clone, ignore=shutil.ignore_patterns("build", "ran.txt", "model.keras")
    )
    second = _probe(clone)
    assert second.stdout.strip().endswith("PROBE 0 False"), second.stdout + second.stderr
    assert not (clone / "ran.txt").exists(), "the user's task ran"
    assert not (clone / "made/model.keras").exists()
    assert "0 built, 5 from cache" in second.stdout
    assert second.stderr.count("(measurements from the cache)") == 5
    original, cloned = _outputs(project), _outputs(clone)
    assert len(original) == 5 + 3 and cloned == original
    # Typed and back, byte for byte: the dataclasses hold every part of what was written.
    for name, data in original.items():
        if name.endswith(".report.json"):
            report = Report.from_json(data)
            assert Report.from_dict(report.to_dict()) == report
            assert report.to_json().encode() == data, name
    summary = Summary.from_dict(json.loads(original["summary.json"]))
    assert Summary.from_dict(summary.to_dict()) == summary
    assert summary.to_json().encode() == original["summary.json"]
    assert len(summary.variants) == 5


def test_budgets_rechecked_evaluate_data_remeasured_new_variant_reuses_reference(
    make_project: ProjectFactory,
) -> None:
    project = make_project(THREE_MODELS)
    first = doit(project, "report")
    assert first.code == 0, first.output
    assert first.references == 3  # one per model: sm, py and made
    # A budget edit re-checks the cached measurements: nothing is measured again.
    edit(project / "sm/model.yaml", "max_size: 1MB", "max_size: 2KB")
    run = doit(project, "--continue", "report")
    assert run.code != 0 and run.references == 0 and run.conversions == 0
    assert run.executed == {"report:sm/float32", "report:sm/int8"}
    assert run.output.count("(measurements from the cache)") == 2
    assert "sm/int8: over budget: max_size is 2,000 bytes" in run.output
    edit(project / "sm/model.yaml", "max_size: 2KB", "max_size: 1MB")
    # New evaluate data: the accuracy is measured again, and the reference runs again.
    images = np.random.default_rng(8).random((20, 8, 8, 1), np.float32)
    np.savez(project / "sm/eval.npz", img=images, labels=np.arange(20) % 3)
    run = doit(project, "report")
    assert run.code == 0 and run.references == 1, run.output
    assert "(measurements from the cache)" not in run.output
    report = json.loads((project / "build/sm/int8.report.json").read_text())
    assert report["accuracy"]["data"] == "eval.npz, 20 samples"
    # A new variant of an unchanged model: converted, but its reference is the cached one.
    edit(project / "sm/model.yaml", "  float32: {}", "  float32: {}\n  f16: {quantize: float16}")
    run = doit(project, "report:sm/f16")
    assert run.code == 0 and run.conversions == 1 and run.references == 0, run.output
    f16 = json.loads((project / "build/sm/f16.report.json").read_text())["accuracy"]
    assert f16["reference"] == "the source model, run in TensorFlow" and "accuracy" in f16


def test_a_corrupt_cached_report_is_a_miss(
    make_project: ProjectFactory, private_cache: Path
) -> None:
    project = make_project(THREE_MODELS)
    assert doit(project, "report:sm/float32").code == 0
    entries = [
        reapi.decode(p.read_bytes())
        for p in (private_cache / "ac").rglob("*")
        if p.is_file() and b"measurements_for" in p.read_bytes()
    ]
    assert len(entries) == 1 and entries[0] is not None
    digest = entries[0].artifact.sha256
    blob = private_cache / "cas" / digest[:2] / digest
    stored = blob.read_bytes()
    kept = measurements.Measurements.from_dict(json.loads(stored))
    assert json.dumps(kept.to_dict(), sort_keys=True).encode() == stored
    assert list(kept.latency) == [measurements.host_id(measurements.host())]
    assert kept.latency[measurements.host_id(measurements.host())].this_host is None
    blob.write_bytes(b'{"size": "tampered"}')
    (project / "build/sm/float32.report.json").unlink()
    run = doit(project, "report:sm/float32")
    assert run.code == 0, run.output
    assert "local cache entry" in run.output and "is corrupt" in run.output
    assert "(measurements from the cache)" not in run.output
    report = json.loads((project / "build/sm/float32.report.json").read_text())
    assert report["size"]["size"] == (project / "build/sm/float32.tflite").stat().st_size


def test_latency_from_another_host_is_not_reused(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(THREE_MODELS)
    edit(project / "sm/model.yaml", '{"*": {max_size: 1MB}}', "{int8: {max_latency_ms: 1000}}")
    assert doit(project, "report:sm/float32", "report:sm/int8").code == 0
    here = measurements.host()
    before = {
        v: json.loads((project / f"build/sm/{v}.report.json").read_text())["latency"]
        for v in ("float32", "int8")
    }
    assert before["int8"]["host"] == here.to_dict() and before["int8"]["this_host"] is True
    elsewhere = replace(here, cpu="Another CPU, 3 GHz")
    monkeypatch.setattr(measurements, "host", lambda: elsewhere)
    for variant in ("float32", "int8"):
        (project / f"build/sm/{variant}.report.json").unlink()
    run = doit(project, "report:sm/float32", "report:sm/int8")
    assert run.code == 0 and run.references == 0, run.output
    after = {
        v: json.loads((project / f"build/sm/{v}.report.json").read_text())["latency"]
        for v in ("float32", "int8")
    }
    # No latency budget: the other host's figure is shown as such, not measured again.
    assert after["float32"]["this_host"] is False and after["float32"]["host"] == here.to_dict()
    assert "measured on another host" in run.output
    # A latency budget: measured again here, and checked against this host's figure.
    assert after["int8"]["this_host"] is True and after["int8"]["host"] == elsewhere.to_dict()
    budget = json.loads((project / "build/sm/int8.report.json").read_text())["budgets"]
    assert budget[0]["measured"] == after["int8"]["median_ms"]
    # Asked for by a setting: every variant is measured on this host.
    monkeypatch.setenv("TFLITE_BUILD_MEASURE_LATENCY", "always")
    (project / "build/sm/float32.report.json").unlink()
    assert doit(project, "report:sm/float32").code == 0
    latency = json.loads((project / "build/sm/float32.report.json").read_text())["latency"]
    assert latency["this_host"] is True and latency["host"] == elsewhere.to_dict()
