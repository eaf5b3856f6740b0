"""What a running build shows while it works: variants done of total, and what runs now.

On a terminal a live display (rich's) sits under doit's own lines: one bar for
the variants the run covers, and a row per task running now with its elapsed
time. Anywhere else (a CI log, a pipe) the same facts come as plain lines, one
when a conversion (or a task that took a while) finishes, so a log reads top to
bottom without control characters.
"""

from __future__ import annotations

import time
from typing import IO, Protocol

QUIET_BELOW = 1.0  # seconds: a task other than a conversion that took less gets no line


class Display(Protocol):
    def write(self, text: str) -> None: ...
    def started(self, name: str) -> None: ...
    def finished(self, name: str, outcome: str, counted: bool) -> None: ...
    def close(self) -> None: ...


def display_for(stream: IO[str], total: int) -> Display:
    """A live display on a terminal, plain lines elsewhere."""
    if stream.isatty():
        from rules.console.live import live_display  # here: rich costs a run that shows none 0.07 s

        display = live_display(stream, total)
        if display is not None:
            return display
    return Lines(stream, total)


class Lines:
    """Plain lines: ``   convert:digits/int8: built in 4.2 s (5 of 16 variants)``."""

    def __init__(self, stream: IO[str], total: int) -> None:
        self.stream, self.total, self.done = stream, total, 0
        self.starts: dict[str, float] = {}

    def write(self, text: str) -> None:
        self.stream.write(text)

    def started(self, name: str) -> None:
        self.starts[name] = time.perf_counter()

    def finished(self, name: str, outcome: str, counted: bool) -> None:
        self.done += counted
        start = self.starts.pop(name, None)
        if start is None:  # up to date or restored: doit's own line said so, and it took no time
            return
        seconds = time.perf_counter() - start
        if not counted and seconds < QUIET_BELOW:  # a quick task (a status, a cheap report)
            return
        count = f" ({self.done} of {self.total} variants)" if counted and self.total else ""
        self.write(f"   {name}: {outcome} in {seconds:.1f} s{count}\n")

    def close(self) -> None:
        pass
