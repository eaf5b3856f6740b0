"""A loader's converter with a variant's options applied: the step before every conversion.

Options are planned into converter attributes (``converter.conversion.options``)
and set on TF's converter here, symbolic values turned into TF objects; the
representative dataset is loaded and checked against the model's inputs. It
imports TensorFlow only inside functions.
"""

from __future__ import annotations

from typing import Any

from converter.conversion import options as options_module
from converter.errors import OptionsError
from converter.sources import representative
from converter.sources.loader import Loader
from converter.spec import Options


def configure(
    loader: Loader, options: Options, planned: dict[str, Any] | None = None
) -> tuple[Any, list[list[Any]] | None]:
    """The loader's converter with ``options`` applied, and the calibration samples it was given.

    ``planned``: the options' plan, when the caller made it already (it is made once).
    """
    converter = loader.converter()
    apply(converter, planned if planned is not None else options_module.plan(options, loader.api))
    if options.custom_opdefs:
        from tensorflow.lite.python.convert import register_custom_opdefs

        register_custom_opdefs(list(options.custom_opdefs))
    rep = options.representative
    if rep is None:
        return converter, None
    if rep.signatures:  # calibrated through each signature: no single list of samples
        given = {key for key, _ in rep.signatures}
        missing = [key for key in loader.converted_signatures() if key not in given]
        if missing:
            raise OptionsError(
                f"representative signatures: no samples for {', '.join(missing)}: "
                "every converted signature is calibrated"
            )
        converter.representative_dataset = representative.signatures_dataset(
            {key: (part, loader.signature_specs(key)) for key, part in rep.signatures}
        )
        return converter, None
    specs = loader.input_specs()
    samples = representative.load_samples(rep, specs)
    converter.representative_dataset = representative.dataset(
        samples, specs, by_name=loader.signature
    )
    return converter, samples


def apply(converter: Any, attrs: dict[str, Any]) -> None:
    """Set a plan's attributes on a converter, turning symbolic values into TF objects."""
    import tensorflow as tf

    for path, value in attrs.items():
        *parents, name = path.split(".")
        target = converter
        for parent in parents:
            target = getattr(target, parent)
        if not hasattr(target, name):
            raise OptionsError(
                f"converter -> {path}: {type(converter).__name__} has no attribute {path!r}"
            )
        setattr(target, name, _tf_value(tf, path, value))


def _tf_value(tf: Any, path: str, value: Any) -> Any:
    if path == "optimizations":
        return [tf.lite.Optimize[v] for v in value]
    if path == "target_spec.supported_ops":
        return {tf.lite.OpsSet[v] for v in value}
    if path == "target_spec.supported_types":
        return [tf.as_dtype(v) for v in value]
    if path in options_module.DTYPE_ATTRIBUTES:
        return tf.as_dtype(value)
    return value
