"""python -m converter: tflite_convert's flags, mapped without TensorFlow, and strict about unknown flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from converter import cli
from converter.spec import FrozenGraphSource


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_misspelled_flag_fails_with_a_suggestion(tmp_path: Path) -> None:
    run = _run(
        [
            sys.executable,
            "-m",
            "converter",
            "--saved_model_dir",
            "sm",
            "--output_file",
            "o.tflite",
            "--post_training_quantise",
        ],
        tmp_path,
    )
    assert run.returncode == 2
    assert "unrecognized arguments: --post_training_quantise" in run.stderr
    assert "did you mean --post_training_quantize?" in run.stderr
    assert not (tmp_path / "o.tflite").exists()


def test_help_documents_every_flag() -> None:
    text = cli.build_parser().format_help()
    for flag in (
        "--saved_model_dir",
        "--graph_def_file",
        "--quantize",
        "--representative_data",
        "--inference_input_type",
        "--target_ops",
        "--converter_attr",
        "--provenance",
    ):
        assert flag in text


def _options(*argv: str):  # type: ignore[no-untyped-def]
    args = cli.build_parser().parse_args(["--output_file", "o.tflite", *argv])
    return cli.make_source(args), cli.make_options(args)


def test_flag_mapping_without_tensorflow() -> None:
    source, options = _options(
        "--enable_v1_converter",
        "--graph_def_file",
        "g.pb",
        "--input_arrays",
        "a,b",
        "--output_arrays",
        "y",
        "--input_shapes",
        "1,4:1,2",
        "--inference_type",
        "QUANTIZED_UINT8",
        "--mean_values",
        "128,0",
        "--std_dev_values",
        "127,1",
        "--default_ranges_min",
        "0",
        "--default_ranges_max",
        "6",
    )
    assert isinstance(source, FrozenGraphSource)
    assert source.input_shapes == {"a": (1, 4), "b": (1, 2)}
    assert options.inference_type == "uint8"
    assert options.quantized_input_stats == {"a": (128.0, 127.0), "b": (0.0, 1.0)}
    assert options.default_ranges == (0.0, 6.0)

    _, options = _options(
        "--saved_model_dir", "sm", "--post_training_quantize", "--quantize_to_float16"
    )
    assert options.quantize == "float16"
    _, options = _options(
        "--saved_model_dir",
        "sm",
        "--quantize",
        "int8",
        "--representative_data",
        "c.npz",
        "--inference_input_type",
        "INT8",
        "--converter_attr",
        "_experimental_disable_per_channel=true",
    )
    assert (options.quantize, options.input_type) == ("int8", "int8")
    assert options.converter == {"_experimental_disable_per_channel": True}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--saved_model_dir", "sm", "--graph_def_file", "g.pb"], "give exactly one of"),
        (
            ["--saved_model_dir", "sm", "--input_arrays", "x"],
            "--input_arrays needs --enable_v1_converter",
        ),
        (
            ["--saved_model_dir", "sm", "--quantize_to_float16"],
            "only works with --post_training_quantize",
        ),
        (
            ["--enable_v1_converter", "--graph_def_file", "g.pb"],
            "--input_arrays and --output_arrays are required",
        ),
    ],
)
def test_flag_combinations_that_tflite_convert_would_ignore(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--output_file", "o.tflite", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_pytorch_and_jax_entries_name_their_toolchains_sources() -> None:
    from converter.spec import JaxSource, PyTorchSource, toolchain_of

    torch_source, _ = _options("--pytorch_entry", "net.py:make", "--quantize", "dynamic")
    jax_source, _ = _options("--jax_entry", "fn.py:make")
    assert isinstance(torch_source, PyTorchSource) and toolchain_of(torch_source) == "pytorch"
    assert isinstance(jax_source, JaxSource) and toolchain_of(jax_source) == "jax"
    with pytest.raises(cli.UsageError, match="--pytorch_entry, --jax_entry"):
        _options("--pytorch_entry", "a.py:f", "--jax_entry", "b.py:g")
