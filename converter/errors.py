"""The converter's exception family: every user-facing failure is one of these."""

from __future__ import annotations


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
