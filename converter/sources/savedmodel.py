"""TF2 SavedModels: TF's converter reads the directory, the reference runs its signature."""

from __future__ import annotations

from typing import Any

import numpy as np

from converter.errors import OptionsError, SourceError
from converter.sources.loader import Call, InputSpec, Loader, first_line, input_spec
from converter.spec import SavedModelSource


class SavedModelLoader(Loader):
    """A TF2 SavedModel: TF's converter reads the directory itself; its signature is loaded once."""

    api = "v2"
    signature = True

    def __init__(self, source: SavedModelSource) -> None:
        super().__init__()
        self.source = source
        self._loaded: Any = None

    def _make_converter(self) -> Any:
        import tensorflow as tf

        try:
            return tf.lite.TFLiteConverter.from_saved_model(
                str(self.source.path),
                signature_keys=list(self.source.signature_keys) or None,
                tags=set(self.source.tags) or None,
            )
        except Exception as e:
            raise SourceError(
                f"{self.source.path}: cannot load the SavedModel: {first_line(e)}"
            ) from None

    def _function(self, several: str) -> Any:
        """The signature's function; ``several`` is the sentence for more than one signature."""
        path, keys = self.source.path, self.source.signature_keys
        if len(keys) > 1:
            raise SourceError(f"{path}: {several}")
        return self._signature(keys[0] if keys else None)

    def _signature(self, key: str | None) -> Any:
        """A signature's function; None: the one a conversion without signature_keys keeps."""
        import tensorflow as tf

        path = self.source.path
        if self._loaded is None:
            try:
                self._loaded = tf.saved_model.load(str(path), tags=list(self.source.tags) or None)
            except Exception as e:
                raise SourceError(f"{path}: cannot load the SavedModel: {first_line(e)}") from None
        signatures = self._loaded.signatures
        if key is None:
            key = "serving_default"
            if key not in signatures and len(signatures) == 1:
                key = next(iter(signatures))  # the only one, whatever its name
        if key not in signatures:
            have = ", ".join(repr(k) for k in sorted(signatures)) or "none"
            raise SourceError(f"{path}: has no signature {key!r} (it has {have})")
        return signatures[key]

    def _input_specs(self) -> list[InputSpec]:
        function = self._function(
            "several signatures are converted: give representative: {signatures: {key: "
            "{data: file.npz}, ...}} with each one's samples, or convert one signature per "
            "variant (signature_keys)"
        )
        return _specs(function)

    def converted_signatures(self) -> tuple[str, ...]:
        return self.source.signature_keys or ("serving_default",)

    def signature_specs(self, key: str) -> list[InputSpec]:
        converted = self.converted_signatures()
        if key not in converted:
            raise OptionsError(
                f"representative signatures: {key!r} is not converted "
                f"(signature_keys: {', '.join(converted)})"
            )
        return _specs(self._signature(key))

    def reference(self) -> Call:
        import tensorflow as tf

        function = self._function(
            "an accuracy reference for several signatures at once is not supported"
        )
        names = [spec.name for spec in self.input_specs()]

        def call(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
            result = function(**{n: tf.constant(a) for n, a in zip(names, arrays, strict=True)})
            return {name: result[name].numpy() for name in sorted(result)}

        return call


def _specs(function: Any) -> list[InputSpec]:
    named = function.structured_input_signature[1]
    # A signature's inputs have no order of their own; TFLite lists them by name.
    return [input_spec(name, named[name].shape, named[name].dtype) for name in sorted(named)]
