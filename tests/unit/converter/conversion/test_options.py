"""The option mapping is pure: every mode's converter attributes and every refused combination."""

from __future__ import annotations

from pathlib import Path

import pytest

from converter.conversion import options as opts
from converter.errors import OptionsError
from converter.spec import KeepFloat, Options, Representative

REP = Representative(data=Path("calib.npz"))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (Options(), {}),
        (Options(quantize="dynamic"), {"optimizations": ("DEFAULT",)}),
        (
            Options(quantize="float16"),
            {"optimizations": ("DEFAULT",), "target_spec.supported_types": ("float16",)},
        ),
        (
            Options(quantize="int8", representative=REP, input_type="int8", output_type="int8"),
            {
                "optimizations": ("DEFAULT",),
                "target_spec.supported_ops": ("TFLITE_BUILTINS_INT8",),
                "inference_input_type": "int8",
                "inference_output_type": "int8",
            },
        ),
        (
            Options(quantize="int8", representative=REP, float_fallback=True),
            {"optimizations": ("DEFAULT",)},
        ),
        (
            Options(
                quantize="int16x8", representative=REP, float_fallback=True, input_type="int16"
            ),
            {
                "optimizations": ("DEFAULT",),
                "target_spec.supported_ops": (
                    "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
                    "TFLITE_BUILTINS",
                ),
                "inference_input_type": "int16",
            },
        ),
        (
            Options(supported_ops=("select_tf_ops",), allow_custom_ops=True),
            {
                "target_spec.supported_ops": ("TFLITE_BUILTINS", "SELECT_TF_OPS"),
                "allow_custom_ops": True,
            },
        ),
        (
            Options(
                converter={"_experimental_disable_per_channel": True},
                exclude_conversion_metadata=True,
            ),
            {"exclude_conversion_metadata": True, "_experimental_disable_per_channel": True},
        ),
    ],
)
def test_plan(options: Options, expected: dict[str, object]) -> None:
    assert opts.plan(options, "v2") == expected


def test_tf1_plan() -> None:
    options = Options(
        inference_type="uint8", quantized_input_stats={"img": (0, 255)}, default_ranges=(0, 6)
    )
    assert opts.plan(options, "v1") == {
        "inference_type": "uint8",
        "quantized_input_stats": {"img": (0.0, 255.0)},
        "default_ranges_stats": (0.0, 6.0),
    }


@pytest.mark.parametrize(
    ("options", "api", "problem"),
    [
        (
            Options(quantize="int9"),  # type: ignore[arg-type]
            "v2",
            "quantize: expected one of none, dynamic, float16, int8, int16x8; got 'int9'",
        ),
        (Options(quantize="int8"), "v2", "representative: quantize int8 needs representative data"),
        (
            Options(quantize="dynamic", representative=REP),
            "v2",
            "representative: representative data is used only by quantize int8 or int16x8, not dynamic",
        ),
        (
            Options(input_type="int8"),
            "v2",
            "input_type: int8 needs integer quantization (quantize: int8); the model is none",
        ),
        (
            Options(quantize="float16", output_type="uint8"),
            "v2",
            "output_type: uint8 needs integer quantization",
        ),
        (
            Options(quantize="int8", representative=REP, input_type="int16"),
            "v2",
            "input_type: int16 needs quantize: int16x8",
        ),
        (
            Options(float_fallback=True),
            "v2",
            "float_fallback: applies only to quantize int8 or int16x8",
        ),
        (Options(supported_ops=("select_ops",)), "v2", "did you mean 'select_tf_ops'?"),
        (
            Options(inference_type="uint8"),
            "v2",
            "inference_type: is an option of the TF1 converter",
        ),
        (
            Options(inference_type="uint8"),
            "v1",
            "quantized_input_stats: inference_type uint8 needs quantized_input_stats",
        ),
        (
            Options(default_ranges=(6, 0)),
            "v1",
            "default_ranges: expected [min, max] with min < max",
        ),
        (
            Options(converter={"optimizations": []}),
            "v2",
            "converter -> optimizations: is set by the option 'quantize'",
        ),
        (
            Options(converter={"drop_control_dependency": True}),
            "v2",
            "is an attribute of the TF1 converter only",
        ),
        (
            Options(representative=Representative(), quantize="int8"),
            "v2",
            "give exactly one of data, python or signatures",
        ),
        (
            Options(
                representative=Representative(
                    signatures=(("a", Representative()), ("b", Representative(data=Path("x"))))
                ),
                quantize="int8",
                keep_float=KeepFloat(layers=("dense",)),
            ),
            "v2",
            "representative -> signatures -> a: give exactly one of data, python or signatures",
        ),
    ],
)
def test_refused_combinations(options: Options, api: str, problem: str) -> None:
    text = opts.format_problems(opts.check(options, api))  # type: ignore[arg-type]
    assert problem in text
    with pytest.raises(OptionsError):
        opts.plan(options, api)  # type: ignore[arg-type]


def test_all_problems_reported_at_once() -> None:
    problems = opts.check(
        Options(quantize="int8", float_fallback=False, input_type="int16", converter={"bogus": 1}),
        "v2",
    )
    assert [key for key, _ in problems] == ["representative", "input_type", "converter -> bogus"]


def test_options_to_dict_leaves_out_defaults() -> None:
    options = Options(
        quantize="int8", representative=Representative(data=Path("d/c.npz"), samples=5)
    )
    assert options.to_dict() == {
        "quantize": "int8",
        "representative": {"data": "d/c.npz", "samples": 5},
    }


# The PyTorch toolchain: what litert-torch and ai-edge-quantizer can do, checked without either.
CALIB = Representative(data=Path("calib.npz"))


@pytest.mark.parametrize(
    "options",
    [
        Options(),
        Options(quantize="dynamic"),
        Options(quantize="float16", probe=False),
        Options(quantize="int8", representative=CALIB),
        Options(quantize="int8", representative=CALIB, input_type="int8", output_type="int8"),
        Options(quantize="int16x8", representative=CALIB, input_type="int16", float_fallback=True),
    ],
)
def test_the_pytorch_toolchain_takes_what_its_quantizer_gives(options: Options) -> None:
    assert opts.check(options, None, "pytorch") == []


@pytest.mark.parametrize(
    ("options", "key", "words"),
    [
        (Options(supported_ops=("builtins",)), "supported_ops", "is TensorFlow's converter's"),
        (Options(converter={"x": 1}), "converter", "the pytorch toolchain applies"),
        (
            Options(quantize="int8", representative=CALIB, input_type="uint8"),
            "input_type",
            "not uint8",
        ),
        (Options(quantize="int8"), "representative", "keyed args_0"),
        (Options(quantize="dynamic", output_type="int8"), "output_type", "float32 outputs"),
        (
            Options(
                quantize="int8",
                representative=Representative(signatures=(("a", CALIB),)),
            ),
            "representative",
            "one signature",
        ),
        (
            Options(quantize="int8", representative=CALIB, keep_float=KeepFloat(("d",))),
            "keep_float",
            "",
        ),
    ],
)
def test_the_pytorch_toolchain_refuses_what_it_cannot_do(
    options: Options, key: str, words: str
) -> None:
    found = dict(opts.check(options, None, "pytorch"))
    assert key in found, found
    assert words in found[key]
