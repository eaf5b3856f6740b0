"""A process started now and waited for later: TensorFlow's own oracle, in a process of its
own (tf_keras must be chosen before TensorFlow is imported), working while the tests do."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

WAIT = 600.0  # seconds: a hang guard; an oracle takes a few


class Started:
    """``python -c script *args`` under ``env`` (added to this process's), started now."""

    def __init__(self, script: str, *args: str, env: Mapping[str, str] = {}) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
        self._output: bytes | None = None

    def finished(self) -> str:
        """Its output, once it has exited 0 (an AssertionError with the output's end if not)."""
        if self._output is None:
            self._output, _ = self.process.communicate(timeout=WAIT)
        text = self._output.decode(errors="replace")
        assert self.process.returncode == 0, text[-3000:]
        return text

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


@contextmanager
def started(script: str, *args: str, env: Mapping[str, str] = {}) -> Iterator[Started]:
    """``Started`` for the ``with`` block: killed at its end if still running."""
    process = Started(script, *args, env=env)
    try:
        yield process
    finally:
        process.stop()
