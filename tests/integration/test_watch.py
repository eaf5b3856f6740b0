"""``doit watch`` for real: a watcher process rebuilds what each edit changed, and stops on Ctrl-C.

One watcher serves the whole scenario (its worker imports TensorFlow once):
a manifest edit, an edit of a module an entry point imports (a discovered
input), and a touch that changes no byte. Every wait polls with a deadline.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.doit_runs import doit, edit
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory

pytestmark = pytest.mark.tf

ENTRY = """
from helper import UNITS


def make():
    import keras

    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, keras.layers.Dense(UNITS)(inputs))
"""
DEADLINE = 240.0  # seconds: generous, for a shared machine; a pass takes far less


# A SavedModel and a Python entry point whose width comes from a helper module.
WATCHED: Files = {
    "sm/export": Tiny.saved_model,
    "sm/model.yaml": "source: {saved_model: export}\nvariants:\n  float32: {}\n",
    "py/model.yaml": "source: {python: entries.py:make}\nvariants: {float32: {}}\n",
    "py/entries.py": ENTRY,
    "py/helper.py": "UNITS = 2\n",
}


@dataclass
class Watch:
    """A ``doit watch`` process on the project at ``root``, and everything it printed so far."""

    root: Path
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self.lines.append(text.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, after: int = 0) -> re.Match[str]:
        """The first line from index ``after`` on that matches ``pattern``."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found[:] = [m for m in map(re.compile(pattern).search, self.lines[after:]) if m]
            return bool(found) or self.process.poll() is not None

        poll(seen, f"a line matching {pattern!r}")
        assert found, f"watch ended before {pattern!r}:\n{self.output()}"
        return found[0]


def poll(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def watch(make_project: ProjectFactory, tmp_path: Path) -> Iterator[Watch]:
    project = make_project(WATCHED)
    env = {
        **os.environ,
        "TFLITE_BUILD_DAEMON": "off",
        "TFLITE_BUILD_CACHE": str(tmp_path / "watch-cache"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "doit", "watch"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = Watch(project, process)
    reader = threading.Thread(target=started.read, daemon=True)
    reader.start()
    workers: set[int] = set()
    try:
        yield started
    finally:
        if process.poll() is None:  # the test failed before its Ctrl-C: stop what we started
            workers = children(process.pid)
            process.kill()
            process.wait(timeout=30)
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        reader.join(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_watch_rebuilds_what_each_edit_changed(watch: Watch) -> None:
    project = watch.root
    first = doit(project, "convert")  # records what py's entry point imports
    assert first.code == 0, first.output
    sm, py = project / "build/sm/float32.tflite", project / "build/py/float32.tflite"
    sm_before, py_before = sm.read_bytes(), py.read_bytes()

    watch.wait_for(r"^watch: watching 2 manifests .*\(Ctrl-C to stop\)")
    # An edited manifest: its variant is converted again, with the new options.
    mark = len(watch.lines)
    edit(project / "sm/model.yaml", "float32: {}", "float32: {quantize: dynamic}")
    rebuilt = watch.wait_for(
        r"^watch: sm/float32 rebuilt in (\d+\.\d\d) s \(sm/model.yaml changed\)$", mark
    )
    assert float(rebuilt.group(1)) > 0
    assert sm.read_bytes() != sm_before

    # An edited module that the entry point imports: a discovered input.
    mark = len(watch.lines)
    edit(project / "py/helper.py", "UNITS = 2", "UNITS = 3")
    watch.wait_for(r"^watch: py/float32 rebuilt in \d+\.\d\d s \(py/helper.py changed\)$", mark)
    assert py.read_bytes() != py_before

    # Touched, not changed: doit's up-to-date check says so and nothing is converted.
    mark = len(watch.lines)
    stamp = py.stat().st_mtime_ns
    later = time.time() + 5
    os.utime(project / "py/helper.py", (later, later))
    watch.wait_for(r"^watch: py/float32 up to date, nothing rebuilt \(py/helper.py saved\)$", mark)
    assert py.stat().st_mtime_ns == stamp
    assert not any("rebuilt in" in line for line in watch.lines[mark:]), watch.output()

    # Ctrl-C: a clean stop, exit code 0, no traceback, no process left behind.
    workers = children(watch.process.pid)
    assert workers, "the rebuilds ran in a worker process of the watcher's own"
    watch.process.send_signal(signal.SIGINT)
    assert watch.process.wait(timeout=DEADLINE) == 0, watch.output()
    poll(lambda: not any(alive(pid) for pid in workers), "the conversion worker to exit")
    poll(lambda: "watch: stopped" in watch.lines, "the last line")
    assert "Traceback" not in watch.output()
