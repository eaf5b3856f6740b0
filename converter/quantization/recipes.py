"""Quantizing a toolchain's float artifact with ai-edge-quantizer recipes (the PyTorch toolchain's).

The manifest's modes map onto recipes applied to the float ``.tflite`` the
toolchain converted:

- ``dynamic``: int8 weights, activations quantized at run time (``dynamic_wi8_afp32``);
- ``float16``: float16 weights, cast back to float32 when the model loads;
- ``int8``: int8 weights and activations (``static_wi8_ai8``), calibrated on the
  representative samples; ``int16x8``: the same with int16 activations.

Calibration takes the whole set's min and max of each tensor, as TensorFlow's
converter does: the quantizer's own default averages per-sample ranges, which
clips a small model fed one sample at a time. Inputs and outputs stay float32
unless ``input_type``/``output_type`` ask for the integer type, as with
TensorFlow. An op the recipe cannot quantize is left in float by the quantizer;
without ``float_fallback`` that is an error naming the ops, as TF's would be.

We chose these recipes over PyTorch's own PT2E quantization: on the example's
digits CNN both keep accuracy for dynamic int8, but PT2E static int8 collapses
on networks with BatchNorm (top-1 0.09), where the recipe keeps it (0.967).

Runs in the toolchain's worker, where ai-edge-quantizer is installed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from converter.errors import ConversionError, OptionsError, brief
from converter.sources.loader import InputSpec
from converter.sources.representative import load_samples
from converter.spec import Options
from converter.tflite import modelinfo

# The quantizer's dtypes by our names, for the I/O types a static recipe may keep.
_STATIC_BITS = {"int8": 8, "int16x8": 16}


def quantize(data: bytes, options: Options) -> bytes:
    """``data`` (a float .tflite) quantized as ``options`` say; unchanged for quantize none."""
    mode = options.quantize
    if mode == "none":
        return data
    from ai_edge_quantizer import quantizer

    chosen = _recipe(options)
    engine = quantizer.Quantizer(data)
    engine.load_quantization_recipe(chosen)
    calibration = _calibrate(data, options, chosen) if mode in _STATIC_BITS else None
    try:
        result = engine.quantize(calibration, enable_progress_report=False)
    except Exception as e:
        raise ConversionError(
            f"ai-edge-quantizer could not quantize ({mode}): {brief(e)}"
        ) from None
    out = bytes(result.quantized_model)
    if mode in _STATIC_BITS and not options.float_fallback:
        left = float_ops(out)
        if left:
            listed = ", ".join(
                f"{name} x{n}" if n > 1 else name for name, n in sorted(left.items())
            )
            raise ConversionError(
                f"quantize {mode}: ai-edge-quantizer left these ops in float: {listed}; set "
                "float_fallback: true to keep them in float, or choose dynamic"
            )
    return out


def float_ops(data: bytes) -> Counter[str]:
    """Ops (other than the quantize and dequantize at the edges) that compute in float32."""
    model = modelinfo.root(data)
    found: Counter[str] = Counter()
    float32 = 0  # TensorType.FLOAT32
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            name = modelinfo.op_name(model, op.OpcodeIndex())
            if name in ("QUANTIZE", "DEQUANTIZE"):
                continue
            outputs = [op.Outputs(i) for i in range(op.OutputsLength())]
            if any(i >= 0 and subgraph.Tensors(i).Type() == float32 for i in outputs):
                found[name] += 1
    return found


def _recipe(options: Options) -> Any:
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe, recipe_manager

    ops = qtyping.TFLOperationName
    mode = options.quantize
    if mode == "dynamic":
        return recipe.dynamic_wi8_afp32()
    manager = recipe_manager.RecipeManager()
    if mode == "float16":
        manager.add_quantization_config(
            regex=".*",
            operation_name=ops.ALL_SUPPORTED,
            algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING,
            op_config=qtyping.OpQuantizationConfig(
                weight_tensor_config=qtyping.TensorQuantizationConfig(
                    num_bits=16, dtype=qtyping.TensorDataType.FLOAT
                ),
                compute_precision=qtyping.ComputePrecision.FLOAT,
                explicit_dequantize=True,
            ),
        )
        return manager.get_quantization_recipe()
    if mode not in _STATIC_BITS:
        raise OptionsError(f"quantize {mode} is not available in this toolchain")
    manager.add_static_config(
        regex=".*",
        operation_name=ops.ALL_SUPPORTED,
        activation_num_bits=_STATIC_BITS[mode],
        weight_num_bits=8,
    )
    # The recipe quantizes inputs and outputs too; keep them float unless asked otherwise.
    for side, wanted in ((ops.INPUT, options.input_type), (ops.OUTPUT, options.output_type)):
        if wanted in (None, "float32"):
            manager.add_quantization_config(
                regex=".*",
                operation_name=side,
                algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE,
            )
    return manager.get_quantization_recipe()


def _calibrate(data: bytes, options: Options, chosen: Any) -> dict[str, Any]:
    """Each tensor's min and max over every representative sample (the whole set's range)."""
    from ai_edge_quantizer import calibrator, recipe_manager
    from ai_edge_quantizer.utils import qsv_utils

    rep = options.representative
    assert rep is not None  # options.check requires it for a static mode
    signature = _only_signature(data)
    names = modelinfo.signature_input_names(data)[signature.key]
    specs = [  # keyed by the signature's names (args_0...), as the quantizer feeds them
        InputSpec(name, tuple(None if d < 0 else d for d in t.shape), t.dtype.lower())
        for name, t in zip(names, signature.inputs, strict=True)
    ]
    samples = load_samples(rep, specs)
    feed = [
        {spec.name: array for spec, array in zip(specs, sample, strict=True)} for sample in samples
    ]
    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(chosen)
    measuring = calibrator.Calibrator(data, qsv_update_func=qsv_utils.min_max_update)
    try:
        measuring.calibrate({signature.key: feed}, manager)
    except Exception as e:
        raise OptionsError(f"calibration failed: {brief(e)}") from None
    return dict(measuring.get_model_qsvs())


def _only_signature(data: bytes) -> modelinfo.SignatureInfo:
    signatures = modelinfo.describe(data).signatures
    if len(signatures) != 1:
        raise OptionsError(
            f"calibration needs a model of one signature; this one has {len(signatures)}"
        )
    return signatures[0]
