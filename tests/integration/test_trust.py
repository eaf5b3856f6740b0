"""What a build says is true: per-variant signatures, budgets that cannot be measured, task
selection, the closing line after a failure, and asking that never writes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from converter.tflite import modelinfo
from tests.support.doit_runs import converted, doit
from tests.support.models import MultiModels, Tiny
from tests.support.project import Files, ProjectFactory, npz

pytestmark = pytest.mark.tf

DODO = '''
import rules

globals().update(rules.doit_tasks(__file__))


def fail():
    raise ImportError("No module named 'sklearn'")


def task_make_model():
    """A user's own task that fails (like training without its libraries installed)."""
    return {"actions": [fail], "file_dep": ["made/recipe.txt"], "targets": ["made/model.keras"]}
'''


@pytest.fixture(scope="module")
def two_signatures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SavedModel exporting ``predict`` and ``embed`` (plain variables: no Keras), made here."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, 4], tf.float32, name="x")

    class Two(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal([4, 3], seed=[1, 2]))

        @tf.function(input_signature=[spec])  # type: ignore[untyped-decorator]
        def predict(self, x: Any) -> dict[str, Any]:
            return {"scores": tf.nn.softmax(x @ self.w)}

        @tf.function(input_signature=[spec])  # type: ignore[untyped-decorator]
        def embed(self, x: Any) -> dict[str, Any]:
            return {"embedding": tf.nn.relu(x @ self.w)}

    path = tmp_path_factory.mktemp("signatures") / "export"
    module = Two()
    tf.saved_model.save(
        module, str(path), signatures={"predict": module.predict, "embed": module.embed}
    )
    return path


# A SavedModel, one of two signatures (``two_signatures``, added by each test), a model that
# needs Select TF ops, and a source whose task fails.
MODELS: Files = {
    "dodo.py": DODO,
    "sm/export": Tiny.saved_model,
    "sm/model.yaml": "source: {saved_model: export}\n"
    "variants: {float32: {}, dynamic: {quantize: dynamic}}\n",
    "sig/model.yaml": """
        source: {saved_model: export, signature_keys: [predict]}
        variants:
          predict: {}
          embed: {signature_keys: [embed]}
          embed_f16: {signature_keys: [embed], quantize: float16}
        """,
    "flex/entries.py": Tiny.entries,
    "flex/model.yaml": """
        source: {python: entries.py:flex}
        variants: {float32: {supported_ops: [builtins, select_tf_ops]}}
        budgets: {float32: {max_latency_ms: 10}}
        """,
    "made/recipe.txt": "v1\n",
    "made/model.yaml": """
        source: {keras: model.keras, task: make_model, deps: [recipe.txt]}
        variants: {float32: {}}
        """,
}


def doit_check(root: Path) -> subprocess.CompletedProcess[str]:
    """``doit check`` as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "doit", "check"], cwd=root, capture_output=True, text=True
    )


def test_one_artifact_per_signature(make_project: ProjectFactory, two_signatures: Path) -> None:
    project = make_project({**MODELS, "sig/export": two_signatures})
    run = doit(project, "convert:sig/*")
    assert run.code == 0, run.output
    signatures = {
        variant: [
            s.key
            for s in modelinfo.describe(
                (project / f"build/sig/{variant}.tflite").read_bytes()
            ).signatures
        ]
        for variant in ("predict", "embed", "embed_f16")
    }
    assert signatures == {"predict": ["predict"], "embed": ["embed"], "embed_f16": ["embed"]}
    # The reports compare each artifact with its own signature, run in TF.
    run = doit(project, "report:sig/*")
    assert run.code == 0, run.output
    assert run.executed == {"report:sig/predict", "report:sig/embed", "report:sig/embed_f16"}
    for variant in ("predict", "embed"):
        import json

        section = json.loads((project / f"build/sig/{variant}.report.json").read_text())
        accuracy = section["accuracy"]
        assert accuracy["reference"] == "the source model, run in TensorFlow", accuracy
        assert accuracy["output"]["max_abs_error"] < 1e-5
    # Switching one variant's signature rebuilds that variant alone.
    text = (project / "sig/model.yaml").read_text()
    (project / "sig/model.yaml").write_text(
        text.replace("predict: {}", "predict: {signature_keys: [embed]}")
    )
    assert converted(doit(project, "convert:sig/*")) == {"convert:sig/predict"}


def test_signature_keys_on_a_source_without_signatures_is_a_manifest_error(
    make_project: ProjectFactory, two_signatures: Path
) -> None:
    project = make_project(
        {
            **MODELS,
            "sig/export": two_signatures,
            "kr/model.keras": Tiny.keras,
            "kr/model.yaml": "source: {keras: model.keras}\nvariants:\n  float32: {signature_keys: [a]}\n",
        }
    )
    check = doit_check(project)
    assert check.returncode == 3
    assert (
        "kr/model.yaml:3: variants -> float32 -> signature_keys: applies to a saved_model "
        "source only; this one is keras" in check.stderr
    )


def test_a_budget_that_cannot_be_measured_fails(
    make_project: ProjectFactory, two_signatures: Path
) -> None:
    project = make_project({**MODELS, "sig/export": two_signatures})
    assert doit(project, "convert:flex/float32").code == 0
    run = doit(project, "report:flex/float32")
    assert run.code != 0
    assert (
        "flex/float32: budget max_latency_ms cannot be checked: the stock interpreter "
        in run.output
    )
    assert "Traceback" not in run.output
    # Known from the manifest alone: accuracy without labelled evaluate data.
    text = (project / "sm/model.yaml").read_text()
    (project / "sm/model.yaml").write_text(text + "budgets: {dynamic: {min_accuracy: 0.9}}\n")
    check = doit_check(project)
    assert check.returncode == 3
    assert (
        "sm/model.yaml:3: budgets -> dynamic -> min_accuracy: needs labelled evaluate data to "
        "be measured: add evaluate: {data: file.npz} with a 'labels' array" in check.stderr
    )


def test_report_selection_like_convert(make_project: ProjectFactory, two_signatures: Path) -> None:
    project = make_project({**MODELS, "sig/export": two_signatures})
    assert doit(project, "convert:sm/*").code == 0
    run = doit(project, "report:sm/*")
    assert run.code == 0, run.output
    assert run.executed == {"report:sm/float32", "report:sm/dynamic"}
    unknown = doit(project, "report:no_such_model")
    assert (
        unknown.code == 3
        and 'invalid parameter: "report:no_such_model". Must be a task, or a target.'
        in unknown.output
    ), unknown.output
    for group in ("convert", "report"):  # a pattern that matches nothing says so
        nothing = doit(project, f"{group}:nope/*")
        assert "no task matched the selection; nothing was done" in nothing.output


def test_closing_line_counts_and_names_every_failed_task(
    make_project: ProjectFactory, two_signatures: Path
) -> None:
    project = make_project({**MODELS, "sig/export": two_signatures})
    run = doit(project, "--continue", "convert")
    assert run.code != 0
    # The user's task failed, so the conversion that needs its output failed too, naming it.
    assert (
        "made/float32: input made/model.keras does not exist: the task 'make_model' that "
        "makes it failed"
    ) in run.output, run.output
    (closing,) = [line for line in run.output.splitlines() if line.startswith("tflite-build:")]
    assert closing.startswith(
        "tflite-build: 6 built, 0 from cache, 0 up to date, 2 failed (make_model, convert:made/float32) in "
    ), closing


def _snapshot(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_asking_never_writes(
    make_project: ProjectFactory, two_signatures: Path, private_cache: Path
) -> None:
    project = make_project({**MODELS, "sig/export": two_signatures})
    assert doit(project, "convert:sm/*", "convert:sig/*").code == 0
    (project / "build/sm/dynamic.tflite").unlink()  # in the cache: a run would restore it
    (project / "build/doit-report.txt").unlink()
    before = _snapshot(project / "build", private_cache)
    for command in (
        ["list", "--all", "--status"],
        ["info", "convert:sm/dynamic"],
        ["clean", "--dry-run"],
    ):
        asked = subprocess.run(
            [sys.executable, "-m", "doit", *command], cwd=project, capture_output=True, text=True
        )
        assert asked.returncode in (0, 1), asked.stdout + asked.stderr  # info: 1 = not up to date
        assert _snapshot(project / "build", private_cache) == before, command
    listed = subprocess.run(
        [sys.executable, "-m", "doit", "list", "--all", "--status"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert "R convert:sm/dynamic" in listed.stdout and "U convert:sm/float32" in listed.stdout
    assert not (project / "build/sm/dynamic.tflite").exists()
    run = doit(project, "convert:sm/*")
    assert "C  convert:sm/dynamic (from the local cache)" in run.output and run.conversions == 0
    assert os.path.getsize(project / "build/sm/dynamic.tflite") > 0


def test_multi_input_int8_builds_and_reports(
    multi_models: MultiModels, make_project: ProjectFactory
) -> None:
    """Inputs whose TFLite order is neither declared nor sorted: int8 converts, the report compares."""
    import json

    import numpy as np

    rng = np.random.default_rng(9)
    evaluate = {
        name: rng.random(values.shape, np.float32) for name, values in multi_models.samples.items()
    }
    root = make_project(
        {
            "mi/export": multi_models.saved_model,
            "mi/eval.npz": npz(**evaluate),
            "mi/calib.npz": multi_models.calibration,
            "mi/model.yaml": """
                source: {saved_model: export}
                variants:
                  float32: {}
                  int8: {quantize: int8, io_type: int8, representative: {data: calib.npz}}
                evaluate: {data: eval.npz}
                budgets: {int8: {max_error: 1.0}}
                """,
        },
        at="multi",
    )
    run = doit(root, "report")
    assert run.code == 0, run.output
    for variant in ("float32", "int8"):
        accuracy = json.loads((root / f"build/mi/{variant}.report.json").read_text())["accuracy"]
        assert accuracy["outputs_matched_by"] == "name", accuracy
        assert len(accuracy["outputs"]) == 2
        limit = 1e-5 if variant == "float32" else 0.5
        assert all(o["max_abs_error"] < limit for o in accuracy["outputs"].values()), accuracy


SIGNATURE_SAMPLES = """
import numpy as np


def embed_samples():
    rng = np.random.default_rng(7)
    return [{"x": rng.normal(size=(1, 4)).astype(np.float32)} for _ in range(6)]
"""


def test_two_signatures_calibrated_at_once_give_tfs_own_bytes(
    make_project: ProjectFactory, two_signatures: Path
) -> None:
    import numpy as np
    import tensorflow as tf

    predict = np.random.default_rng(3).uniform(-1, 1, size=(8, 4)).astype(np.float32)
    project = make_project(
        {
            "sig/export": two_signatures,
            "sig/predict.npz": npz(x=predict),
            "sig/samples.py": SIGNATURE_SAMPLES,
            "sig/model.yaml": """
                source: {saved_model: export, signature_keys: [predict, embed]}
                variants:
                  int8:
                    quantize: int8
                    representative:
                      signatures:
                        predict: {data: predict.npz, samples: 5}
                        embed: {python: samples.py:embed_samples}
                  missing:
                    quantize: int8
                    representative: {signatures: {predict: {data: predict.npz}}}
                  single: {quantize: int8, representative: {data: predict.npz}}
            """,
        }
    )
    run = doit(project, "--continue", "convert")
    assert converted(run) == {"convert:sig/int8", "convert:sig/missing", "convert:sig/single"}
    lines = {
        line.split(":")[0]: line for line in run.output.splitlines() if line.startswith("sig/")
    }
    assert "no samples for embed: every converted signature is calibrated" in lines["sig/missing"]
    assert "representative: {signatures: {key: {data: file.npz}, ...}}" in lines["sig/single"]

    # TF, by hand: (signature key, inputs) samples, each signature's in turn, in key order.
    rng = np.random.default_rng(7)
    embed = [{"x": rng.normal(size=(1, 4)).astype(np.float32)} for _ in range(6)]
    samples = [("embed", sample) for sample in embed]
    samples += [("predict", {"x": predict[i : i + 1]}) for i in range(5)]
    conv = tf.lite.TFLiteConverter.from_saved_model(
        str(two_signatures), signature_keys=["predict", "embed"]
    )
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.representative_dataset = lambda: iter(samples)
    assert (project / "build/sig/int8.tflite").is_file(), run.output
    ours = (project / "build/sig/int8.tflite").read_bytes()
    assert modelinfo.strip_provenance(ours) == conv.convert()
    assert sorted(s.key for s in modelinfo.describe(ours).signatures) == ["embed", "predict"]

    # The generator is the project's code: editing it rebuilds the variant; the data too.
    (project / "sig/samples.py").write_text(SIGNATURE_SAMPLES.replace("range(6)", "range(4)"))
    again = doit(project, "--continue", "convert")
    assert converted(again) == {"convert:sig/int8", "convert:sig/missing", "convert:sig/single"}
    os.utime(project / "sig/samples.py")  # touched, not edited: nothing to redo
    touched = doit(project, "--continue", "convert")
    assert converted(touched) == {"convert:sig/missing", "convert:sig/single"}  # they fail
