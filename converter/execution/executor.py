"""Where conversions run: the one interface every place implements.

An executor takes a ``Request`` (a conversion), a ``RunRequest`` (a reference
run of the source model) or a ``LayersRequest`` (an int8 model's per-layer
errors) and returns its outcome, or
raises the ``ConverterError`` the conversion failed with, its log tail
included. The engine decides what to run; an executor only runs it. Today
there are two: ``converter.execution.worker.Worker``, one TensorFlow process of this
process's own, and ``converter.service.client.ServiceClient``, the per-user warm
service. A cluster executor is the next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from converter.protocol import AnyOutcome, AnyRequest


class Executor(Protocol):
    """Runs requests somewhere; TensorFlow's output for a request goes to ``log_path``."""

    @property
    def requests_served(self) -> int:
        """Requests answered (with an outcome or a conversion error)."""

    @property
    def conversions_served(self) -> int:
        """Of those, conversions (the rest are reference runs)."""

    @property
    def processes_started(self) -> int:
        """Processes this executor started on this machine (a warm service starts none)."""

    def convert(self, request: AnyRequest, log_path: Path) -> AnyOutcome:
        """Run one request; raises ConverterError, or ExecutorUnavailable when it cannot run here."""

    def close(self) -> None:
        """Let go of what this executor holds here (processes, connections)."""


class ExecutorUnavailable(Exception):
    """This place cannot run requests now (it cannot be reached, or died mid-request).

    Not a ConverterError: the request did not fail, it was not run to its end.
    The engine runs it, and every later one, in a local worker instead.
    """
