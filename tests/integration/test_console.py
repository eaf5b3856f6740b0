"""What a build says when a model is odd: clean output, truthful sentences, a summary that shows breaches.

Real TensorFlow conversions throughout; the console checks run doit as a user
does, in a process of its own, so that what reaches its stderr at exit counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.doit_runs import doit
from tests.support.models import Tiny
from tests.support.project import ProjectFactory


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A free-batch GRU (.keras), a tf.Module with mutable state and a Keras 3 model saved
    the way that loses its variables' values (both SavedModels)."""
    import keras
    import tensorflow as tf

    root = tmp_path_factory.mktemp("odd")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 4))
    gru = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GRU(3)(inputs)))
    gru.save(root / "gru.keras")

    class Counter(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.total = tf.Variable(tf.zeros([3]))

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32, name="x")])  # type: ignore[untyped-decorator]
        def add(self, x: tf.Tensor) -> tf.Tensor:
            self.total.assign_add(x)
            return self.total * 1.0

    counter = Counter()
    tf.saved_model.save(counter, str(root / "stateful"), signatures=counter.add)
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    tf.saved_model.save(dense, str(root / "trap"))
    return root


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "1"}  # as in CI (the tests' settings keep the service off)
    return subprocess.run(
        [sys.executable, "-m", "doit", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_failing_conversion_leaves_a_clean_console_and_names_every_route(
    make_project: ProjectFactory, odd_models: Path
) -> None:
    project = make_project(
        {
            "gru/model.keras": (odd_models / "gru.keras").read_bytes(),
            "gru/model.yaml": "source: {keras: model.keras}\nvariants:\n  float32: {}\n"
            "  flex: {supported_ops: [builtins, select_tf_ops], "
            "converter: {_experimental_lower_tensor_list_ops: false}}\n",
            "sm/export": Tiny.saved_model,  # one the interpreter runs, for the reports
            "sm/model.yaml": "source: {saved_model: export}\nvariants: {float32: {}}\n",
        }
    )
    # One run as a user's CI makes it: every conversion and report, then the summary.
    run = _run(project, "--continue", "summary")
    text = run.stdout + run.stderr
    assert run.returncode != 0
    # TF's converter refuses the free batch; the sentence names the three ways out,
    # TF's own among them, and leaves MLIR's locations to the log.
    (failure,) = [line for line in text.splitlines() if line.startswith("gru/float32: ")]
    for route in (
        "Input(batch_size=1)",
        "unroll=True",
        "supported_ops: [builtins, select_tf_ops] and converter: "
        "{_experimental_lower_tensor_list_ops: false}",
    ):
        assert route in failure, failure
    assert "__inference" not in failure and "loc(" not in failure
    assert (project / "build/gru/flex.tflite").is_file()  # the route it names works
    assert "TensorListReserve" in (project / "build/gru/float32.convert.log").read_text()
    # Reports run the interpreter in the build's own process: its notes stay off too.
    assert (project / "build/sm/float32.report.json").is_file()
    assert (project / "build/gru/flex.report.json").is_file()  # its float32 failed
    # Nothing but our lines: no traceback at exit, no TensorFlow start-up line, no
    # interpreter notes.
    for noise in (
        "Traceback",
        "Exception ignored",
        "absl::",
        "oneDNN",
        "I0000",
        "W0000",
        "INFO:",
        "unexpected",
    ):
        assert noise not in text, text
    # The summary needs gru/float32's report, which cannot be made: the run says so.
    assert "no summary was written: a report it needs could not be made" in run.stdout
    assert not (project / "build/summary.json").exists()


def test_resource_variables_are_told_apart(make_project: ProjectFactory, odd_models: Path) -> None:
    project = make_project(
        {
            "state/model.yaml": "source: {saved_model: export}\nvariants:\n  float32: {}\n"
            "  kept: {allow_resource_variables: true}\n",
            "trap/model.yaml": "source: {saved_model: export}\nvariants: {float32: {}}\n",
        }
    )
    for name, folder in (("state", "stateful"), ("trap", "trap")):
        for file in (odd_models / folder).rglob("*"):
            if file.is_file():
                target = project / name / "export" / file.relative_to(odd_models / folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file.read_bytes())
    run = doit(project, "--continue", "convert")
    assert run.code != 0
    lines = {
        line.split(":")[0]: line for line in run.output.splitlines() if ": the converted" in line
    }
    assert "updates as it runs: mutable state" in lines["state/float32"], run.output
    assert "allow_resource_variables: true" in lines["state/float32"]
    assert "NaN" not in lines["state/float32"]
    assert "no initial value, so it would output NaN" in lines["trap/float32"], run.output
    assert "allow_resource_variables" not in lines["trap/float32"]
    assert (project / "build/state/kept.tflite").is_file()


BREACHING = """\
source: {saved_model: export}
variants:
  float32: {}
  dynamic: {quantize: dynamic}
budgets:
  "*": {max_size: 1KB}
"""


def test_a_budget_breach_fails_the_summary_after_it_is_written(
    make_project: ProjectFactory,
) -> None:
    project = make_project({"sm/export": Tiny.saved_model, "sm/model.yaml": BREACHING})
    run = doit(project, "summary")
    assert run.code != 0
    build = project / "build"
    for name in ("summary.json", "summary.md", "summary.html"):
        assert (build / name).is_file(), name
    markdown = (build / "summary.md").read_text()
    for variant in ("float32", "dynamic"):
        sentence = f"sm/{variant}: over budget: max_size is 1,000 bytes"
        assert sentence in run.output, run.output
        assert f"sm/{variant}" in markdown
    assert "over budget" in markdown
    (closing,) = [line for line in run.output.splitlines() if line.startswith("tflite-build:")]
    assert "; reports: 2 measured, 0 from cache, 0 up to date; 1 failed (summary)" in closing

    # The reports were written but not taken as passed: `doit report` still gates.
    again = doit(project, "--continue", "report")
    assert again.code != 0 and "over budget" in again.output
    (closing,) = [line for line in again.output.splitlines() if line.startswith("tflite-build:")]
    assert "up to date; reports: 0 measured, 0 from cache, 0 up to date; 2 failed (report:" in (
        closing
    ), closing

    (project / "sm/model.yaml").write_text(BREACHING.replace("1KB", "10MB"))
    passed = doit(project, "summary")
    assert passed.code == 0, passed.output
    assert "over budget" not in (build / "summary.md").read_text()
