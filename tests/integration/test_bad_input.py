"""Bad input: one clear sentence naming what is wrong, and no output file left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import converter
from tests.support.models import Models

pytestmark = pytest.mark.tf


def _fails(
    engine: converter.Engine,
    tmp_path: Path,
    source: converter.Source,
    options: converter.Options | None = None,
) -> converter.ConverterError:
    output = tmp_path / "out" / "model.tflite"
    output.parent.mkdir(exist_ok=True)
    output.write_bytes(b"an earlier artifact")  # must not survive a failed rebuild
    with pytest.raises(converter.ConverterError) as info:
        engine.convert(source, options, output)
    assert list(output.parent.iterdir()) == [], "a failed conversion left files behind"
    return info.value


def test_missing_path(engine: converter.Engine, tmp_path: Path) -> None:
    error = _fails(engine, tmp_path, converter.SavedModelSource(tmp_path / "nope"))
    assert isinstance(error, converter.SourceError)
    assert str(error) == f"{tmp_path / 'nope'}: no such file or directory"


def test_keras_file_given_as_saved_model(
    engine: converter.Engine, models: Models, tmp_path: Path
) -> None:
    error = _fails(engine, tmp_path, converter.SavedModelSource(models.keras))
    assert str(error) == f"{models.keras}: is a Keras model file, not a SavedModel directory"


def test_corrupt_frozen_graph(engine: converter.Engine, tmp_path: Path) -> None:
    pb = tmp_path / "broken.pb"
    pb.write_bytes(b"\x08\x96\x01 this is not a GraphDef \xff\xfe")
    error = _fails(engine, tmp_path, converter.FrozenGraphSource(pb, ("img",), ("probs",)))
    assert isinstance(error, converter.SourceError)
    assert str(error) == f"{pb}: is not a valid frozen GraphDef (.pb)"


def test_wrong_input_array_name(engine: converter.Engine, models: Models, tmp_path: Path) -> None:
    source = converter.FrozenGraphSource(models.frozen_graph, ("image",), ("probs",))
    error = _fails(engine, tmp_path, source)
    assert str(error) == (
        f"{models.frozen_graph}: input array 'image' is not in the graph; its placeholders are: img"
    )


def test_representative_data_of_the_wrong_shape(
    engine: converter.Engine, models: Models, tmp_path: Path
) -> None:
    data = tmp_path / "calib.npz"
    np.savez(data, img=np.zeros((4, 9, 9, 1), np.float32))
    options = converter.Options(quantize="int8", representative=converter.Representative(data=data))
    error = _fails(engine, tmp_path, converter.SavedModelSource(models.saved_model), options)
    assert isinstance(error, converter.OptionsError)
    assert str(error) == (
        f"representative data {data}: input 'img', sample 0: shape (1, 9, 9, 1), the model "
        "expects (None, 8, 8, 1) (the first axis of a data file indexes samples)"
    )


def test_representative_data_of_the_wrong_dtype(
    engine: converter.Engine, models: Models, tmp_path: Path
) -> None:
    data = tmp_path / "calib.npz"
    np.savez(data, img=np.zeros((4, 8, 8, 1), np.float64))
    options = converter.Options(quantize="int8", representative=converter.Representative(data=data))
    error = _fails(engine, tmp_path, converter.SavedModelSource(models.saved_model), options)
    assert "dtype float64, the model expects float32 (convert with .astype(np.float32))" in str(
        error
    )


def test_unknown_converter_option(engine: converter.Engine, models: Models, tmp_path: Path) -> None:
    options = converter.Options(converter={"_experimental_disable_per_chanel": True})
    error = _fails(engine, tmp_path, converter.SavedModelSource(models.saved_model), options)
    assert isinstance(error, converter.OptionsError)
    assert str(error) == (
        "converter -> _experimental_disable_per_chanel: is not a TFLiteConverter attribute; "
        "did you mean '_experimental_disable_per_channel'?"
    )


def test_entry_point_returning_something_else(
    engine: converter.Engine, models: Models, tmp_path: Path
) -> None:
    error = _fails(engine, tmp_path, converter.PythonSource("entries.py:not_a_model", models.root))
    assert str(error) == (
        "'entries.py:not_a_model': returned int; expected a Keras model, a tf.function, "
        "ConcreteFunction(s), or a (tf.compat.v1.Session, inputs, outputs) triple"
    )


def test_keras3_tf_saved_model_trap_is_caught(
    engine: converter.Engine, models: Models, tmp_path: Path
) -> None:
    error = _fails(engine, tmp_path, converter.SavedModelSource(models.keras3_tf_saved_model))
    assert isinstance(error, converter.CheckError)
    assert "resource variable(s) (VAR_HANDLE ops)" in str(error)
    assert "model.export(path)" in str(error)


def test_missing_legacy_extra_is_named(
    models: Models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(converter.sources.precheck, "legacy_keras_available", lambda: False)
    with pytest.raises(converter.SourceError) as info:
        converter.Engine().convert(
            converter.KerasSource(models.legacy_h5, legacy=True), None, tmp_path / "x.tflite"
        )
    assert "pip install 'tflite-build[legacy-keras]'" in str(info.value)


def test_select_tf_ops_model_converts_and_is_reported(
    engine: converter.Engine, models: Models, tmp_path: Path
) -> None:
    options = converter.Options(supported_ops=("builtins", "select_tf_ops"))
    result = engine.convert(
        converter.PythonSource("entries.py:flex", models.root), options, tmp_path / "f.tflite"
    )
    assert result.path.is_file()
    assert any("the stock interpreter cannot load this model" in w for w in result.warnings)


SERVE_QUIRK = """
import tensorflow as tf


class Two(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.ones([4, 3]))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def serve(self, x):
        return {"y": x @ self.w}

    @tf.function(input_signature=[tf.TensorSpec([None, 5], tf.int32, name="tokens")])
    def encode(self, tokens):
        return {"v": tf.cast(tokens, tf.float32) * 2.0}


two = Two()
tf.saved_model.save(two, PATH, signatures={"serving_default": two.serve, "encode": two.encode})
"""


def test_a_signature_the_converter_drops_is_caught(
    engine: converter.Engine, tmp_path: Path
) -> None:
    """TF keeps only `serving_default` of the two asked for: a method named `serve` is what
    it exports. The build refuses the artifact instead of shipping it without `encode`."""
    exec(SERVE_QUIRK, {"PATH": str(tmp_path / "two")})
    source = converter.SavedModelSource(
        tmp_path / "two", signature_keys=("serving_default", "encode")
    )
    error = _fails(engine, tmp_path, source)
    assert isinstance(error, converter.CheckError)
    assert str(error).startswith(
        "TensorFlow's converter kept the signature(s) serving_default of the serving_default, "
        "encode asked for (signature_keys): encode would be missing."
    )
