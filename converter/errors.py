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


Wire = tuple[str, str, str]


def to_wire(error: ConverterError) -> Wire:
    """``error`` as plain data for a pipe or a socket: its class name, its sentence, its log.

    Never the exception object itself: once a library installs a traceback pickler
    (TensorFlow does, when tblib is importable), an exception pickles with its
    traceback and context chain, TensorFlow's own exceptions in it, and unpickling
    that would import TensorFlow in the build process.
    """
    return type(error).__name__, str(error), error.log


def from_wire(data: Wire) -> ConverterError:
    """The error ``to_wire`` described: of its class when it is one of ours, else a ConverterError."""
    name, message, log = data
    found: type[ConverterError] = ConverterError
    stack = list(ConverterError.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls.__name__ == name:
            found = cls
            break
        stack.extend(cls.__subclasses__())
    return found(message, log=log)


# Known failure texts -> what to do about them.
_HINTS = (
    (
        r"neither a custom op nor a flex op|not supported by the native TFLite runtime",
        "some ops have no TFLite builtin: add select_tf_ops to supported_ops (the stock "
        "interpreter cannot run those ops) or allow_custom_ops with your own kernels",
    ),
    (
        r"Select TensorFlow op\(s\), included in the given model, is\(are\) not supported by "
        r"this interpreter",
        "integer calibration runs the model in TensorFlow Lite's interpreter, which cannot run "
        "Select TF ops: quantize this variant dynamic or float16, or make the model's ops "
        "builtins (for a recurrent layer: a static batch or unroll=True)",
    ),
    (
        r"[Qq]uantization not yet supported|[Qq]uantization to 16x8-bit not yet supported|"
        r"isn't quantizable|Failed to quantize",
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
        "recurrent layers with a free batch size keep TensorFlow's tensor lists, which "
        "builtin ops cannot hold: build the model with Input(batch_size=1), or use "
        "unroll=True (a fixed sequence length), or keep them as Select TF ops with "
        "supported_ops: [builtins, select_tf_ops] and converter: "
        "{_experimental_lower_tensor_list_ops: false} (the stock interpreter cannot run those)",
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
    return f"TensorFlow's converter failed: {without_locations(detail)}{hint_for(text)}"


def without_locations(text: str) -> str:
    """MLIR's messages without their ``loc(callsite(fused[...] at ...)): `` prefixes.

    They name TF's internal functions (``__inference_function_652``), not the
    user's layers, and can be longer than the message; the conversion log keeps them.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("loc(", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        depth, j = 0, start + 3
        while j < len(text):  # to the parenthesis that closes loc(
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        i = j + 2 if text.startswith(": ", j) else j
    return "".join(out)


def warn(message: str) -> None:
    """A warning the build or the engine goes on after: one line on stderr."""
    print(f"warning: {message}", file=sys.stderr)
