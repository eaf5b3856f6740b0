"""The converter's exception family: every user-facing failure is one of these."""

from __future__ import annotations

import re
import sys


class ConverterError(Exception):
    """A failure the user can act on; ``str(error)`` is a complete sentence.

    ``log`` holds the tail of what TensorFlow printed during the conversion, when
    there was one, so a caller can show it on failure or with verbosity.
    """

    def __init__(self, message: str, *, log: str = "") -> None:
        super().__init__(message)
        self.log = log

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross the worker pipe; keep the log when they are pickled.
        return (_rebuild, (type(self), str(self), self.log))


def _rebuild(cls: type[ConverterError], message: str, log: str) -> ConverterError:
    return cls(message, log=log)


class OptionsError(ConverterError):
    """An option, or a combination of options, that cannot work; raised before TF runs."""


class SourceError(ConverterError):
    """The source model is missing, of the wrong format, or cannot be loaded."""


class ConversionError(ConverterError):
    """TensorFlow's converter rejected the model."""


class CheckError(ConverterError):
    """The conversion 'succeeded' but the artifact fails a check (NaN trap, non-finite output)."""


class WorkerError(ConverterError):
    """The worker process crashed, timed out or went over its memory ceiling."""


# Known failure texts -> what to do about them.
_HINTS = (
    (
        r"neither a custom op nor a flex op|not supported by the native TFLite runtime",
        "some ops have no TFLite builtin: add select_tf_ops to supported_ops (the stock "
        "interpreter cannot run those ops) or allow_custom_ops with your own kernels",
    ),
    (
        r"[Qq]uantization not yet supported|isn't quantizable|Failed to quantize",
        "an op cannot be quantized to integer: set float_fallback: true to keep it in float",
    ),
    (
        r"referencing variables which have been deleted",
        "the function's variables were garbage-collected when the entry point returned: keep "
        "the tf.Module or model that owns them referenced (a module-level variable) for as "
        "long as the function is used",
    ),
    (
        r"TensorListReserve|element_shape to be static",
        "recurrent layers need a static batch: build the model with Input(batch_size=1) or "
        "use unroll=True",
    ),
)


def brief(error: BaseException) -> str:
    """The informative line of a TF exception (TF puts it last after 'in user code:')."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if lines[0].startswith("in user code") and len(lines) > 1:
        return lines[-1]
    return lines[0]


def hint_for(text: str) -> str:
    """What to do about a known TF failure, as ' (hint)', or ''."""
    for pattern, hint in _HINTS:
        if re.search(pattern, text):
            return f" ({hint})"
    return ""


def describe(error: BaseException) -> str:
    """A short account of a TF conversion error: its 'error:' lines, then a hint if we know one."""
    text = str(error)
    found: list[str] = []
    for line in text.splitlines():
        match = re.search(r"error: (.*)", line)
        if match and match.group(1).strip() not in found:
            found.append(match.group(1).strip())
    detail = "; ".join(found[:3]) if found else brief(error)
    return f"TensorFlow's converter failed: {detail}{hint_for(text)}"


def warn(message: str) -> None:
    """A warning the build or the engine goes on after: one line on stderr."""
    print(f"warning: {message}", file=sys.stderr)
