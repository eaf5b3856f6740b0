"""Discovered inputs: what an entry point or a calibration generator reads keys its artifact.

Real doit runs, both ways: an edit to a file the code imports or opens
rebuilds; a touch does not; after ``doit clean`` an edited helper is a cache
miss and an unedited one a hit; a fresh clone with a warm cache takes every
variant from the cache without starting TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from converter.tflite import modelinfo
from tests.support.doit_runs import converted, doit, edit
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory, npz, write_files

pytestmark = pytest.mark.tf

ENTRY = '''
"""A model whose width comes from a helper module and whose weights from a file."""
from pathlib import Path

import numpy as np

from helper import WIDTH

HERE = Path(__file__).parent


def make_model():
    import keras

    inputs = keras.Input((4,), name="x")
    dense = keras.layers.Dense(WIDTH, name="dense")
    model = keras.Model(inputs, dense(inputs))
    with np.load(HERE / "weights.npz") as weights:
        scale = float(weights["scale"])
    dense.set_weights([np.full((4, WIDTH), scale, np.float32), np.zeros(WIDTH, np.float32)])
    return model
'''
PACKAGE_MODELS = """
from pkg.layers import UNITS


def make():
    import keras

    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, keras.layers.Dense(UNITS)(inputs))
"""
CALIB = """
import numpy as np

from calib_helper import SCALE


def samples():
    rng = np.random.default_rng(3)
    for _ in range(8):
        yield [(rng.random((1, 8, 8, 1)) * SCALE).astype(np.float32)]
"""
ALL = {"convert:ent/float32", "convert:mod/float32", "convert:gen/int8"}
PROBE = """
import runpy, sys
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
import converter.api
code = DoitMain(ModuleTaskLoader(runpy.run_path("dodo.py"))).run(["convert"])
print("PROBE", code, "tensorflow" in sys.modules, converter.api._default is None)
"""


def _weights(path: Path, scale: float) -> None:
    np.savez(path, scale=np.float32(scale))


# An entry, a module entry and a calibration generator, each importing a helper of its own.
THREE_ENTRIES: Files = {
    "ent/model.yaml": "source: {python: build.py:make_model}\nvariants: {float32: {}}\n",
    "ent/build.py": ENTRY,
    "ent/helper.py": "WIDTH = 3\n",
    "ent/weights.npz": npz(scale=np.array(0.5, np.float32)),
    "mod/model.yaml": "source: {python: pkg.models:make}\nvariants: {float32: {}}\n",
    "mod/pkg/__init__.py": "",
    "mod/pkg/models.py": PACKAGE_MODELS,
    "mod/pkg/layers.py": "UNITS = 2\n",
    "gen/model.keras": Tiny.keras,
    "gen/model.yaml": "source: {keras: model.keras}\nvariants:\n"
    "  int8: {quantize: int8, representative: {python: calib.py:samples}}\n",
    "gen/calib.py": CALIB,
    "gen/calib_helper.py": "SCALE = 1.0\n",
}


def _touch(path: Path) -> None:
    later = time.time() + 5
    os.utime(path, (later, later))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_what_code_reads_rebuilds_on_change_and_not_on_touch(make_project: ProjectFactory) -> None:
    project = make_project(THREE_ENTRIES)
    first = doit(project, "convert")
    assert first.code == 0, first.output
    assert converted(first) == ALL and first.conversions == 3
    record = json.loads((project / "build/ent/float32.convert.json").read_text())
    assert record["discovered"] == ["ent/helper.py", "ent/weights.npz"]
    provenance = modelinfo.read_provenance((project / "build/ent/float32.tflite").read_bytes())
    assert provenance is not None and set(provenance["discovered"]) >= {"ent/helper.py"}
    mod = json.loads((project / "build/mod/float32.convert.json").read_text())
    # A module entry's own files are declared (resolved from its name); what it imports is found.
    assert mod["discovered"] == ["mod/pkg/layers.py"]
    gen = json.loads((project / "build/gen/int8.convert.json").read_text())
    assert gen["discovered"] == ["gen/calib_helper.py"]
    assert doit(project, "convert").executed == set()

    for path in ("ent/helper.py", "ent/weights.npz", "mod/pkg/layers.py", "gen/calib_helper.py"):
        _touch(project / path)
    touched = doit(project, "convert")
    assert touched.executed == set() and touched.conversions == 0, touched.output

    edit(project / "ent/helper.py", "WIDTH = 3", "WIDTH = 5")
    run = doit(project, "convert")
    assert converted(run) == {"convert:ent/float32"} and run.conversions == 1
    _weights(project / "ent/weights.npz", 0.25)
    assert converted(doit(project, "convert")) == {"convert:ent/float32"}
    edit(project / "mod/pkg/layers.py", "UNITS = 2", "UNITS = 3")
    assert converted(doit(project, "convert")) == {"convert:mod/float32"}
    _append(project / "mod/pkg/models.py", "# edited\n")
    assert converted(doit(project, "convert")) == {"convert:mod/float32"}
    edit(project / "gen/calib_helper.py", "SCALE = 1.0", "SCALE = 2.0")
    assert converted(doit(project, "convert")) == {"convert:gen/int8"}
    # An import that appears later is discovered on that rebuild.
    write_files(project, {"ent/extra.py": "EXTRA = 1\n"})
    _append(project / "ent/helper.py", "from extra import EXTRA\n")
    assert converted(doit(project, "convert")) == {"convert:ent/float32"}
    edit(project / "ent/extra.py", "EXTRA = 1", "EXTRA = 2")
    assert converted(doit(project, "convert")) == {"convert:ent/float32"}
    assert doit(project, "convert").executed == set()


def test_after_clean_an_edited_helper_misses_and_an_unedited_one_hits(
    make_project: ProjectFactory,
) -> None:
    project = make_project(THREE_ENTRIES)
    assert doit(project, "convert").code == 0
    built = {p.name: p.read_bytes() for p in (project / "build").rglob("*.tflite")}
    assert not doit(project, "clean").code  # doit's clean returns None
    edit(project / "ent/helper.py", "WIDTH = 3", "WIDTH = 4")
    run = doit(project, "convert")
    assert run.code == 0, run.output
    assert run.conversions == 1 and converted(run) == {"convert:ent/float32"}
    assert "C  convert:mod/float32 (from the local cache)" in run.output
    assert "C  convert:gen/int8 (from the local cache)" in run.output
    # Back to the first helper: that artifact is still in the cache, under its own key.
    assert not doit(project, "clean").code  # doit's clean returns None
    edit(project / "ent/helper.py", "WIDTH = 4", "WIDTH = 3")
    run = doit(project, "convert")
    assert run.conversions == 0 and "0 built, 3 from cache" in run.output, run.output
    assert {p.name: p.read_bytes() for p in (project / "build").rglob("*.tflite")} == built


def test_fresh_clone_with_a_warm_cache_starts_no_tensorflow(
    make_project: ProjectFactory, tmp_path: Path, private_cache: Path
) -> None:
    project = make_project(THREE_ENTRIES)
    first = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=project, capture_output=True, text=True, timeout=600
    )
    assert first.stdout.strip().endswith("PROBE 0 False False"), first.stdout + first.stderr
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns("build", "__pycache__"))
    second = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=clone, capture_output=True, text=True, timeout=600
    )
    assert second.stdout.strip().endswith("PROBE 0 False True"), second.stdout + second.stderr
    assert "0 built, 3 from cache" in second.stdout
    ours = {p.relative_to(project / "build"): p.read_bytes() for p in project.rglob("*.tflite")}
    theirs = {p.relative_to(clone / "build"): p.read_bytes() for p in clone.rglob("*.tflite")}
    assert ours == theirs and len(ours) == 3
    # The clone's helper differs: that variant alone misses, and is built.
    edit(clone / "ent/helper.py", "WIDTH = 3", "WIDTH = 6")
    shutil.rmtree(clone / "build")
    third = doit(clone, "convert")  # in this process: its warm worker converts the one miss
    assert "1 built, 2 from cache" in third.output and third.conversions == 1, third.output
