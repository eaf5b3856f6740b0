"""The example project's PyTorch and JAX models, built as the README says: trained by the
project's own tasks in their toolchains, converted, quantized and reported, for real."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from converter.toolchains import defaults, environments
from tests.support.doit_runs import converted, doit

pytestmark = pytest.mark.tf

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


# doit's command actions (the example's `python prepare.py`) leave their pipes to the
# garbage collector; in this process that is an unraisable ResourceWarning of doit's own.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_examples_toolchain_models_train_convert_and_meet_their_budgets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environments.ensure(defaults.PYTORCH)
    environments.ensure(defaults.JAX)
    project = tmp_path / "example"
    project.mkdir()
    for name in ("dodo.py", "pyproject.toml"):
        shutil.copy(EXAMPLE / name, project / name)
    shutil.copytree(
        EXAMPLE / "toolchains",
        project / "toolchains",
        ignore=shutil.ignore_patterns("build", "data", "*.pt", "*.npz", "__pycache__"),
    )
    default = doit(project, "convert")
    assert default.code == 0 and default.executed == set()  # not built by default
    monkeypatch.setenv("TFLITE_BUILD_MANIFESTS", "**/model.yaml")
    # Every variant converts; the int8 ones, which carry the budgets, are measured (the
    # float and dynamic modes' reports are the PyTorch and JAX tests').
    measured = ("report:torch_digits/int8", "report:jax_digits/int8")
    run = doit(project, "convert", *measured)
    assert run.code == 0, run.output
    assert {"train_torch_digits", "train_jax_digits"} <= run.executed
    assert converted(run) == {
        *(f"convert:torch_digits/{v}" for v in ("float32", "float16", "dynamic", "int8")),
        *(f"convert:jax_digits/{v}" for v in ("float32", "dynamic", "int8")),
    }
    for model, kind in (("torch_digits", "pytorch"), ("jax_digits", "jax")):
        report = json.loads((project / "build" / model / "int8.report.json").read_text())
        accuracy = report["accuracy"]
        assert f"the {kind} toolchain" in accuracy["reference"]
        assert accuracy["accuracy"] >= 0.9 and accuracy["accuracy_drop"] <= 0.02, accuracy
        budgets = report["budgets"]
        assert {"min_accuracy", "max_accuracy_drop"} <= {b["budget"] for b in budgets}
        assert all(b["passed"] for b in budgets), budgets
    again = doit(project, "convert", *measured)
    assert again.code == 0 and again.executed == set() and again.conversions == 0
