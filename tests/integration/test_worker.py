"""The persistent worker: faults stay inside one request, and the caller never imports TF."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import converter
from tests.support import REPO
from tests.support.models import Models

pytestmark = pytest.mark.tf


def test_importing_converter_and_failing_fast_never_imports_tensorflow(tmp_path: Path) -> None:
    script = (
        "import sys, converter\n"
        "from pathlib import Path\n"
        "try:\n"
        "    converter.convert(converter.SavedModelSource(Path('missing')), None, 'x.tflite')\n"
        "except converter.SourceError as e:\n"
        "    print('error:', e)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["error: missing: no such file or directory", "False False"]


def test_one_worker_serves_many_requests(
    models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    worker = engine.worker()
    source = converter.SavedModelSource(models.saved_model)
    engine.convert(source, None, tmp_path / "warm.tflite")
    started, pid = worker.processes_started, worker.pid
    for i in range(3):
        engine.convert(source, converter.Options(quantize="dynamic"), tmp_path / f"{i}.tflite")
    assert (worker.processes_started, worker.pid) == (started, pid)


@pytest.fixture(scope="module")
def faulty() -> Iterator[converter.Engine]:
    """An engine for the fault tests: each starts from its live worker, makes one request
    fail, and sees the next served by a new process. Its memory ceiling is low enough for
    the hungry entry (TensorFlow alone takes ~0.6 GB; the entry allocates 2.5 GB more)."""
    with converter.Engine(memory_limit_mb=2000) as engine:
        yield engine


def _live_worker(engine: converter.Engine) -> tuple[int, int]:
    """The engine's worker, started if need be: (processes started so far, its pid)."""
    worker = engine.worker()
    worker.start()
    assert worker.pid is not None
    return engine.processes_started, worker.pid


def _then_a_new_process(
    engine: converter.Engine, models: Models, tmp_path: Path, before: tuple[int, int]
) -> None:
    """The next request succeeds, in one new worker process."""
    ok = engine.convert(
        converter.SavedModelSource(models.saved_model), None, tmp_path / "ok.tflite"
    )
    assert ok.path.is_file() and ok.size > 0
    started, pid = before
    assert engine.processes_started == started + 1 and engine.worker().pid != pid


def test_crash_inside_the_worker_fails_only_that_request(
    faulty: converter.Engine, models: Models, tmp_path: Path
) -> None:
    before = _live_worker(faulty)
    with pytest.raises(converter.WorkerError) as info:
        faulty.convert(
            converter.PythonSource("entries.py:crash", models.root), None, tmp_path / "c.tflite"
        )
    assert "died from signal SIGABRT" in str(info.value)
    assert not (tmp_path / "c.tflite").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either
    _then_a_new_process(faulty, models, tmp_path, before)


@contextlib.contextmanager
def _timeout(engine: converter.Engine, seconds: float) -> Iterator[None]:
    """The engine's worker with a request timeout of ``seconds`` (as the service sets its
    workers' for each request)."""
    worker = engine.worker()
    kept, worker.timeout = worker.timeout, seconds
    try:
        yield
    finally:
        worker.timeout = kept


def test_timeout_recycles_the_worker(
    faulty: converter.Engine, models: Models, tmp_path: Path
) -> None:
    before = _live_worker(faulty)
    # The clock starts once a worker has started (TensorFlow imported): the sleepy entry
    # sleeps a minute.
    with (
        _timeout(faulty, 3),
        pytest.raises(converter.WorkerError, match="longer than the 3 s timeout"),
    ):
        faulty.convert(
            converter.PythonSource("entries.py:sleepy", models.root), None, tmp_path / "s.tflite"
        )
    _then_a_new_process(faulty, models, tmp_path, before)


def test_memory_ceiling_stops_a_runaway_conversion(
    faulty: converter.Engine, models: Models, tmp_path: Path
) -> None:
    before = _live_worker(faulty)
    with pytest.raises(converter.WorkerError, match="memory ceiling"):
        faulty.convert(
            converter.PythonSource("entries.py:hungry", models.root), None, tmp_path / "h.tflite"
        )
    _then_a_new_process(faulty, models, tmp_path, before)


def test_tensorflow_noise_goes_to_the_log_not_the_terminal(models: Models, tmp_path: Path) -> None:
    script = (
        "import converter\n"
        "from pathlib import Path\n"
        f"r = converter.convert(converter.KerasSource(Path({str(models.keras)!r})), None, 'k.tflite')\n"
        "print('LOG-HAS-SAVED-ARTIFACT' if 'Saved artifact at' in r.log else 'LOG-MISSING')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert run.stdout.strip() == "LOG-HAS-SAVED-ARTIFACT"
    assert "Saved artifact" not in run.stderr and "cuInit" not in run.stderr
