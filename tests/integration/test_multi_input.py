"""Multi-input, multi-output models: integer quantization and accuracy references, matched by name.

The models' TFLite input order (extra, meta, image) differs from both their
declared order (image, meta, extra) and the sorted one (extra, image, meta), so
a sample fed as a list in either order reaches the wrong tensors. The oracle is
TF's own API fed by a generator that yields dicts keyed by signature input name.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import converter
from converter.evaluation import evaluate
from converter.tflite import modelinfo
from tests.support.models import (
    INTEGER_MODES,
    MULTI_INPUTS,
    MultiModels,
    call_entry,
    mode_options,
    tf_apply,
)
from tests.support.processes import Started, started

pytestmark = pytest.mark.tf

DECLARED = list(MULTI_INPUTS)
SORTED = sorted(MULTI_INPUTS)
MODES = INTEGER_MODES


def by_name(samples: dict[str, np.ndarray]) -> Callable[[], Iterator[dict[str, np.ndarray]]]:
    count = len(next(iter(samples.values())))
    return lambda: ({n: a[i : i + 1] for n, a in samples.items()} for i in range(count))


def _entry(m: MultiModels, name: str) -> Any:
    return call_entry(m.entries, name)


def _tf_saved_model(m: MultiModels) -> Any:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_saved_model(str(m.saved_model))


def _tf_keras_file(m: MultiModels) -> Any:
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    model = keras.models.load_model(m.keras, compile=False)
    return tf.lite.TFLiteConverter.from_keras_model(model)


def _tf_keras_entry(m: MultiModels) -> Any:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(_entry(m, "keras_model"))


# format -> (our source, TF's converter for the same model)
FORMATS: dict[
    str, tuple[Callable[[MultiModels], converter.Source], Callable[[MultiModels], Any]]
] = {
    "saved_model": (lambda m: converter.SavedModelSource(m.saved_model), _tf_saved_model),
    "keras": (lambda m: converter.KerasSource(m.keras), _tf_keras_file),
    "python_keras": (
        lambda m: converter.PythonSource("multi_entries.py:keras_model", m.root),
        _tf_keras_entry,
    ),
}


def tflite_inputs(data: bytes) -> list[str]:
    """The model's input tensors, in its own order, by their plain names."""
    return evaluate.Runner(data).input_names


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_quantized_artifact_equals_tensorflow_fed_by_name(
    fmt: str, mode: str, multi_models: MultiModels, engine: converter.Engine, tmp_path: Path
) -> None:
    make_source, make_tf_converter = FORMATS[fmt]
    rep = converter.Representative(data=multi_models.calibration)
    # Ours converts in the engine's worker process while TF's own converts here.
    with ThreadPoolExecutor(1) as waiting:
        converting = waiting.submit(
            engine.convert,
            make_source(multi_models),
            mode_options(mode, rep),
            tmp_path / f"{fmt}-{mode}.tflite",
            provenance={"key": f"{fmt}/{mode}"},
        )
        tf_converter = make_tf_converter(multi_models)
        tf_apply(tf_converter, mode, by_name(multi_models.samples))
        expected = tf_converter.convert()
        ours = modelinfo.strip_provenance(converting.result().path.read_bytes())

    order = tflite_inputs(expected)
    assert sorted(order) == SORTED and order not in (DECLARED, SORTED), order
    assert ours == expected


def test_generator_lists_are_in_spec_order(
    multi_models: MultiModels, engine: converter.Engine, tmp_path: Path
) -> None:
    """A generator's list follows our spec order (a Keras model's inputs), whatever TFLite's."""
    (multi_models.root / "calib_lists.py").write_text(
        "import numpy as np\n\n\n"
        "def samples():\n"
        f"    data = np.load({str(multi_models.calibration)!r})\n"
        f"    for i in range({len(multi_models.samples['image'])}):\n"
        f"        yield tuple(data[n][i : i + 1] for n in {DECLARED!r})\n"
    )
    source = converter.KerasSource(multi_models.keras)
    from_file = engine.convert(
        source,
        mode_options("int8", converter.Representative(data=multi_models.calibration)),
        tmp_path / "file.tflite",
    )
    from_lists = engine.convert(
        source,
        mode_options(
            "int8",
            converter.Representative(python="calib_lists.py:samples", base_dir=multi_models.root),
        ),
        tmp_path / "lists.tflite",
    )
    assert from_lists.sha256 == from_file.sha256


def test_generator_dict_with_an_unknown_key_is_refused(
    multi_models: MultiModels, engine: converter.Engine, tmp_path: Path
) -> None:
    (multi_models.root / "calib_typo.py").write_text(
        "import numpy as np\n\n\n"
        "def samples():\n"
        "    yield {'image': np.zeros((1, 12, 12, 3), np.float32),\n"
        "           'meta': np.zeros((1, 8), np.float32), 'extras': np.zeros((1, 5), np.float32)}\n"
    )
    rep = converter.Representative(python="calib_typo.py:samples", base_dir=multi_models.root)
    with pytest.raises(converter.OptionsError) as info:
        engine.convert(
            converter.SavedModelSource(multi_models.saved_model),
            mode_options("int8", rep),
            tmp_path / "typo.tflite",
        )
    assert str(info.value) == (
        "representative calib_typo.py:samples: sample 0 must be keyed by the model's input "
        "names (extra, image, meta); missing extra, unexpected extras"
    )


def test_function_entry_without_signature_takes_lists_in_argument_order(
    multi_models: MultiModels, engine: converter.Engine, tmp_path: Path
) -> None:
    """A bare ConcreteFunction has no signature in TFLite: TF's calibrator refuses dicts.

    The model's inputs are then the function's arguments, in their order, so a
    list in that order (our spec order) is what TF's own API must be fed too.
    """
    import tensorflow as tf

    rep = converter.Representative(data=multi_models.calibration)
    result = engine.convert(
        converter.PythonSource("multi_entries.py:tf_function", multi_models.root),
        mode_options("int8", rep),
        tmp_path / "function.tflite",
    )
    ours = result.path.read_bytes()

    function = _entry(multi_models, "tf_function").get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([function])
    samples = multi_models.samples
    count = len(samples["image"])
    tf_apply(
        conv, "int8", lambda: ([samples[n][i : i + 1] for n in DECLARED] for i in range(count))
    )
    expected = conv.convert()

    assert tflite_inputs(expected) == DECLARED
    assert ours == expected


LEGACY_ORACLE = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    h5, calibration, out = sys.argv[1:]
    keras.utils.set_random_seed(0)
    image = keras.Input((12, 12, 3), name="image")
    meta, extra = keras.Input((8,), name="meta"), keras.Input((5,), name="extra")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(image))
    joined = keras.layers.Concatenate()([x, keras.layers.Dense(4)(meta), keras.layers.Dense(4)(extra)])
    cls = keras.layers.Dense(3, activation="softmax", name="cls")(joined)
    keras.Model([image, meta, extra], [cls, keras.layers.Dense(2, name="box")(joined)]).save(h5)

    samples = dict(np.load(calibration))
    conv = tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model(h5, compile=False))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    conv.representative_dataset = lambda: (
        {n: a[i : i + 1] for n, a in samples.items()} for i in range(len(samples["image"]))
    )
    open(out, "wb").write(conv.convert())
    """
)


@dataclass(frozen=True)
class LegacyOracle:
    """The multi-input model as a tf_keras .h5 and TF's own int8 conversion of it, made in a
    process started earlier (tf_keras is chosen before TensorFlow is imported)."""

    process: Started
    h5: Path
    expected: Path


@pytest.fixture(scope="module", autouse=True)
def legacy_oracle(
    multi_models: MultiModels, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LegacyOracle]:
    """Started with this module's first test, so that it works while the others do."""
    out = tmp_path_factory.mktemp("multi-legacy")
    h5, expected = out / "legacy.h5", out / "expected.tflite"
    paths = [str(p) for p in (h5, multi_models.calibration, expected)]
    with started(LEGACY_ORACLE, *paths, env={"TF_USE_LEGACY_KERAS": "1"}) as oracle:
        yield LegacyOracle(oracle, h5, expected)


def test_legacy_tf_keras_h5_equals_tensorflow_fed_by_name(
    multi_models: MultiModels,
    engine: converter.Engine,
    legacy_oracle: LegacyOracle,
    tmp_path: Path,
) -> None:
    legacy_oracle.process.finished()
    h5, expected = legacy_oracle.h5, legacy_oracle.expected
    rep = converter.Representative(data=multi_models.calibration)
    result = engine.convert(
        converter.KerasSource(h5, legacy=True), mode_options("int8", rep), tmp_path / "ours.tflite"
    )
    order = tflite_inputs(expected.read_bytes())
    assert sorted(order) == SORTED and order not in (DECLARED, SORTED), order
    assert result.path.read_bytes() == expected.read_bytes()


REFERENCE_SOURCES: dict[str, Callable[[MultiModels], converter.Source]] = {
    "saved_model": lambda m: converter.SavedModelSource(m.saved_model),
    "keras": lambda m: converter.KerasSource(m.keras),
    "python_keras": lambda m: converter.PythonSource("multi_entries.py:keras_model", m.root),
    "python_tf_function": lambda m: converter.PythonSource("multi_entries.py:tf_function", m.root),
}


@pytest.mark.parametrize("kind", REFERENCE_SOURCES)
def test_reference_and_interpreter_outputs_match_by_name(
    kind: str, multi_models: MultiModels, engine: converter.Engine, tmp_path: Path
) -> None:
    """What a report computes: the source in TF against the float32 artifact, output by output."""
    source = REFERENCE_SOURCES[kind](multi_models)
    artifact = engine.convert(source, converter.Options(), tmp_path / "float32.tflite").path
    inputs = {n: multi_models.samples[n][:7] for n in DECLARED}  # not the model's order

    reference, outcome = engine.run_reference(source, inputs)
    runner = evaluate.Runner(artifact.read_bytes())
    got = runner.run([inputs[n] for n in runner.input_names], batch=4)
    order, matched = evaluate.match(list(reference), runner.output_names)

    assert outcome.matched == "name" and sorted(outcome.inputs) == SORTED
    assert matched == "name" and len(runner.output_names) == 2
    wanted = list(reference.values())
    for name, i, values in zip(runner.output_names, order, got, strict=True):
        assert wanted[i].shape == values.shape == (7, values.shape[1]), name
        errors = evaluate.errors(wanted[i], values)
        assert errors.max_abs_error < 1e-4, (name, errors)
        assert errors.cosine_similarity > 0.9999, (name, errors)
