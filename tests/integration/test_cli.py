"""python -m converter gives the bytes tflite_convert gives for the same flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.models import Models

TFLITE_CONVERT = Path(sys.executable).parent / "tflite_convert"


@pytest.mark.tf
@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(lambda m: ["--saved_model_dir", str(m.saved_model)], id="saved_model"),
        pytest.param(
            lambda m: [
                "--enable_v1_converter",
                "--graph_def_file",
                str(m.frozen_graph),
                "--input_arrays",
                "img",
                "--output_arrays",
                "probs",
                "--input_shapes",
                "1,8,8,1",
                "--post_training_quantize",
            ],
            id="frozen_graph_dynamic",
        ),
    ],
)
def test_same_bytes_as_tflite_convert(flags, models: Models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    common = flags(models)
    # Both at once: each process imports TensorFlow, and neither needs the other.
    theirs, ours = (
        subprocess.Popen(
            [*command, *common, "--output_file", output],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command, output in [
            ([str(TFLITE_CONVERT)], "theirs.tflite"),
            ([sys.executable, "-m", "converter"], "ours.tflite"),
        ]
    )
    _, their_errors = theirs.communicate(timeout=300)
    our_output, our_errors = ours.communicate(timeout=300)
    assert theirs.returncode == 0, their_errors[-2000:]
    assert ours.returncode == 0, our_errors[-2000:]
    assert (tmp_path / "ours.tflite").read_bytes() == (tmp_path / "theirs.tflite").read_bytes()
    assert our_output == ""  # TF's noise stays in the log
