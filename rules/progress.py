"""What a running build shows while it works: variants done of total, and what runs now.

On a terminal a live display (rich's) sits under doit's own lines: one bar for
the variants the run covers, and a row per task running now with its elapsed
time. Anywhere else (a CI log, a pipe) the same facts come as plain lines, one
when a task that ran finishes, so a log reads top to bottom without control
characters.
"""

from __future__ import annotations

import time
from typing import IO, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class Display(Protocol):
    def write(self, text: str) -> None: ...
    def started(self, name: str) -> None: ...
    def finished(self, name: str, outcome: str, counted: bool) -> None: ...
    def close(self) -> None: ...


def display_for(stream: IO[str], total: int) -> Display:
    """A live display on a terminal, plain lines elsewhere."""
    console = Console(file=stream)
    if console.is_terminal and not console.is_dumb_terminal:
        return Live(console, total)
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
        count = f" ({self.done} of {self.total} variants)" if counted and self.total else ""
        self.write(f"   {name}: {outcome} in {time.perf_counter() - start:.1f} s{count}\n")

    def close(self) -> None:
        pass


class _Count(ProgressColumn):
    """``5/16`` on the variants' bar, nothing on a running task's row."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")


class Live:
    """rich's live display; doit's lines are printed above it."""

    def __init__(self, console: Console, total: int) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            _Count(),
            TimeElapsedColumn(),
            console=console,
            transient=True,  # gone when the run ends: the closing line says it all
        )
        self.variants = self.progress.add_task("variants", total=total or None)
        self.rows: dict[str, TaskID] = {}
        self.progress.start()

    def write(self, text: str) -> None:
        self.progress.console.out(text, end="", highlight=False)

    def started(self, name: str) -> None:
        self.rows[name] = self.progress.add_task(name, total=None)

    def finished(self, name: str, outcome: str, counted: bool) -> None:
        row = self.rows.pop(name, None)
        if row is not None:
            self.progress.remove_task(row)
        if counted:
            self.progress.advance(self.variants)

    def close(self) -> None:
        self.progress.stop()
