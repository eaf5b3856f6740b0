"""Every input format x every quantization mode: our artifact equals TF's own output, byte for byte.

The oracle is TensorFlow's Python API called here, in the test process, with the
same options. Our artifact carries a provenance entry; with it removed the bytes
must be identical, and the ai-edge-litert interpreter must run the artifact.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import converter
from converter.service import client
from converter.service.client import ServiceConfig
from converter.tflite import modelinfo
from tests.support.models import Models, call_entry, mode_options, tf_apply
from tests.support.processes import Started, started

pytestmark = pytest.mark.tf


def _entry(models: Models, name: str) -> Any:
    return call_entry(models.entries, name)


def _keras_file(path: Path) -> Any:
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    return tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model(path, compile=False))


def _session(models: Models) -> Any:
    import tensorflow as tf

    sess, inputs, outputs = _entry(models, "session")
    return tf.compat.v1.lite.TFLiteConverter.from_session(sess, inputs, outputs)


# format -> (our source, TF's converter for the same model)
FORMATS: dict[str, tuple[Callable[[Models], converter.Source], Callable[[Models], Any]]] = {
    "saved_model": (
        lambda m: converter.SavedModelSource(m.saved_model),
        lambda m: __import__("tensorflow").lite.TFLiteConverter.from_saved_model(
            str(m.saved_model)
        ),
    ),
    "keras": (lambda m: converter.KerasSource(m.keras), lambda m: _keras_file(m.keras)),
    "h5": (lambda m: converter.KerasSource(m.h5), lambda m: _keras_file(m.h5)),
    "frozen_graph": (
        lambda m: converter.FrozenGraphSource(m.frozen_graph, ("img",), ("probs",)),
        lambda m: __import__("tensorflow").compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(m.frozen_graph), ["img"], ["probs"]
        ),
    ),
    "tf1_saved_model": (
        lambda m: converter.TF1SavedModelSource(m.tf1_saved_model),
        lambda m: __import__("tensorflow").compat.v1.lite.TFLiteConverter.from_saved_model(
            str(m.tf1_saved_model)
        ),
    ),
    "python_keras": (
        lambda m: converter.PythonSource("entries.py:keras_model", m.root),
        lambda m: __import__("tensorflow").lite.TFLiteConverter.from_keras_model(
            _entry(m, "keras_model")
        ),
    ),
    "python_tf_function": (
        lambda m: converter.PythonSource("entries.py:tf_function", m.root),
        lambda m: __import__("tensorflow").lite.TFLiteConverter.from_concrete_functions(
            [_entry(m, "tf_function").get_concrete_function()]
        ),
    ),
    "python_session": (
        lambda m: converter.PythonSource("entries.py:session", m.root),
        _session,
    ),
}
MODES = ("none", "dynamic", "float16", "int8", "int8_fallback", "int16x8")


def run_interpreter(data: bytes, samples: np.ndarray) -> np.ndarray:
    """One inference in ai-edge-litert, with the input quantized as the model asks."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    x = samples[:1]
    if inp["dtype"] != np.float32:
        scale, zero = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(x / scale) + zero, info.min, info.max)
    interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
    interpreter.invoke()
    out = interpreter.get_output_details()[0]
    y = interpreter.get_tensor(out["index"]).astype(np.float32)
    if out["dtype"] != np.float32:
        scale, zero = out["quantization"]
        y = (y - zero) * scale
    return np.asarray(y, np.float32)


# The matrix's artifacts, by (format, mode), for the warm service's test to compare with.
MADE: dict[tuple[str, str], bytes] = {}


def _convert(engine: converter.Engine, fmt: str, mode: str, models: Models, out: Path) -> bytes:
    make_source, _ = FORMATS[fmt]
    result = engine.convert(
        make_source(models),
        mode_options(mode, converter.Representative(data=models.calibration)),
        out / f"{fmt}-{mode}.tflite",
        provenance={"key": f"{fmt}/{mode}"},
    )
    data = result.path.read_bytes()
    assert result.size == len(data)
    return data


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_artifact_equals_tensorflow_output(
    fmt: str, mode: str, models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    _, make_tf_converter = FORMATS[fmt]
    # Ours converts in the engine's worker process while TF's own converts here.
    with ThreadPoolExecutor(1) as waiting:
        converting = waiting.submit(_convert, engine, fmt, mode, models, tmp_path)
        tf_converter = make_tf_converter(models)
        tf_apply(tf_converter, mode, lambda: ([s[None]] for s in models.samples))
        expected = tf_converter.convert()
        ours = MADE[fmt, mode] = converting.result()
    assert modelinfo.read_provenance(ours)["key"] == f"{fmt}/{mode}"  # type: ignore[index]
    assert modelinfo.strip_provenance(ours) == expected
    y = run_interpreter(ours, models.samples)
    assert np.all(np.isfinite(y)) and y.size > 0


LEGACY_ORACLE = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tf_keras

    path, out = sys.argv[1], sys.argv[2]
    for mode in json.loads(sys.argv[3]):
        conv = tf.lite.TFLiteConverter.from_keras_model(tf_keras.models.load_model(path, compile=False))
        if mode != "none":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "float16":
            conv.target_spec.supported_types = [tf.float16]
        open(f"{out}/{mode}.tflite", "wb").write(conv.convert())
    """
)


LEGACY_MODES = ("none", "dynamic", "float16")


@dataclass(frozen=True)
class Oracle:
    """TF's own conversions, in a process started earlier, writing ``<mode>.tflite`` in ``out``."""

    process: Started
    out: Path

    def converted(self, mode: str) -> bytes:
        self.process.finished()
        return (self.out / f"{mode}.tflite").read_bytes()


@pytest.fixture(scope="module", autouse=True)
def legacy_oracle(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    """TF's own conversions of the legacy .h5, in a process of theirs (tf_keras is chosen
    before TensorFlow is imported), started with this module's first test so that it works
    while the others do."""
    out = tmp_path_factory.mktemp("legacy-oracle")
    legacy = {"TF_USE_LEGACY_KERAS": "1"}
    args = (str(models.legacy_h5), str(out), json.dumps(LEGACY_MODES))
    with started(LEGACY_ORACLE, *args, env=legacy) as oracle:
        yield Oracle(oracle, out)


def test_legacy_tf_keras_h5_equals_tensorflow_output(
    models: Models, engine: converter.Engine, legacy_oracle: Oracle, tmp_path: Path
) -> None:
    ours = {
        mode: engine.convert(
            converter.KerasSource(models.legacy_h5, legacy=True),
            converter.Options(quantize=mode),  # type: ignore[arg-type]
            tmp_path / f"ours-{mode}.tflite",
            provenance=True,
        ).path.read_bytes()
        for mode in LEGACY_MODES
    }
    for mode in LEGACY_MODES:
        assert modelinfo.strip_provenance(ours[mode]) == legacy_oracle.converted(mode), mode
        assert run_interpreter(ours[mode], models.samples).shape == (1, 3)


def test_python_entry_is_deterministic_across_calls(
    models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    """A persistent worker must not leak Keras name counters or seeds between requests."""
    source = converter.PythonSource("entries.py:keras_model", models.root)
    first = engine.convert(source, converter.Options(), tmp_path / "a.tflite")
    engine.convert(converter.KerasSource(models.keras), converter.Options(), tmp_path / "b.tflite")
    second = engine.convert(source, converter.Options(), tmp_path / "c.tflite")
    assert first.sha256 == second.sha256


def test_multi_signature_saved_model_keeps_its_signatures(
    models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    import keras
    import tensorflow as tf

    model = keras.models.load_model(models.keras)
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = [tf.TensorSpec([None, 8, 8, 1], tf.float32)]
    archive.add_endpoint("predict", model.call, input_signature=spec)
    archive.add_endpoint("top_class", lambda x: tf.argmax(model(x), axis=-1), input_signature=spec)
    archive.write_out(str(tmp_path / "multi"), verbose=False)

    both = engine.convert(
        converter.SavedModelSource(tmp_path / "multi", ("predict", "top_class")),
        converter.Options(),
        tmp_path / "both.tflite",
    )
    one = engine.convert(
        converter.SavedModelSource(tmp_path / "multi", ("top_class",)),
        converter.Options(),
        tmp_path / "one.tflite",
    )
    from ai_edge_litert.interpreter import Interpreter

    assert set(Interpreter(model_path=str(both.path)).get_signature_list()) == {
        "predict",
        "top_class",
    }
    assert set(Interpreter(model_path=str(one.path)).get_signature_list()) == {"top_class"}


def test_python_representative_generator(
    models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    rep = converter.Representative(python="entries.py:calibration", samples=5, base_dir=models.root)
    result = engine.convert(
        converter.SavedModelSource(models.saved_model),
        converter.Options(quantize="int8", representative=rep),
        tmp_path / "gen.tflite",
    )
    import tensorflow as tf

    entries = importlib.util.spec_from_file_location("calib_entries", models.entries)
    assert entries is not None and entries.loader is not None
    module = importlib.util.module_from_spec(entries)
    entries.loader.exec_module(module)
    samples = list(module.calibration())[:5]
    conv = tf.lite.TFLiteConverter.from_saved_model(str(models.saved_model))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(samples)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    assert result.path.read_bytes() == conv.convert()


@pytest.fixture(scope="module")
def service_engine() -> Iterator[converter.Engine]:
    """An engine that converts through a warm service of its own (one worker), stopped after."""
    config = ServiceConfig(
        directory=Path(tempfile.mkdtemp(prefix="tfb-")), workers=1, idle_timeout=600
    )
    warnings: list[str] = []
    with converter.Engine(daemon=config, warn=warnings.append) as engine:
        yield engine
    client.stop(config)
    shutil.rmtree(config.directory or "", ignore_errors=True)
    assert warnings == []  # every request was the service's: no fallback to a local worker


def test_the_warm_service_gives_the_bytes_of_a_fresh_process_over_the_matrix(
    models: Models, engine: converter.Engine, service_engine: converter.Engine, tmp_path: Path
) -> None:
    """Every format in two modes and every mode with several formats, one after the other
    in one warm worker (whatever state each leaves behind), against the matrix's artifacts
    from this session's own worker (converted here when the matrix did not run, under a -k
    selection say). The pairs rotate, so consecutive requests differ in format and mode."""
    pairs = [
        (fmt, MODES[(i + shift) % len(MODES)])
        for shift in (0, len(MODES) // 2)
        for i, fmt in enumerate(FORMATS)
    ]
    assert {mode for _, mode in pairs} == set(MODES)
    differ = []
    (tmp_path / "service").mkdir()
    for fmt, mode in pairs:
        local = MADE.get((fmt, mode)) or _convert(engine, fmt, mode, models, tmp_path)
        if _convert(service_engine, fmt, mode, models, tmp_path / "service") != local:
            differ.append(f"{fmt}/{mode}")
    assert service_engine.conversions_served == len(pairs)
    assert differ == []
