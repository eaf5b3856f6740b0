"""``python -m converter``: tflite_convert's flags, same names, same bytes, but strict.

Every ``tflite_convert`` flag (TF2 mode and ``--enable_v1_converter`` mode) keeps
its name and meaning, and for those flags the output is byte-identical to
``tflite_convert``'s. Unlike ``tflite_convert``, an unknown or misspelled flag is
an error (exit status 2, with a suggestion), a flag that would be silently
ignored is refused, and every quantization mode is available in both modes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from converter.api import Engine
from converter.conversion.options import OPS_SETS, closest
from converter.errors import CheckError, ConversionError, ConverterError, WorkerError
from converter.execution.worker import DEFAULT_TIMEOUT
from converter.spec import (
    IO_TYPES,
    QUANTIZE_MODES,
    FrozenGraphSource,
    JaxSource,
    KerasSource,
    Options,
    PythonSource,
    PyTorchSource,
    Representative,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)

V1_ONLY_FLAGS = (
    "graph_def_file",
    "output_format",
    "inference_type",
    "input_arrays",
    "input_shapes",
    "output_arrays",
    "std_dev_values",
    "mean_values",
    "default_ranges_min",
    "default_ranges_max",
    "drop_control_dependency",
    "reorder_across_fake_quant",
    "change_concat_input_ranges",
    "custom_opdefs",
    "dump_graphviz_dir",
    "dump_graphviz_video",
    "conversion_summary_dir",
)
# tflite_convert's names for inference types.
INFERENCE_TYPE_NAMES = {
    "FLOAT": "float32",
    "INT8": "int8",
    "UINT8": "uint8",
    "QUANTIZED_UINT8": "uint8",
}


class UsageError(Exception):
    """A flag problem found after parsing; reported like argparse's own errors."""


class StrictParser(argparse.ArgumentParser):
    """An ArgumentParser that names the closest flag when it meets an unknown one."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            known = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            hints = []
            for word in message.split(":", 1)[1].split():
                flag = word.split("=", 1)[0]
                close = closest(flag, known, cutoff=0.75)  # flags share long prefixes
                if flag.startswith("-") and close:
                    hints.append(f"{flag}: did you mean {close}?")
            if hints:
                message += " (" + "; ".join(hints) + ")"
        super().error(message)


def _bool_flag(value: str | None) -> bool:
    if value is None or value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def build_parser() -> StrictParser:
    p = StrictParser(
        prog="python -m converter",
        description=(
            "Convert a TensorFlow model to TensorFlow Lite. Accepts tflite_convert's flags "
            "(same names and meaning; same output bytes) plus quantization flags; unknown "
            "flags are errors."
        ),
        usage=(
            "python -m converter --output_file OUT (--saved_model_dir DIR | --keras_model_file "
            "FILE | --graph_def_file FILE | --python_entry FILE.py:FUNC | --pytorch_entry "
            "FILE.py:FUNC | --jax_entry FILE.py:FUNC) [flags]"
        ),
        allow_abbrev=False,
    )
    p.add_argument("--output_file", required=True, help="Full path of the output file.")
    src = p.add_argument_group("input model (exactly one)")
    src.add_argument("--saved_model_dir", help="SavedModel directory.")
    src.add_argument("--keras_model_file", help="Keras model file (.keras or .h5).")
    src.add_argument("--graph_def_file", help="Frozen GraphDef .pb (needs --enable_v1_converter).")
    src.add_argument(
        "--python_entry",
        help="FILE.py:FUNCTION or MODULE:FUNCTION returning a Keras model, tf.function(s), "
        "ConcreteFunction(s) or a (Session, inputs, outputs) triple. (tflite-build)",
    )
    src.add_argument(
        "--pytorch_entry",
        help="FILE.py:FUNCTION returning (module, example_args), converted by litert-torch in "
        "the PyTorch toolchain (made on first use). (tflite-build)",
    )
    src.add_argument(
        "--jax_entry",
        help="FILE.py:FUNCTION returning (function, example_args), converted through jax2tf in "
        "the JAX toolchain (made on first use). (tflite-build)",
    )
    src.add_argument(
        "--legacy_keras",
        action="store_true",
        help="Load --keras_model_file with tf_keras (needs the legacy-keras extra). (tflite-build)",
    )
    p.add_argument(
        "--saved_model_tag_set",
        help="Comma-separated MetaGraphDef tags of the SavedModel (default: serve).",
    )
    p.add_argument(
        "--saved_model_signature_key",
        help="SignatureDef key(s) to convert; comma-separated in TF2 mode.",
    )
    p.add_argument(
        "--enable_v1_converter",
        action="store_true",
        help="Use the TF1 converter (frozen graphs, TF1 SavedModels, TF1 options).",
    )
    p.add_argument(
        "--experimental_new_converter",
        nargs="?",
        const=True,
        type=_bool_flag,
        default=None,
        metavar="BOOL",
        help="Use the MLIR converter (default true).",
    )
    p.add_argument(
        "--experimental_new_quantizer",
        nargs="?",
        const=True,
        type=_bool_flag,
        default=None,
        metavar="BOOL",
        help="Use the MLIR quantizer (default true).",
    )
    q = p.add_argument_group("quantization (tflite-build; both modes)")
    q.add_argument("--quantize", choices=QUANTIZE_MODES, help="Post-training quantization mode.")
    q.add_argument(
        "--post_training_quantize",
        "--quantize_weights",
        dest="post_training_quantize",
        action="store_true",
        help="Dynamic-range quantization (same as --quantize dynamic).",
    )
    q.add_argument(
        "--quantize_to_float16",
        action="store_true",
        help="With --post_training_quantize: float16 (same as --quantize float16).",
    )
    q.add_argument(
        "--float_fallback",
        action="store_true",
        help="With int8/int16x8: keep ops that cannot be quantized in float.",
    )
    q.add_argument("--representative_data", help=".npz (arrays keyed by input name) or .npy.")
    q.add_argument("--representative_python", help="FILE.py:FUNCTION yielding samples.")
    q.add_argument("--representative_samples", type=int, help="Use the first N samples.")
    q.add_argument(
        "--inference_input_type",
        type=str.upper,
        help="Input type: FLOAT, INT8, UINT8, QUANTIZED_UINT8 (tflite_convert names) or INT16.",
    )
    q.add_argument("--inference_output_type", type=str.upper, help="Output type, as above.")
    q.add_argument(
        "--supported_ops",
        help=f"Comma-separated op sets: {', '.join(OPS_SETS)} (or tf.lite.OpsSet names).",
    )
    q.add_argument(
        "--exclude_conversion_metadata",
        action="store_true",
        help="Leave out the converter's CONVERSION_METADATA entry.",
    )
    v1 = p.add_argument_group("TF1 converter flags (with --enable_v1_converter)")
    v1.add_argument("--output_format", type=str.upper, choices=["TFLITE", "GRAPHVIZ_DOT"])
    v1.add_argument(
        "--inference_type",
        type=str.upper,
        help="FLOAT, INT8, UINT8 or QUANTIZED_UINT8 (quantization-aware models).",
    )
    v1.add_argument("--input_arrays", help="Comma-separated input tensor names.")
    v1.add_argument("--input_shapes", help="Shapes per input: 1,224,224,3:1,10.")
    v1.add_argument("--output_arrays", help="Comma-separated output tensor names.")
    v1.add_argument("--std_dev_values", help="Comma-separated std dev per input.")
    v1.add_argument("--mean_values", help="Comma-separated mean per input.")
    v1.add_argument("--default_ranges_min", type=float, help="Dummy-quantization range min.")
    v1.add_argument("--default_ranges_max", type=float, help="Dummy-quantization range max.")
    v1.add_argument("--drop_control_dependency", action="store_true")
    v1.add_argument("--reorder_across_fake_quant", action="store_true")
    v1.add_argument("--change_concat_input_ranges", type=str.upper, choices=["TRUE", "FALSE"])
    v1.add_argument(
        "--allow_custom_ops",
        nargs="?",
        const=True,
        type=_bool_flag,
        default=False,
        metavar="BOOL",
        help="Let unknown ops through as custom ops.",
    )
    v1.add_argument("--custom_opdefs", help="Comma-separated OpDef strings for custom ops.")
    q.add_argument("--target_ops", help="Comma-separated tf.lite.OpsSet names.")
    v1.add_argument(
        "--experimental_select_user_tf_ops",
        help="Comma-separated user TF op names to emit as Select TF ops.",
    )
    v1.add_argument("--dump_graphviz_dir")
    v1.add_argument("--dump_graphviz_video", action="store_true")
    v1.add_argument("--conversion_summary_dir")
    extra = p.add_argument_group("tflite-build")
    extra.add_argument(
        "--converter_attr",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="Set any other TFLiteConverter attribute, e.g. "
        "_experimental_disable_per_channel=true (repeatable; names are checked).",
    )
    extra.add_argument(
        "--provenance",
        action="store_true",
        help="Stamp a tflite_build metadata entry (source digest, options, versions).",
    )
    extra.add_argument(
        "--allow_resource_variables",
        action="store_true",
        help="Do not fail on unfrozen resource variables.",
    )
    extra.add_argument("--no_probe", action="store_true", help="Skip the probe inference.")
    extra.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="Seconds per conversion."
    )
    extra.add_argument("-v", "--verbose", action="store_true", help="Print TensorFlow's log.")
    return p


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)


def _io_type(flag: str, value: str | None) -> str | None:
    if value is None:
        return None
    if value in INFERENCE_TYPE_NAMES:
        return INFERENCE_TYPE_NAMES[value]
    if value.lower() in IO_TYPES:
        return value.lower()
    raise UsageError(
        f"--{flag}: expected FLOAT, INT8, UINT8, QUANTIZED_UINT8 or INT16; got {value!r}"
    )


def _input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    if not args.input_shapes:
        return {}
    names = _split(args.input_arrays)
    shapes = args.input_shapes.split(":")
    if not names:
        raise UsageError("--input_shapes must be used with --input_arrays")
    if len(shapes) != len(names):
        raise UsageError("--input_shapes and --input_arrays must have the same number of items")
    try:
        return {
            n: tuple(int(d) for d in s.split(",") if d) for n, s in zip(names, shapes, strict=True)
        }
    except ValueError:
        raise UsageError(f"--input_shapes: expected integers, got {args.input_shapes!r}") from None


SOURCE_FLAGS = (
    "saved_model_dir",
    "keras_model_file",
    "graph_def_file",
    "python_entry",
    "pytorch_entry",
    "jax_entry",
)


def make_source(args: argparse.Namespace) -> Source:
    given = [f for f in SOURCE_FLAGS if getattr(args, f)]
    if len(given) != 1:
        flags = ", ".join(f"--{f}" for f in SOURCE_FLAGS)
        raise UsageError(
            f"give exactly one of {flags} (got {', '.join('--' + g for g in given) or 'none'})"
        )
    tags = _split(args.saved_model_tag_set)
    if args.python_entry:
        return PythonSource(args.python_entry, Path.cwd())
    if args.pytorch_entry:
        return PyTorchSource(args.pytorch_entry, Path.cwd())
    if args.jax_entry:
        return JaxSource(args.jax_entry, Path.cwd())
    if args.keras_model_file:
        return KerasSource(Path(args.keras_model_file), legacy=args.legacy_keras)
    if args.graph_def_file:
        if not args.input_arrays or not args.output_arrays:
            raise UsageError(
                "--input_arrays and --output_arrays are required with --graph_def_file"
            )
        return FrozenGraphSource(
            Path(args.graph_def_file),
            _split(args.input_arrays),
            _split(args.output_arrays),
            _input_shapes(args),
        )
    if args.enable_v1_converter:
        return TF1SavedModelSource(
            Path(args.saved_model_dir),
            signature_key=args.saved_model_signature_key,
            tags=tags,
            input_arrays=_split(args.input_arrays),
            output_arrays=_split(args.output_arrays),
            input_shapes=_input_shapes(args),
        )
    return SavedModelSource(
        Path(args.saved_model_dir), _split(args.saved_model_signature_key), tags
    )


def _quantize_mode(args: argparse.Namespace) -> str:
    legacy = "none"
    if args.quantize_to_float16 and not args.post_training_quantize:
        raise UsageError(
            "--quantize_to_float16 only works with --post_training_quantize "
            "(tflite_convert would silently ignore it)"
        )
    if args.post_training_quantize:
        legacy = "float16" if args.quantize_to_float16 else "dynamic"
    if args.quantize and legacy != "none" and args.quantize != legacy:
        raise UsageError(f"--quantize {args.quantize} contradicts --post_training_quantize")
    return str(args.quantize or legacy)


def make_options(args: argparse.Namespace) -> Options:
    if not args.enable_v1_converter:
        used = [f"--{f}" for f in V1_ONLY_FLAGS if getattr(args, f) not in (None, False)]
        if used:
            raise UsageError(
                f"{', '.join(used)} need{'s' if len(used) == 1 else ''} --enable_v1_converter "
                "(tflite_convert would silently ignore them in TF2 mode)"
            )
    rep = None
    if args.representative_data or args.representative_python:
        rep = Representative(
            data=Path(args.representative_data) if args.representative_data else None,
            python=args.representative_python,
            samples=args.representative_samples,
            base_dir=Path.cwd(),
        )
    elif args.representative_samples is not None:
        raise UsageError("--representative_samples needs --representative_data or _python")
    attrs: dict[str, Any] = {}
    for flag in ("experimental_new_converter", "experimental_new_quantizer"):
        if getattr(args, flag) is not None:
            attrs[flag] = getattr(args, flag)
    for flag in ("drop_control_dependency", "reorder_across_fake_quant"):
        if getattr(args, flag):
            attrs[flag] = True
    if args.change_concat_input_ranges:
        attrs["change_concat_input_ranges"] = args.change_concat_input_ranges == "TRUE"
    for flag in ("output_format", "dump_graphviz_dir", "conversion_summary_dir"):
        if getattr(args, flag):
            attrs[flag] = getattr(args, flag)
    if args.dump_graphviz_video:
        if not args.dump_graphviz_dir:
            raise UsageError("--dump_graphviz_video must be used with --dump_graphviz_dir")
        attrs["dump_graphviz_video"] = True
    ops = _split(args.target_ops) + _split(args.supported_ops)
    if args.experimental_select_user_tf_ops:
        if "SELECT_TF_OPS" not in ops and "select_tf_ops" not in ops:
            raise UsageError(
                "--experimental_select_user_tf_ops needs SELECT_TF_OPS in --target_ops"
            )
        attrs["target_spec.experimental_select_user_tf_ops"] = sorted(
            set(_split(args.experimental_select_user_tf_ops))
        )
    for item in args.converter_attr:
        name, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(f"--converter_attr {item!r}: expected NAME=JSON")
        try:
            attrs[name] = json.loads(raw)
        except json.JSONDecodeError:
            attrs[name] = raw  # a bare word is a string
    stats: dict[str, tuple[float, float]] = {}
    if args.mean_values or args.std_dev_values:
        means = [float(v) for v in _split(args.mean_values)]
        stds = [float(v) for v in _split(args.std_dev_values)]
        names = _split(args.input_arrays)
        if not (means and stds) or len(means) != len(stds):
            raise UsageError(
                "--std_dev_values and --mean_values must be used together, item for item"
            )
        if len(names) != len(means):
            raise UsageError(
                "--mean_values and --std_dev_values need --input_arrays naming as many inputs"
            )
        stats = {n: (m, s) for n, m, s in zip(names, means, stds, strict=True)}
    ranges = None
    if (args.default_ranges_min is None) != (args.default_ranges_max is None):
        raise UsageError("--default_ranges_min and --default_ranges_max must be used together")
    if args.default_ranges_min is not None:
        ranges = (args.default_ranges_min, args.default_ranges_max)
    inference_type = _io_type("inference_type", args.inference_type)
    return Options(
        quantize=_quantize_mode(args),  # type: ignore[arg-type]
        float_fallback=args.float_fallback,
        representative=rep,
        input_type=_io_type("inference_input_type", args.inference_input_type),
        output_type=_io_type("inference_output_type", args.inference_output_type),
        supported_ops=ops,
        allow_custom_ops=bool(args.allow_custom_ops),
        exclude_conversion_metadata=args.exclude_conversion_metadata,
        # tflite_convert always sets FLOAT, the converter's own default: leave it unset.
        inference_type=None if inference_type == "float32" else inference_type,
        quantized_input_stats=stats,
        default_ranges=ranges,
        custom_opdefs=_split(args.custom_opdefs),
        converter=attrs,
        allow_resource_variables=args.allow_resource_variables,
        probe=not args.no_probe,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        source = make_source(args)
        options = make_options(args)
    except UsageError as e:
        parser.error(str(e))
    with Engine(timeout=args.timeout) as engine:
        try:
            result = engine.convert(source, options, args.output_file, provenance=args.provenance)
        except ConverterError as e:
            print(f"error: {e}", file=sys.stderr)
            if e.log and (
                args.verbose or isinstance(e, (ConversionError, CheckError, WorkerError))
            ):
                print("--- conversion log (last lines) ---", file=sys.stderr)
                print(e.log, file=sys.stderr)
            return 1
    if args.verbose and result.log:
        print(result.log, file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"wrote {result.path} ({result.size:,} bytes, sha256 {result.sha256[:12]}) "
        f"in {result.seconds:.2f} s",
        file=sys.stderr,
    )
    return 0
