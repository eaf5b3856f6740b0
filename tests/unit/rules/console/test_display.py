"""The progress a build shows: a live display on a terminal, plain lines in a log."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from rules.console.display import Lines, display_for
from rules.console.live import Live
from rules.console.reporter import variants_in


def test_a_log_gets_plain_lines_and_a_terminal_the_live_display() -> None:
    assert isinstance(display_for(io.StringIO(), 3), Lines)
    terminal = io.StringIO()
    terminal.isatty = lambda: True  # type: ignore[method-assign]
    live = display_for(terminal, 3)
    try:
        assert isinstance(live, Live)
    finally:
        live.close()


def test_plain_lines_count_every_variant_and_time_the_ones_that_ran() -> None:
    log = io.StringIO()
    lines = Lines(log, 3)
    lines.finished("convert:a/float32", "up to date", counted=True)  # never started: no line
    lines.started("convert:a/int8")
    lines.started("train")
    lines.started("daemon_status")
    lines.finished("daemon_status", "done", counted=False)  # quick, and no variant: no line
    lines.starts["train"] -= 5  # a task of the user's that took 5 s
    lines.finished("train", "done", counted=False)
    lines.finished("convert:a/int8", "built", counted=True)
    text = log.getvalue().splitlines()
    assert [line.split(" in ")[0] for line in text] == [
        "   train: done",
        "   convert:a/int8: built",
    ]
    assert text[0].endswith(" s") and text[1].endswith(" s (2 of 3 variants)")


def test_the_live_display_shows_what_runs_now_and_the_variants_done() -> None:
    screen = io.StringIO()
    live = Live(Console(file=screen, force_terminal=True, width=120), 2)
    try:
        live.started("convert:digits/int8")
        live.progress.refresh()
        assert "convert:digits/int8" in screen.getvalue() and "0/2" in screen.getvalue()
        live.write("C  convert:digits/float32 (from the local cache)\n")
        live.finished("convert:digits/float32", "up to date", counted=True)
        live.finished("convert:digits/int8", "built", counted=True)
        live.progress.refresh()
        assert "2/2" in screen.getvalue()
        assert "C  convert:digits/float32 (from the local cache)" in screen.getvalue()
        assert live.rows == {}
    finally:
        live.close()


def test_a_run_counts_the_conversions_its_selection_needs() -> None:
    def task(*deps: str, actions: bool = True, setup: tuple[str, ...] = ()) -> SimpleNamespace:
        return SimpleNamespace(task_dep=list(deps), setup_tasks=list(setup), actions=actions)

    tasks = {
        "convert": task("convert:m/a", "convert:m/b", "convert:n/a", actions=False),
        "convert:m/a": task(),
        "convert:m/b": task(setup=("train",)),
        "convert:n/a": task(),
        "train": task(),
        "report:m/a": task("convert:m/a"),
        "summary": task("report:m/a"),
    }
    assert variants_in(tasks, ["convert"]) == {"convert:m/a", "convert:m/b", "convert:n/a"}
    assert variants_in(tasks, ["summary"]) == {"convert:m/a"}
    assert variants_in(tasks, ["train"]) == set()
