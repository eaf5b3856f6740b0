"""Reports of odd models, through real conversions, TensorFlow reference runs and the interpreter.

One project, reported once with ``doit --continue report``: a model whose float32
conversion fails in TensorFlow (a free-batch GRU) but whose Select TF ops variant
converts; integer and boolean inputs; a string input with and without evaluate
data; Select TF ops on a string input; a SavedModel with two signatures. The last
test edits the project and reports again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.doit_runs import Run, doit, edit
from tests.support.project import DODO, npz, write_files

pytestmark = pytest.mark.tf

ENTRIES = '''
def recurrent():
    """A GRU with a free batch: TensorFlow cannot lower its tensor lists to builtins."""
    import keras

    ids = keras.Input((5,), dtype="int32", name="ids")
    x = keras.layers.GRU(3)(keras.layers.Embedding(20, 4)(ids))
    return keras.Model(ids, keras.layers.Dense(2)(x))


def lookup():
    """Token ids into a table of two rows, and a boolean flag."""
    import keras

    ids = keras.Input((6,), dtype="int32", name="ids")
    flag = keras.Input((1,), dtype="bool", name="flag")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(2, 4)(ids))
    y = keras.layers.Dense(3)(x)
    return keras.Model([ids, flag], keras.ops.where(flag, y, -y))
'''

FLEX_OPS = "FLEX:TensorListReserve, FLEX:TensorListSetItem, FLEX:TensorListStack"


# Three tiny SavedModels, exported in this process under ROOT: two signatures, a string
# lookup (builtins only) and string lengths (Select TF ops).
EXPORTS = """
import tensorflow as tf


class TwoHeads(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.random.stateless_normal([4, 3], seed=[1, 2]))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def predict(self, x):
        return {"probs": tf.nn.softmax(x @ self.w)}

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def embed(self, x):
        return {"vec": tf.tanh(x @ self.w) * 2.0}


class Lookup(tf.Module):
    def __init__(self):
        super().__init__()
        keys, values = tf.constant(["a", "b", "\u00e9"]), tf.constant([0, 1, 2], tf.int64)
        initializer = tf.lookup.KeyValueTensorInitializer(keys, values)
        self.table = tf.lookup.StaticHashTable(initializer, -1)
        self.rows = tf.Variable(tf.random.stateless_normal([4, 2], seed=[3, 4]))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        return {"vec": tf.gather(self.rows, self.table.lookup(text) + 1)}


class Lengths(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        return {"length": tf.cast(tf.strings.length(text), tf.float32)}


two, lookup, lengths = TwoHeads(), Lookup(), Lengths()
tf.saved_model.save(two, ROOT + "/two", signatures={"predict": two.predict, "embed": two.embed})
tf.saved_model.save(lookup, ROOT + "/text", signatures={"serving_default": lookup.serve})
tf.saved_model.save(lengths, ROOT + "/words", signatures={"serving_default": lengths.serve})
"""


def _saved_models(root: Path) -> dict[str, Path]:
    exec(EXPORTS, {"ROOT": str(root)})
    return {name: root / name for name in ("two", "text", "words")}


@dataclass(frozen=True)
class Reported:
    project: Path
    cache: Path
    run: Run
    reports: dict[str, dict[str, Any]]  # by model/variant, as the first run wrote them


def _reports(project: Path) -> dict[str, dict[str, Any]]:
    build = project / "build"
    return {
        p.relative_to(build).as_posix().removesuffix(".report.json"): json.loads(p.read_text())
        for p in sorted(build.glob("*/*.report.json"))
    }


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Reported:
    root = tmp_path_factory.mktemp("odd")
    exports = _saved_models(root / "exports")
    project = write_files(
        root / "proj",
        {
            "dodo.py": DODO,
            "seq/entries.py": ENTRIES,
            "seq/model.yaml": """
                source: {python: entries.py:recurrent}
                variants:
                  float32: {}
                  flex: {supported_ops: [builtins, select_tf_ops]}
                """,
            "ids/entries.py": ENTRIES,
            "ids/model.yaml": """
                source: {python: entries.py:lookup}
                variants: {float32: {}, dynamic: {quantize: dynamic}}
                """,
            "text/export": exports["text"],
            "text/model.yaml": "source: {saved_model: export}\nvariants: {float32: {}}\n",
            "words/export": exports["words"],
            "words/model.yaml": """
                source: {saved_model: export}
                variants: {flex: {supported_ops: [builtins, select_tf_ops]}}
                """,
            "two/export": exports["two"],
            "two/model.yaml": """
                source: {saved_model: export}
                variants:
                  float32: {}
                  dynamic: {quantize: dynamic}
                  predict: {signature_keys: [predict]}
                """,
        },
    )
    with pytest.MonkeyPatch.context() as env:  # not the user's cache, nor a service
        env.setenv("TFLITE_BUILD_CACHE", str(root / "cache"))
        env.setenv("TFLITE_BUILD_DAEMON", "off")
        for name in ("TFLITE_BUILD_CACHE_READ_ONLY", "TFLITE_BUILD_SHARD"):
            env.delenv(name, raising=False)
        run = doit(project, "--continue", "report")
    return Reported(project, root / "cache", run, _reports(project))


def test_every_artifact_gets_its_report_and_nothing_is_unexpected(reported: Reported) -> None:
    run = reported.run
    assert run.code != 0  # seq/float32 fails to convert, in TensorFlow itself
    assert "unexpected" not in run.output.lower(), run.output
    assert "TensorListReserve" in run.output  # TF's own reason, shown
    assert not (reported.project / "build/seq/float32.tflite").exists()
    assert set(reported.reports) == {
        "seq/flex",
        "ids/float32",
        "ids/dynamic",
        "text/float32",
        "words/flex",
        "two/float32",
        "two/dynamic",
        "two/predict",
    }
    # The source ran in TensorFlow once for ids (both variants), once per signature of two
    # (float32 and dynamic), once for two/predict; never for Select TF ops or strings.
    assert run.references == 4, run.output


def test_a_report_without_its_float32_artifact_says_why(reported: Reported) -> None:
    size = reported.reports["seq/flex"]["size"]
    assert "vs_float32" not in size
    assert size["vs_float32_skipped"] == (
        "no float32.tflite to compare with (its conversion failed, or has not run)"
    )
    assert reported.reports["two/dynamic"]["size"]["vs_float32"] > 0  # there, as before


def test_select_tf_ops_keep_size_and_device_and_skip_accuracy_and_latency(
    reported: Reported,
) -> None:
    for name, ops in (("seq/flex", FLEX_OPS), ("words/flex", "FLEX:StringLength")):
        data = reported.reports[name]
        why = (
            f"it uses Select TF ops ({ops}), which run only where the Flex delegate is linked "
            "in, and no interpreter here has it (neither ai-edge-litert's nor TensorFlow's)"
        )
        assert data["accuracy"] == {"skipped": why}
        assert data["latency"]["error"] == why and "median_ms" not in data["latency"]
        assert data["size"]["select_tf_ops"] >= 1 and data["device"]["runtime"]
        assert f"{name}: " in reported.run.output and f"no accuracy or latency here: {why}" in (
            reported.run.output
        )


def test_integer_and_boolean_inputs_are_sampled_where_the_model_accepts_them(
    reported: Reported,
) -> None:
    for variant in ("float32", "dynamic"):
        accuracy = reported.reports[f"ids/{variant}"]["accuracy"]
        # Ids in [0, 2): a table of two rows takes them all (one more would fail in TF).
        assert accuracy["data"].startswith(
            "no evaluate data: 64 seeded samples: integers in [0, 2) for ids (ids every lookup "
            "table of two rows or more holds; evaluate data gives real ones); true or false for flag"
        ), accuracy
        assert accuracy["max_abs_error"] < (1e-5 if variant == "float32" else 0.05)
        assert accuracy["output"]["top1_agreement"] >= 0.9


def test_a_string_input_without_data_says_which_input_needs_it(reported: Reported) -> None:
    text = reported.reports["text/float32"]
    assert text["accuracy"] == {
        "skipped": "input 'text' takes strings, which no generated sample can stand in for: "
        "give it evaluate data (evaluate: {data: file.npz} with an array named 'text')"
    }
    assert text["latency"]["median_ms"] > 0  # it runs: only the comparison needs data


def test_each_signature_is_measured_against_the_sources_own(reported: Reported) -> None:
    for variant, tolerance in (("float32", 1e-5), ("dynamic", 0.1)):
        data = reported.reports[f"two/{variant}"]
        accuracy = data["accuracy"]
        assert accuracy["signature"] == "embed" and data["latency"]["signature"] == "embed"
        signatures = accuracy["signatures"]
        assert list(signatures) == ["embed", "predict"]
        # Each against its own: embed's vec and predict's probs, by name, within rounding.
        assert list(signatures["embed"]["outputs"]) == ["vec"]
        assert list(signatures["predict"]["outputs"]) == ["probs"]
        for section in signatures.values():
            assert section["outputs_matched_by"] == "name"
            assert section["max_abs_error"] < tolerance
        assert accuracy["outputs"] == signatures["embed"]["outputs"]  # the primary's, on top
    # One signature converted: the report has the shape it always had.
    predict = reported.reports["two/predict"]
    assert "signature" not in predict["accuracy"] and "signatures" not in predict["accuracy"]
    assert "signature" not in predict["latency"]
    assert predict["accuracy"]["max_abs_error"] < 1e-5


def test_the_float32_artifact_appearing_and_new_data_rerun_just_their_reports(
    reported: Reported, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = reported.project
    monkeypatch.setenv("TFLITE_BUILD_CACHE", str(reported.cache))
    edit(
        project / "seq/model.yaml",
        "float32: {}",
        "float32: {supported_ops: [builtins, select_tf_ops]}",
    )
    texts = np.array(["a", "é", "b", "unknown", "a"])
    (project / "text/eval.npz").write_bytes(npz(text=texts))
    edit(project / "text/model.yaml", "variants:", "evaluate: {data: eval.npz}\nvariants:")
    run = doit(project, "report")
    assert run.code == 0 and run.conversions == 1, run.output
    reports = {name for name in run.executed if name.startswith("report:")}
    assert reports == {"report:seq/float32", "report:seq/flex", "report:text/float32"}
    after = _reports(project)
    flex = after["seq/flex"]["size"]
    assert "vs_float32_skipped" not in flex and flex["vs_float32"] > 0
    assert "seq/flex" in run.output and run.output.count("(measurements from the cache)") == 1
    # Strings reach TensorFlow and the interpreter alike, non-ASCII and unknown keys too.
    text = after["text/float32"]["accuracy"]
    assert text["data"] == "eval.npz, 5 samples" and text["max_abs_error"] == 0.0
    assert run.references == 1
    again = doit(project, "report")
    assert again.code == 0 and again.executed == set(), again.output
