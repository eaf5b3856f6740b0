"""Checks after conversion: what TF lets through that a build must not ship.

Runs in the worker on the converted bytes. The probe inference uses the
ai-edge-litert interpreter, the runtime users deploy with.
"""

from __future__ import annotations

import numpy as np

from converter.errors import CheckError
from converter.tflite import modelinfo

PROBE_SEED = 0


def check_resource_variables(data: bytes) -> None:
    """CheckError when the model kept resource variables, saying which case it is.

    Variables with initial values come with an initializer subgraph that a
    CALL_ONCE op runs: the model has mutable state (a stateful tf.Module). Without
    one, nothing ever sets them: the Keras 3 trap, where every output is NaN.
    """
    ops = modelinfo.op_counts(data)
    count = ops["VAR_HANDLE"]
    if not count:
        return
    if ops["CALL_ONCE"]:
        raise CheckError(
            f"the converted model keeps {count} resource variable(s) (VAR_HANDLE ops) that it "
            "updates as it runs: mutable state, initialized once by the model itself. If the "
            "model is meant to keep state between invocations, set allow_resource_variables: "
            "true; if not, make the state a constant (or an input and an output)."
        )
    raise CheckError(
        f"the converted model keeps {count} resource variable(s) (VAR_HANDLE ops) with no "
        "initial value, so it would output NaN. This is what happens when a Keras 3 model is "
        "saved with tf.saved_model.save: export it with model.export(path) or convert the "
        ".keras file instead."
    )


def check_signatures(data: bytes, wanted: tuple[str, ...]) -> None:
    """CheckError when the artifact lacks a signature the source asked for.

    TF's converter can keep fewer signatures than ``signature_keys`` names without a
    word: a tf.Module whose method is named ``serve``, say, is exported as that one
    function. A build must not ship a model without the entry points it was asked for.
    """
    if len(wanted) < 2:
        return  # one key: TF converts that signature or fails to load it
    have = list(modelinfo.signature_input_names(data))
    missing = [key for key in wanted if key not in have]
    if missing:
        raise CheckError(
            f"TensorFlow's converter kept the signature(s) {', '.join(have) or 'none'} of the "
            f"{', '.join(wanted)} asked for (signature_keys): {', '.join(missing)} would be "
            "missing. TF exports a tf.Module through one of its methods when one is named "
            "like a serving function (serve): rename it, or convert one signature per variant."
        )


def probe(data: bytes) -> str | None:
    """Run one inference and fail on non-finite outputs.

    Returns a warning when the stock interpreter cannot run the model (Select TF
    ops, custom ops): that is reported, not fatal. Float inputs get a seeded sample
    in [0, 1), others zeros; free dimensions are 1.
    """
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=data)
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"probe inference not run: the stock interpreter cannot load this model ({reason})"
    rng = np.random.default_rng(PROBE_SEED)
    for detail in interpreter.get_input_details():
        shape = [d if d > 0 else 1 for d in detail["shape"]]
        dtype = np.dtype(detail["dtype"])
        value = rng.random(shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype)
        interpreter.set_tensor(detail["index"], value)
    try:
        interpreter.invoke()
    except RuntimeError as e:
        reason = " ".join(str(e).split())
        return (
            f"probe inference failed: the stock interpreter cannot run this model ({reason}); "
            "the artifact is what TensorFlow wrote, but it will not run on the stock runtime"
        )
    for detail in interpreter.get_output_details():
        out = interpreter.get_tensor(detail["index"])
        if out.dtype.kind == "f" and not np.all(np.isfinite(out)):
            raise CheckError(
                f"a probe inference gives non-finite values (NaN or inf) in output "
                f"{detail['name']!r}; the converted model is broken. Compare it with the source "
                "model on real data before shipping (set probe: false to skip this check)."
            )
    return None
