"""Our options -> TFLiteConverter attributes: a pure mapping, checked before TF runs.

``plan`` returns an ordered ``{attribute path: symbolic value}`` dict (``"DEFAULT"``
for ``tf.lite.Optimize.DEFAULT``, ``"int8"`` for ``tf.int8``...). ``apply``
(``converter.conversion.configure``) turns symbols into TF objects in the worker in
a few lines, so everything that decides *what* is set is testable without TensorFlow.
The mode rules follow TF's own ``QuantizationMode`` (lite.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from converter.errors import OptionsError
from converter.spec import (
    INFERENCE_TYPES,
    IO_TYPES,
    QUANTIZE_MODES,
    THROUGH_TENSORFLOW,
    ConverterApi,
    Options,
    Representative,
)

# Our short names for tf.lite.OpsSet members; the full names are accepted too.
OPS_SETS = {
    "builtins": "TFLITE_BUILTINS",
    "select_tf_ops": "SELECT_TF_OPS",
    "int8": "TFLITE_BUILTINS_INT8",
    "int16x8": "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
    "stablehlo": "EXPERIMENTAL_STABLEHLO_OPS",
}

# Public attributes of tf.lite.TFLiteConverter (TF 2.21) and the private knobs people use.
V2_ATTRIBUTES = frozenset(
    {
        "optimizations",
        "representative_dataset",
        "target_spec.supported_ops",
        "target_spec.supported_types",
        "target_spec.experimental_select_user_tf_ops",
        "target_spec.experimental_supported_backends",
        "target_spec._experimental_custom_op_registerers",
        "target_spec._experimental_supported_accumulation_type",
        "inference_input_type",
        "inference_output_type",
        "allow_custom_ops",
        "exclude_conversion_metadata",
        "experimental_new_converter",
        "experimental_new_quantizer",
        "experimental_new_dynamic_range_quantizer",
        "experimental_enable_resource_variables",
        "experimental_use_stablehlo_quantizer",
        "experimental_stablehlo_quantizer_config",
        "unfold_batchmatmul",
        "legalize_custom_tensor_list_ops",
        "serialize_debug_metadata",
        "model_origin_framework",
        "canonicalizing_inf_as_min_max_float",
        "ir_dump_dir",
        "ir_dump_pass_regex",
        "ir_dump_func_regex",
        "enable_timing",
        "print_ir_before",
        "print_ir_after",
        "print_ir_module_scope",
        "elide_elementsattrs_if_larger",
        "_experimental_lower_tensor_list_ops",
        "_experimental_disable_per_channel",
        "_experimental_disable_per_channel_quantization_for_dense_layers",
        "_experimental_full_integer_quantization_bias_type",
        "_experimental_use_buffer_offset",
        "_experimental_unfold_large_splat_constant",
        "_experimental_enable_dynamic_update_slice",
        "_experimental_preserve_assert_op",
        "_experimental_allow_all_select_tf_ops",
        "_experimental_variable_quantization",
        "_experimental_strict_qdq",
        "_experimental_qdq_conversion_mode",
        "_experimental_calibrate_only",
        "_experimental_low_bit_qat",
        "_experimental_default_to_single_batch_in_tensor_list_ops",
        "_experimental_disable_fuse_mul_and_fc",
        "_experimental_reduce_type_precision",
        "_experimental_unsafe_fuse_dynamic_shaped_broadcast",
    }
)
# Extra attributes of tf.compat.v1.lite.TFLiteConverter.
V1_ATTRIBUTES = V2_ATTRIBUTES | {
    "inference_type",
    "quantized_input_stats",
    "default_ranges_stats",
    "drop_control_dependency",
    "reorder_across_fake_quant",
    "change_concat_input_ranges",
    "output_format",
    "dump_graphviz_dir",
    "dump_graphviz_video",
    "conversion_summary_dir",
}
# Attributes whose value is a TF dtype, given here by name ("int64").
DTYPE_ATTRIBUTES = frozenset(
    {
        "inference_input_type",
        "inference_output_type",
        "inference_type",
        "_experimental_full_integer_quantization_bias_type",
        "target_spec._experimental_supported_accumulation_type",
    }
)
# Attributes that our named options own; setting them through `converter` would
# silently fight the option, so it is refused with a pointer to the option.
MANAGED = {
    "optimizations": "quantize",
    "representative_dataset": "representative",
    "target_spec.supported_ops": "supported_ops",
    "target_spec.supported_types": "quantize",
    "inference_input_type": "input_type",
    "inference_output_type": "output_type",
    "inference_type": "inference_type",
    "quantized_input_stats": "quantized_input_stats",
    "default_ranges_stats": "default_ranges",
    "allow_custom_ops": "allow_custom_ops",
    "exclude_conversion_metadata": "exclude_conversion_metadata",
}

Problem = tuple[str, str]  # (option key, what is wrong)


def ops_set_name(name: str) -> str | None:
    """The tf.lite.OpsSet member for one of our short names or a full name, else None."""
    if name in OPS_SETS:
        return OPS_SETS[name]
    return name if name in OPS_SETS.values() else None


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice ``word`` most likely misspells, if one is close enough: every did-you-mean."""
    import difflib  # here: only a mistake needs it

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def suggest(word: str, choices: Iterable[str]) -> str:
    """A did-you-mean clause (with a leading '; ') or an empty string."""
    close = closest(word, choices)
    return f"; did you mean {close!r}?" if close else ""


def _one_of(choices: Iterable[str], got: object) -> str:
    return f"expected one of {', '.join(choices)}; got {got!r}"


def _representative_problems(rep: Representative, where: str) -> list[Problem]:
    """A representative section's own problems: exactly one source of samples, each."""
    problems: list[Problem] = []
    given = [rep.data is not None, rep.python is not None, bool(rep.signatures)]
    if sum(given) != 1:
        problems.append((where, "give exactly one of data, python or signatures"))
    if rep.samples is not None and (not isinstance(rep.samples, int) or rep.samples < 1):
        problems.append(
            (f"{where} -> samples", f"expected a positive integer; got {rep.samples!r}")
        )
    for key, part in rep.signatures:
        if part.signatures:
            problems.append((f"{where} -> signatures -> {key}", "give data or python"))
        else:
            problems += _representative_problems(part, f"{where} -> signatures -> {key}")
    return problems


def check(
    options: Options, api: ConverterApi | None, toolchain: str = "tensorflow"
) -> list[Problem]:
    """Every problem with ``options`` for a converter of ``api`` (None: not known yet), in
    ``toolchain`` (``converter.spec.toolchain_of``: another converts with its own tools).

    Pure: no TF, no file access beyond what the option values say.
    """
    if toolchain not in THROUGH_TENSORFLOW:
        return _toolchain_problems(options, toolchain)
    mode = options.quantize
    integer = mode in ("int8", "int16x8")
    problems = _mode_problems(options, integer)
    rep = options.representative
    if rep is not None:
        if not integer and mode in QUANTIZE_MODES:
            problems.append(
                (
                    "representative",
                    f"representative data is used only by quantize int8 or int16x8, "
                    f"not {mode} (with dynamic it would silently switch to full-integer)",
                )
            )
        problems += _representative_problems(rep, "representative")
        if rep.signatures and options.keep_float is not None:
            problems.append(
                (
                    "keep_float",
                    "TF's quantization debugger calibrates one signature; with representative "
                    "signatures, convert each signature in a variant of its own to keep layers "
                    "in float",
                )
            )
    if options.keep_float is not None and mode != "int8":
        problems.append(
            (
                "keep_float",
                f"applies only to quantize int8 (TF's quantization debugger), not {mode}",
            )
        )
    if options.float_fallback and not integer:
        problems.append(("float_fallback", f"applies only to quantize int8 or int16x8, not {mode}"))
    for key in ("input_type", "output_type"):
        value = getattr(options, key)
        if value is None:
            continue
        if value not in IO_TYPES:
            problems.append((key, _one_of(IO_TYPES, value)))
        elif value in ("int8", "uint8") and mode != "int8" and options.inference_type is None:
            problems.append(
                (key, f"{value} needs integer quantization (quantize: int8); the model is {mode}")
            )
        elif value == "int16" and mode != "int16x8":
            problems.append((key, f"int16 needs quantize: int16x8; the model is {mode}"))
        elif value in ("int8", "uint8") and mode == "int16x8":
            problems.append((key, f"{value} does not fit quantize int16x8; use int16 or float32"))
    for name in options.supported_ops:
        if ops_set_name(name) is None:
            problems.append(("supported_ops", _one_of(OPS_SETS, name) + suggest(name, OPS_SETS)))
    problems += _check_v1_only(options, api)
    problems += _check_converter_attributes(options.converter, api)
    return problems


# What a toolchain other than TensorFlow's applies (the PyTorch toolchain: litert-torch
# converts, ai-edge-quantizer quantizes, see converter.quantization.recipes); every other
# option is TensorFlow's converter's own.
TOOLCHAIN_OPTIONS = frozenset(
    {"quantize", "representative", "float_fallback", "input_type", "output_type", "probe"}
)
# The I/O types each mode may give (the quantizer keeps the other modes' I/O in float).
TOOLCHAIN_IO_TYPES = {"int8": ("float32", "int8"), "int16x8": ("float32", "int16")}


def _toolchain_problems(options: Options, toolchain: str) -> list[Problem]:
    """What a toolchain other than TensorFlow's cannot do with ``options``, in sentences."""
    problems: list[Problem] = []
    applied = ", ".join(sorted(TOOLCHAIN_OPTIONS))
    for name in options.to_dict():
        if name not in TOOLCHAIN_OPTIONS and name != "allow_resource_variables":
            problems.append(
                (name, f"is TensorFlow's converter's; the {toolchain} toolchain applies {applied}")
            )
    mode = options.quantize
    integer = mode in TOOLCHAIN_IO_TYPES
    problems += _mode_problems(options, integer, " (keyed args_0, args_1...)")
    rep = options.representative
    if rep is not None:
        if not integer and mode in QUANTIZE_MODES:
            problems.append(
                (
                    "representative",
                    f"representative data is used only by quantize int8 or int16x8, not {mode}",
                )
            )
        if rep.signatures:
            problems.append(
                (
                    "representative",
                    f"a {toolchain} model has one signature: give data or python, not signatures",
                )
            )
        else:
            problems += _representative_problems(rep, "representative")
    if options.float_fallback and not integer:
        problems.append(("float_fallback", f"applies only to quantize int8 or int16x8, not {mode}"))
    for key in ("input_type", "output_type"):
        value = getattr(options, key)
        if value is None or value == "float32":
            continue
        allowed = TOOLCHAIN_IO_TYPES.get(mode, ("float32",))
        if value not in allowed:
            side = key.split("_")[0]
            problems.append(
                (
                    key,
                    f"the {toolchain} toolchain gives {' or '.join(allowed)} {side}s with "
                    f"quantize {mode}, not {value}",
                )
            )
    return problems


def _mode_problems(options: Options, integer: bool, keyed: str = "") -> list[Problem]:
    """An unknown mode, or an integer one without calibration data (``keyed``: how to key it)."""
    mode = options.quantize
    if mode not in QUANTIZE_MODES:
        return [("quantize", _one_of(QUANTIZE_MODES, mode))]
    if integer and options.representative is None:
        return [
            (
                "representative",
                f"quantize {mode} needs representative data to calibrate activation ranges; "
                f"give representative: {{data: samples.npz}}{keyed} or "
                "{python: file.py:function}",
            )
        ]
    return []


def _check_v1_only(options: Options, api: ConverterApi | None) -> list[Problem]:
    problems: list[Problem] = []
    used = [
        key
        for key in ("inference_type", "quantized_input_stats", "default_ranges", "custom_opdefs")
        if getattr(options, key)
    ]
    if api == "v2":
        problems += [
            (key, "is an option of the TF1 converter (frozen graphs, TF1 SavedModels, sessions)")
            for key in used
        ]
        return problems
    if options.inference_type is not None:
        if options.inference_type not in INFERENCE_TYPES:
            problems.append(("inference_type", _one_of(INFERENCE_TYPES, options.inference_type)))
        elif options.inference_type != "float32" and options.quantize != "none":
            problems.append(
                (
                    "inference_type",
                    f"{options.inference_type} is for quantization-aware or dummy quantization; "
                    f"it cannot be combined with quantize: {options.quantize}",
                )
            )
        elif options.inference_type != "float32" and not options.quantized_input_stats:
            problems.append(
                (
                    "quantized_input_stats",
                    f"inference_type {options.inference_type} needs quantized_input_stats "
                    "(input name -> [mean, std_dev])",
                )
            )
    for name, stats in options.quantized_input_stats.items():
        if not (isinstance(stats, (tuple, list)) and len(stats) == 2):
            problems.append(
                (f"quantized_input_stats -> {name}", f"expected [mean, std_dev]; got {stats!r}")
            )
    ranges = options.default_ranges
    if ranges is not None and not (
        isinstance(ranges, (tuple, list)) and len(ranges) == 2 and ranges[0] < ranges[1]
    ):
        problems.append(("default_ranges", f"expected [min, max] with min < max; got {ranges!r}"))
    return problems


def _check_converter_attributes(
    attrs: Mapping[str, Any], api: ConverterApi | None
) -> list[Problem]:
    known = V2_ATTRIBUTES if api == "v2" else V1_ATTRIBUTES
    problems: list[Problem] = []
    for name in attrs:
        key = f"converter -> {name}"
        if name in MANAGED:
            problems.append((key, f"is set by the option {MANAGED[name]!r}; use that instead"))
        elif name not in known:
            hint = suggest(name, known)
            if api == "v2" and name in V1_ATTRIBUTES:
                problems.append((key, "is an attribute of the TF1 converter only"))
            else:
                problems.append((key, f"is not a TFLiteConverter attribute{hint}"))
    return problems


def plan(options: Options, api: ConverterApi) -> dict[str, Any]:
    """The attributes to set on a converter of ``api``, in order, with symbolic values.

    Raises OptionsError listing every problem when the options cannot work.
    ``representative_dataset`` is not in the plan: the worker builds it from
    ``options.representative`` once it knows the model's inputs.
    """
    problems = check(options, api)
    if problems:
        raise OptionsError(format_problems(problems))
    attrs: dict[str, Any] = {}
    mode = options.quantize
    if mode != "none":
        attrs["optimizations"] = ("DEFAULT",)
    if mode == "float16":
        attrs["target_spec.supported_types"] = ("float16",)
    ops: list[str] = []
    if mode == "int8" and not options.float_fallback:
        ops.append("TFLITE_BUILTINS_INT8")
    if mode == "int16x8":
        ops.append(OPS_SETS["int16x8"])
    if options.float_fallback or (options.supported_ops and not ops):
        ops.append("TFLITE_BUILTINS")
    for name in options.supported_ops:
        full = ops_set_name(name)
        if full is not None and full not in ops:
            ops.append(full)
    if (ops and ops != ["TFLITE_BUILTINS"]) or options.supported_ops:
        attrs["target_spec.supported_ops"] = tuple(ops)
    if options.inference_type is not None:
        attrs["inference_type"] = options.inference_type
    if options.input_type is not None:
        attrs["inference_input_type"] = options.input_type
    if options.output_type is not None:
        attrs["inference_output_type"] = options.output_type
    if options.quantized_input_stats:
        attrs["quantized_input_stats"] = {
            name: (float(mean), float(std))
            for name, (mean, std) in sorted(options.quantized_input_stats.items())
        }
    if options.default_ranges is not None:
        low, high = options.default_ranges
        attrs["default_ranges_stats"] = (float(low), float(high))
    if options.allow_custom_ops:
        attrs["allow_custom_ops"] = True
    if options.exclude_conversion_metadata:
        attrs["exclude_conversion_metadata"] = True
    attrs.update(options.converter)
    return attrs


def format_problems(problems: list[Problem]) -> str:
    """One line per problem: ``key: what is wrong``."""
    return "\n".join(f"{key}: {text}" for key, text in problems)
