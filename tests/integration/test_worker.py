"""The persistent worker: faults stay inside one request, and the caller never imports TF."""

from __future__ import annotations

import subprocess
import sys
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


def test_crash_inside_the_worker_fails_only_that_request(models: Models, tmp_path: Path) -> None:
    with converter.Engine() as engine:
        with pytest.raises(converter.WorkerError) as info:
            engine.convert(
                converter.PythonSource("entries.py:crash", models.root), None, tmp_path / "c.tflite"
            )
        assert "died from signal SIGABRT" in str(info.value)
        assert not (tmp_path / "c.tflite").exists()
        assert list(tmp_path.iterdir()) == []  # no temporary file left either
        ok = engine.convert(
            converter.SavedModelSource(models.saved_model), None, tmp_path / "ok.tflite"
        )
        assert ok.path.is_file()
        assert engine.processes_started == 2


def test_timeout_recycles_the_worker(models: Models, tmp_path: Path) -> None:
    # The clock starts once the worker has started (TensorFlow imported): the tiny model's
    # conversions take a third of a second, the sleepy entry a minute.
    with converter.Engine(timeout=3) as engine:
        engine.convert(converter.SavedModelSource(models.saved_model), None, tmp_path / "a.tflite")
        with pytest.raises(converter.WorkerError, match="longer than the 3 s timeout"):
            engine.convert(
                converter.PythonSource("entries.py:sleepy", models.root),
                None,
                tmp_path / "s.tflite",
            )
        engine.convert(converter.SavedModelSource(models.saved_model), None, tmp_path / "b.tflite")
        assert engine.processes_started == 2


def test_memory_ceiling_stops_a_runaway_conversion(models: Models, tmp_path: Path) -> None:
    # TF alone takes ~0.6 GB; the entry point allocates 2.5 GB more.
    with converter.Engine(memory_limit_mb=2000) as engine:
        with pytest.raises(converter.WorkerError, match="memory ceiling"):
            engine.convert(
                converter.PythonSource("entries.py:hungry", models.root),
                None,
                tmp_path / "h.tflite",
            )
        ok = engine.convert(
            converter.SavedModelSource(models.saved_model), None, tmp_path / "ok.tflite"
        )
        assert ok.size > 0


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
