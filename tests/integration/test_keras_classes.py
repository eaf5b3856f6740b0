"""Keras files with classes of their own (imports, custom_objects) and code (safe_mode), for real.

One small project holds a Keras 3 model with a registered layer (``imports``) and an
unregistered one (``custom_objects``) as ``.keras`` and as ``.h5``, a legacy tf_keras
``.h5`` with a custom layer, and a model with a Lambda layer (``safe_mode: false``).
Each artifact equals TensorFlow's own conversion of the same file; the layers' modules
are inputs (the named files declared, what they import discovered); a fresh clone with
a warm cache starts no TensorFlow; and a model whose classes Keras cannot find, or
whose code it will not run, fails with a sentence naming the keys that fix it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import converter
from converter.tflite import modelinfo
from tests.support.doit_runs import converted, doit, edit
from tests.support.processes import Started, started
from tests.support.project import Files, ProjectFactory

pytestmark = pytest.mark.tf

HELPER = "FACTOR = 2.0\n"
LAYERS = '''
"""A layer registered with Keras: the manifest's imports make it known."""
import keras

from helper import FACTOR


@keras.saving.register_keras_serializable(package="tfbtest")
class Scale(keras.layers.Layer):
    def call(self, x):
        return x * FACTOR
'''
OBJECTS = '''
"""A layer nobody registers: the manifest's custom_objects name it."""
import keras


class Shift(keras.layers.Layer):
    def call(self, x):
        return x + 1.0
'''
LEGACY_LAYERS = '''
"""A tf_keras layer, not registered."""
import tf_keras


class Scale(tf_keras.layers.Layer):
    def call(self, x):
        return x * 2.0
'''
# Writes the legacy .h5 with tf_keras and TF's own conversion of it (tf_keras is chosen
# before TensorFlow is imported, so in a process of its own).
LEGACY_ORACLE = textwrap.dedent(
    """
    import sys

    import tensorflow as tf
    import tf_keras

    folder = sys.argv[1]
    sys.path.insert(0, folder)
    from legacy_layers import Scale

    tf_keras.utils.set_random_seed(0)
    inputs = tf_keras.Input((4,), name="x")
    tf_keras.Model(inputs, tf_keras.layers.Dense(3)(Scale()(inputs))).save(f"{folder}/legacy.h5")
    model = tf_keras.models.load_model(
        f"{folder}/legacy.h5", custom_objects={"Scale": Scale}, compile=False
    )
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    open(f"{folder}/legacy.tflite", "wb").write(data)
    """
)
CUSTOM = """
source:
  keras: {file}
  imports: [{layers}]
  custom_objects: {{Shift: {objects}:Shift}}
variants: {{float32: {{}}}}
"""
ALL = {"convert:m/float32", "convert:h5/float32", "convert:lam/float32", "convert:old/float32"}
PROBE = """
import runpy, sys
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
import converter.api
code = DoitMain(ModuleTaskLoader(runpy.run_path("dodo.py"))).run(["convert"])
print("PROBE", code, "tensorflow" in sys.modules, converter.api._default is None)
"""


@dataclass(frozen=True)
class KerasFiles:
    """The models' files and TF's own conversions of them (the legacy one when it is done)."""

    folder: Path
    expected: dict[str, bytes]
    legacy: Started

    def oracle(self, name: str) -> bytes:
        if name == "legacy.h5":
            self.legacy.finished()
            return (self.folder / "legacy.tflite").read_bytes()
        return self.expected[name]

    def file(self, name: str) -> Path:
        if name == "legacy.h5":
            self.legacy.finished()
        return self.folder / name


def _module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"tfbtest_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _tf_bytes(path: Path, **load: Any) -> bytes:
    """TF's own conversion of a Keras file, loaded as a user of Keras loads it."""
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    model = keras.models.load_model(path, compile=False, **load)
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KerasFiles]:
    folder = tmp_path_factory.mktemp("keras_classes")
    for name, text in {
        "helper.py": HELPER,
        "layers.py": LAYERS,
        "objects.py": OBJECTS,
        "legacy_layers.py": LEGACY_LAYERS,
    }.items():
        (folder / name).write_text(text.lstrip())
    with started(LEGACY_ORACLE, str(folder), env={"TF_USE_LEGACY_KERAS": "1"}) as legacy:
        import keras

        layers, objects = _module(folder / "layers.py"), _module(folder / "objects.py")
        sys.modules.pop("helper", None)
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,), name="x")
        model = keras.Model(inputs, keras.layers.Dense(3)(objects.Shift()(layers.Scale()(inputs))))
        model.save(folder / "custom.keras")
        model.save(folder / "custom.h5")
        lam = keras.Sequential(
            [inputs, keras.layers.Lambda(lambda t: t * 3.0), keras.layers.Dense(2)]
        )
        with warnings.catch_warnings():  # Keras warns that a lambda needs safe_mode=False
            warnings.simplefilter("ignore")
            lam.save(folder / "lambda.keras")
        shift = {"Shift": objects.Shift}
        expected = {
            "custom.keras": _tf_bytes(folder / "custom.keras", custom_objects=shift),
            "custom.h5": _tf_bytes(folder / "custom.h5", custom_objects=shift),
            "lambda.keras": _tf_bytes(folder / "lambda.keras", safe_mode=False),
        }
        keras.saving.get_custom_objects().pop("tfbtest>Scale", None)  # the worker's to know
        yield KerasFiles(folder, expected, legacy)


def _project(make_project: ProjectFactory, files: KerasFiles) -> Path:
    project: Files = {
        "m/custom.keras": files.file("custom.keras"),
        "m/helper.py": HELPER,
        "m/layers.py": LAYERS,
        "m/objects.py": OBJECTS,
        "m/model.yaml": CUSTOM.format(
            file="custom.keras", layers="layers.py", objects="objects.py"
        ),
        # Code shared with another folder: its files are the same inputs there.
        "h5/custom.h5": files.file("custom.h5"),
        "h5/model.yaml": CUSTOM.format(
            file="custom.h5", layers="../m/layers.py", objects="../m/objects.py"
        ),
        "lam/lambda.keras": files.file("lambda.keras"),
        "lam/model.yaml": "source: {keras: lambda.keras, safe_mode: false}\n"
        "variants: {float32: {}}\n",
        "old/legacy.h5": files.file("legacy.h5"),
        "old/legacy_layers.py": LEGACY_LAYERS,
        "old/model.yaml": "source:\n  keras: legacy.h5\n  legacy: true\n"
        "  custom_objects: {Scale: legacy_layers.py:Scale}\nvariants: {float32: {}}\n",
    }
    return make_project(project)


def _artifacts(project: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in (project / "build").rglob("*.tflite")}


def _touch(path: Path) -> None:
    later = time.time() + 5
    os.utime(path, (later, later))


def test_custom_classes_convert_to_tfs_own_bytes_and_their_code_is_an_input(
    make_project: ProjectFactory, keras_files: KerasFiles, tmp_path: Path
) -> None:
    project = _project(make_project, keras_files)
    first = doit(project, "convert")
    assert first.code == 0, first.output
    assert converted(first) == ALL and first.conversions == 4
    built = _artifacts(project)
    for model, name in [
        ("m", "custom.keras"),
        ("h5", "custom.h5"),
        ("lam", "lambda.keras"),
        ("old", "legacy.h5"),
    ]:
        assert modelinfo.strip_provenance(built[model]) == keras_files.oracle(name), model
    for model in ("m", "h5"):  # the named files are declared; what they import is found
        record = json.loads((project / f"build/{model}/float32.convert.json").read_text())
        assert record["discovered"] == ["m/helper.py"], model
    assert doit(project, "convert").executed == set()

    for name in ("helper.py", "layers.py", "objects.py"):
        _touch(project / "m" / name)
    _touch(project / "old/legacy_layers.py")
    touched = doit(project, "convert")
    assert touched.executed == set() and touched.conversions == 0, touched.output

    edit(project / "m/helper.py", "FACTOR = 2.0", "FACTOR = 5.0")
    run = doit(project, "convert")
    assert converted(run) == {"convert:m/float32", "convert:h5/float32"}, run.output
    assert _artifacts(project)["m"] != built["m"]  # the helper's constant is in the graph
    edit(project / "m/objects.py", "x + 1.0", "x + 2.0")
    assert converted(doit(project, "convert")) == {"convert:m/float32", "convert:h5/float32"}
    edit(project / "old/legacy_layers.py", "x * 2.0", "x * 4.0")
    assert converted(doit(project, "convert")) == {"convert:old/float32"}
    assert doit(project, "convert").executed == set()

    # A fresh clone with the warm cache: every artifact from the cache, no TensorFlow.
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns("build", "__pycache__"))
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=clone, capture_output=True, text=True, timeout=600
    )
    assert probe.stdout.strip().endswith("PROBE 0 False True"), probe.stdout + probe.stderr
    assert "0 built, 4 from cache" in probe.stdout
    assert _artifacts(clone) == _artifacts(project)


def _refusal(engine: converter.Engine, source: converter.KerasSource, out: Path) -> str:
    with pytest.raises(converter.SourceError) as raised:
        engine.convert(source, converter.Options(), out)
    assert not out.exists()
    return str(raised.value)


def test_classes_keras_cannot_find_and_code_it_will_not_run_name_the_keys(
    keras_files: KerasFiles, engine: converter.Engine, tmp_path: Path
) -> None:
    folder, out = keras_files.folder, tmp_path / "out.tflite"
    remedy = (
        "list the file or module that defines it under the source's imports (imports: "
        "[file.py], with @{package}.saving.register_keras_serializable() on the class), or map "
        "the name to it with custom_objects: {{{name}: file.py:{cls}}}"
    )
    custom = folder / "custom.keras"
    # Neither key: the registered class is named by its registered name, which custom_objects takes.
    assert _refusal(engine, converter.KerasSource(custom), out) == (
        f"{custom}: Keras cannot find the class 'tfbtest>Scale': none is registered under that "
        "name; " + remedy.format(package="keras", name="'tfbtest>Scale'", cls="Scale")
    )
    imported = converter.KerasSource(custom, imports=("layers.py",), base_dir=folder)
    for source in (
        imported,
        converter.KerasSource(folder / "custom.h5", imports=("layers.py",), base_dir=folder),
    ):
        assert _refusal(engine, source, out) == (
            f"{source.path}: Keras cannot find the class 'Shift': none is registered under that "
            "name (the source's imports, layers.py, register none); "
            + remedy.format(package="keras", name="Shift", cls="Shift")
        )
    legacy = converter.KerasSource(keras_files.file("legacy.h5"), legacy=True)
    assert _refusal(engine, legacy, out) == (
        f"{legacy.path}: Keras cannot find the class 'Scale': none is registered under that "
        "name; " + remedy.format(package="tf_keras", name="Scale", cls="Scale")
    )
    lam = folder / "lambda.keras"
    assert _refusal(engine, converter.KerasSource(lam), out) == (
        f"{lam}: the model holds a Lambda layer whose function is Python code stored in the "
        "file, which Keras loads only from a file it is told to trust. If you trust this file, "
        "set safe_mode: false under source: loading the model then runs the code stored in it"
    )
