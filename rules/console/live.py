"""The live display of ``rules.console.display`` on a terminal, drawn by rich."""

from __future__ import annotations

from typing import IO

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


def live_display(stream: IO[str], total: int) -> Live | None:
    """The live display, or None on a terminal that cannot redraw lines (TERM=dumb)."""
    console = Console(file=stream)
    if not console.is_terminal or console.is_dumb_terminal:
        return None
    return Live(console, total)


class _Count(ProgressColumn):
    """``5/16`` on the variants' bar, nothing on a running task's row."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")


class Live:
    """rich's live display; doit's lines are printed above it."""

    def __init__(self, stream: IO[str] | Console, total: int) -> None:
        console = stream if isinstance(stream, Console) else Console(file=stream)
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
