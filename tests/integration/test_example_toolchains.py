"""The example project's PyTorch and JAX models, built as the README says: trained by the
project's own tasks in their toolchains, converted, quantized and reported, for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from converter.toolchains import defaults, environments


def doit(root: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """doit in its own process, as a user runs it (the project's tasks run commands)."""
    return subprocess.run(
        [sys.executable, "-m", "doit", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **environ},
        timeout=600,
    )


def executed(run: subprocess.CompletedProcess[str]) -> set[str]:
    return {line[3:].strip() for line in run.stdout.splitlines() if line.startswith(".  ")}


pytestmark = pytest.mark.tf

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


def test_the_examples_toolchain_models_train_convert_and_meet_their_budgets(
    tmp_path: Path,
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
    assert default.returncode == 0 and executed(default) == set()  # not built by default
    everything = {"TFLITE_BUILD_MANIFESTS": "**/model.yaml"}
    run = doit(project, "report", **everything)
    assert run.returncode == 0, run.stdout + run.stderr
    assert {"train_torch_digits", "train_jax_digits"} <= executed(run)
    assert {t for t in executed(run) if t.startswith("convert:")} == {
        *(f"convert:torch_digits/{v}" for v in ("float32", "float16", "dynamic", "int8")),
        *(f"convert:jax_digits/{v}" for v in ("float32", "dynamic", "int8")),
    }
    for model in ("torch_digits", "jax_digits"):
        report = json.loads((project / "build" / model / "int8.report.json").read_text())
        accuracy = report["accuracy"]
        assert (
            f"the {model.split('_')[0].replace('torch', 'pytorch')} toolchain"
            in accuracy["reference"]
        )
        assert accuracy["accuracy"] >= 0.9 and accuracy["accuracy_drop"] <= 0.02, accuracy
    again = doit(project, "report", **everything)
    assert again.returncode == 0 and executed(again) == set(), again.stdout
