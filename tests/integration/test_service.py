"""The warm conversion service, as a real process: sharing, faults, identity, safety, idle exit, bytes.

Every service here lives in a private folder of the test's own (never the
user's), is started by the test or by a client the test runs, and is stopped
in teardown, by its pid when asking it does not work.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import converter
from converter.protocol import Request
from converter.service import client, rendezvous
from converter.service.client import ServiceConfig
from converter.service.rendezvous import Place, ServiceError
from converter.service.server import Status
from converter.spec import Options
from tests.support import REPO
from tests.support.models import Models
from tests.support.project import write_files

WAIT = 300.0  # generous bound for anything that starts TensorFlow on a busy machine


@dataclass
class Running:
    """A service process this test started (its child) and how clients reach it."""

    config: ServiceConfig
    proc: subprocess.Popen[bytes]

    @property
    def place(self) -> Place:
        return self.config.place()

    def status(self) -> Status:
        found = client.status(self.config)
        assert isinstance(found, Status)
        return found


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


def start_service(directory: Path, *args: str, identity: str | None = None) -> Running:
    """Start ``python -m converter.service.server`` as our child and wait until it listens."""
    config = ServiceConfig(directory=directory, identity=identity)
    place = config.place()
    command = [sys.executable, "-m", "converter.service.server", "--dir", str(directory), *args]
    if identity is not None:
        command += ["--identity", identity]
    with open(directory / "test-service.log", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=log, env=_env())
    deadline = time.monotonic() + WAIT
    while rendezvous.connect(place.socket) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"the service did not start: {(directory / 'test-service.log').read_text()}"
            )
        time.sleep(0.05)
    return Running(config, proc)


def end_service(running: Running) -> None:
    """Stop a service we started: ask it, then make sure (by its pid)."""
    if running.proc.poll() is None:
        with contextlib.suppress(ServiceError):
            client.stop(running.config)
    try:
        running.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        running.proc.kill()
        running.proc.wait()


def end_detached(config: ServiceConfig, pid: int | None) -> None:
    """Stop a service a client started (not our child): ask it, else kill its pid."""
    with contextlib.suppress(ServiceError):
        client.stop(config)
    if pid is not None and not client.process_gone(pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def shared() -> Iterator[Running]:
    """One service with two warm workers, shared by the tests that allow it."""
    directory = Path(tempfile.mkdtemp(prefix="tfb-"))  # short: a socket path holds 107 bytes
    running = start_service(directory, "--workers", "2", "--idle-timeout", "900")
    try:
        yield running
    finally:
        end_service(running)
        shutil.rmtree(directory, ignore_errors=True)


# --- the process: status, stop, idle exit (no TensorFlow: workers start on first use) -------


def test_status_then_stop(folder: Path) -> None:
    running = start_service(folder, "--no-warm", "--workers", "3")
    try:
        status = running.status()
        assert status.pid == running.proc.pid
        assert status.identity == rendezvous.identity()
        assert (status.requests_served, status.conversions_served, status.workers) == (0, 0, ())
        assert status.memory_mb >= status.rss_mb > 0
        assert client.stop(running.config) == running.proc.pid
        assert running.proc.wait(timeout=60) == 0
        assert not running.place.socket.exists()
        assert client.status(running.config) is None
        assert client.stop(running.config) is None
    finally:
        end_service(running)


def test_a_client_whose_service_went_away_while_idle_starts_another(folder: Path) -> None:
    config = ServiceConfig(directory=folder, warm=False, idle_timeout=600)
    service = client.ServiceClient(config)
    pids = []
    try:
        service.connect()
        first = client.status(config)
        assert first is not None
        pids.append(first.pid)
        assert client.stop(config) == first.pid  # closes the client's idle connection
        service.connect()  # no request was lost: find or start another, no warning
        second = client.status(config)
        assert second is not None
        pids.append(second.pid)
        assert second.pid != first.pid and service.processes_started == 2
    finally:
        service.close()
        for pid in pids:
            end_detached(config, pid)


def test_the_service_exits_when_idle(folder: Path) -> None:
    running = start_service(folder, "--no-warm", "--idle-timeout", "1")
    try:
        assert running.proc.wait(timeout=120) == 0
        assert not running.place.socket.exists()
        assert "no request for 1 s: exiting" in (folder / "test-service.log").read_text()
    finally:
        end_service(running)


# --- conversions through the service ---------------------------------------------------------

BARRIER = '''
"""Two entry points that return only once both run: the service must serve them at once."""
import pathlib
import time

HERE = pathlib.Path(__file__).parent


def _meet(me, other):
    (HERE / f"{me}.here").write_text("")
    deadline = time.monotonic() + 240
    while not (HERE / f"{other}.here").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{other} never ran alongside {me}")
        time.sleep(0.05)


def _model(units):
    import keras

    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, keras.layers.Dense(units)(inputs))


def first():
    _meet("first", "second")
    return _model(2)


def second():
    _meet("second", "first")
    return _model(3)


def held():
    """Waits for the test to say go (it kills the service meanwhile)."""
    (HERE / "held.here").write_text("")
    while not (HERE / "go").exists():
        time.sleep(0.05)
    return _model(2)
'''

CLIENT = """
import json, sys
from pathlib import Path

import converter
from converter.service import client
from converter.service.client import ServiceConfig

directory, workers, entry, base, output = sys.argv[1:]
config = ServiceConfig(directory=Path(directory), workers=int(workers) or None, idle_timeout=600)
with converter.Engine(daemon=config, timeout=300, warn=lambda m: print("WARNING", m)) as engine:
    result = engine.convert(converter.PythonSource(entry, Path(base)), None, output)
    print(json.dumps({
        "sha256": result.sha256,
        "processes_started": engine.processes_started,
        "conversions": engine.conversions_served,
        "service": client.status(config).pid,
    }))
"""


def _clients_at_once(
    config: ServiceConfig, jobs: list[tuple[str, Path, Path]]
) -> list[dict[str, Any]]:
    """Run one client process per job, all at once; each one's report."""
    assert config.directory is not None
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CLIENT,
                str(config.directory),
                str(config.workers or 0),
                entry,
                str(base),
                str(out),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for entry, base, out in jobs
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=WAIT * 2)
        assert proc.returncode == 0, err
        assert "WARNING" not in out
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


@pytest.mark.tf
def test_two_clients_convert_at_once_through_one_service(shared: Running, tmp_path: Path) -> None:
    project = write_files(tmp_path / "project", {"barrier.py": BARRIER})
    before = shared.status().conversions_served
    reports = _clients_at_once(
        shared.config,
        [
            ("barrier.py:first", project, tmp_path / "first.tflite"),
            ("barrier.py:second", project, tmp_path / "second.tflite"),
        ],
    )
    # Each entry waits for the other: they finished, so two workers ran them side by side.
    assert [(r["processes_started"], r["conversions"], r["service"]) for r in reports] == [
        (0, 1, shared.proc.pid)
    ] * 2
    assert shared.status().conversions_served == before + 2
    assert (tmp_path / "first.tflite").is_file() and (tmp_path / "second.tflite").is_file()


def _busiest(status: Status) -> dict[int | None, int]:
    return {w.pid: w.requests_served for w in status.workers}


@pytest.mark.tf
def test_a_worker_crash_fails_that_request_and_the_next_succeeds(
    shared: Running, models: Models, tmp_path: Path
) -> None:
    before = shared.status()
    with converter.Engine(daemon=shared.config, timeout=300) as engine:
        with pytest.raises(converter.WorkerError) as info:
            engine.convert(
                converter.PythonSource("entries.py:crash", models.root), None, tmp_path / "c.tflite"
            )
        assert "died from signal SIGABRT" in str(info.value)
        assert list(tmp_path.iterdir()) == []  # no artifact, no temporary file
        ok = engine.convert(
            converter.SavedModelSource(models.saved_model), None, tmp_path / "ok.tflite"
        )
        assert ok.path.is_file()
        assert engine.processes_started == 0  # nothing ran in this process
    assert shared.status().pid == before.pid  # the service survived
    started = sum(w.processes_started for w in before.workers)
    deadline = time.monotonic() + WAIT
    while sum(w.processes_started for w in shared.status().workers) != started + 1:
        assert time.monotonic() < deadline, "the crashed worker was not replaced"
        time.sleep(0.1)
    assert all(w.pid is not None for w in shared.status().workers)


@pytest.mark.tf
def test_the_request_timeout_applies_in_the_service(
    shared: Running, models: Models, tmp_path: Path
) -> None:
    sleepy = converter.PythonSource("entries.py:sleepy", models.root)
    with (
        converter.Engine(daemon=shared.config, timeout=2) as engine,
        pytest.raises(converter.WorkerError, match="longer than the 2 s timeout"),
    ):
        engine.convert(sleepy, None, tmp_path / "s.tflite")
    with converter.Engine(daemon=shared.config, timeout=300) as engine:
        ok = engine.convert(converter.SavedModelSource(models.saved_model), None, tmp_path / "a")
        assert ok.size > 0


@pytest.mark.tf
def test_a_service_killed_mid_build_leaves_the_build_to_a_local_worker(
    folder: Path, models: Models, tmp_path: Path
) -> None:
    running = start_service(folder, "--workers", "1")
    project = write_files(tmp_path / "project", {"barrier.py": BARRIER})
    warnings: list[str] = []
    results: list[converter.Result] = []
    with converter.Engine(daemon=running.config, timeout=300, warn=warnings.append) as engine:
        try:
            build = threading.Thread(
                target=lambda: results.append(
                    engine.convert(
                        converter.PythonSource("barrier.py:held", project),
                        None,
                        tmp_path / "held.tflite",
                    )
                )
            )
            build.start()
            deadline = time.monotonic() + WAIT
            while not (project / "held.here").exists():
                assert time.monotonic() < deadline and build.is_alive()
                time.sleep(0.05)
            workers = [w.pid for w in running.status().workers if w.pid is not None]
            os.kill(running.proc.pid, signal.SIGKILL)
            running.proc.wait()
            (project / "go").write_text("")
            build.join(timeout=WAIT)
            assert [r.path for r in results] == [tmp_path / "held.tflite"]
            assert len(warnings) == 1
            assert warnings[0].startswith("the conversion service went away during a request")
            assert warnings[0].endswith("; converting in this process instead")
            # The build goes on locally, without another warning.
            engine.convert(
                converter.SavedModelSource(models.saved_model), None, tmp_path / "next.tflite"
            )
            assert (len(warnings), engine.processes_started) == (1, 1)
            deadline = time.monotonic() + 60
            while not all(client.process_gone(pid) for pid in workers):  # died with the service
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            (project / "go").write_text("")
            end_service(running)


@pytest.mark.tf
def test_a_stale_service_is_not_reused_and_two_starting_clients_make_one_service(
    folder: Path, models: Models, tmp_path: Path
) -> None:
    stale = start_service(folder, "--no-warm", identity="0" * 24)
    config = ServiceConfig(directory=folder, workers=1, idle_timeout=600)
    pids: list[int] = []
    try:
        reports = _clients_at_once(
            config,
            [
                ("entries.py:keras_model", models.root, tmp_path / "a.tflite"),
                ("entries.py:keras_model", models.root, tmp_path / "b.tflite"),
            ],
        )
        pids = sorted({r["service"] for r in reports})
        assert stale.proc.wait(timeout=120) == 0  # asked to stop, it did
        assert not stale.place.socket.exists()
        assert len(pids) == 1 and pids[0] != stale.proc.pid  # one new service for both
        assert sum(r["processes_started"] for r in reports) == 1  # started by one of them
        current = client.status(config)
        assert current is not None and current.identity == rendezvous.identity()
    finally:
        end_service(stale)
        end_detached(config, pids[0] if pids else None)


@pytest.mark.tf
def test_a_worker_retires_after_its_quota_of_requests(models: Models, tmp_path: Path) -> None:
    """TensorFlow leaks on every conversion: a service's worker process is replaced in time."""
    from converter.execution.worker import Worker

    source = converter.SavedModelSource(models.saved_model)
    worker = Worker(recycle_after=2)
    try:
        pids = []
        for i in range(3):
            request = Request(source, Options(), tmp_path / f"{i}.tflite")
            worker.convert(request, tmp_path / f"{i}.log")
            pids.append(worker.pid)
        assert pids[0] is not None and pids[1] is None  # retired after its second request
        assert pids[2] not in (None, pids[0]) and worker.processes_started == 2
        assert (worker.requests_served, worker.conversions_served) == (3, 3)
    finally:
        worker.close()


# --- no state leaks: the bytes of a warm service equal those of a fresh worker ---------------


def _sequence(models: Models) -> list[tuple[converter.Source, converter.Options]]:
    """What the conversion matrix's warm-service test (test_conversion_matrix) does not
    cover: integer I/O types, legacy Keras, a Python calibration generator."""
    rep = converter.Representative(data=models.calibration, samples=10)
    generated = converter.Representative(python="entries.py:calibration", base_dir=models.root)
    return [
        (
            converter.SavedModelSource(models.saved_model),
            converter.Options(
                quantize="int8", representative=rep, input_type="int8", output_type="int8"
            ),
        ),
        (converter.KerasSource(models.legacy_h5, legacy=True), converter.Options()),
        (converter.KerasSource(models.h5), converter.Options(quantize="dynamic")),
        (
            converter.PythonSource("entries.py:keras_model", models.root),
            converter.Options(quantize="int8", float_fallback=True, representative=generated),
        ),
    ]


@pytest.mark.tf
def test_the_service_gives_the_bytes_of_a_fresh_worker(
    shared: Running, models: Models, engine: converter.Engine, tmp_path: Path
) -> None:
    """The service converts the sequence in order, the local worker in reverse: state must not matter.

    The two run side by side (each is its own process); a reference run closes each sequence.
    """
    sequence = _sequence(models)
    saved = converter.SavedModelSource(models.saved_model)

    def through_service() -> tuple[list[str], Any]:
        with converter.Engine(daemon=shared.config, timeout=300) as warm:
            served = [
                warm.convert(source, options, tmp_path / f"service-{i}.tflite").sha256
                for i, (source, options) in enumerate(sequence)
            ]
            assert warm.processes_started == 0
            return served, warm.run_reference(saved, {"img": models.samples})

    def locally() -> tuple[list[str], Any]:
        done = {
            i: engine.convert(source, options, tmp_path / f"local-{i}.tflite").sha256
            for i, (source, options) in reversed(list(enumerate(sequence)))
        }
        return [done[i] for i in range(len(sequence))], engine.run_reference(
            saved, {"img": models.samples}
        )

    with ThreadPoolExecutor(max_workers=2) as both:
        service_run, local_run = both.submit(through_service), both.submit(locally)
        (served, (reference, outcome)), (local, (expected, local_outcome)) = (
            service_run.result(),
            local_run.result(),
        )
    assert served == local
    assert len(set(served)) == len(served)  # every step made a different model
    assert (outcome.inputs, outcome.outputs) == (local_outcome.inputs, local_outcome.outputs)
    assert list(reference) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(reference[name], expected[name])


PROJECT_BUILD = """
import keras

from helpers import UNITS


@keras.saving.register_keras_serializable(package="demo")
class Scale(keras.layers.Layer):
    def call(self, x):
        return x * 2.0


def make():
    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, Scale()(keras.layers.Dense(UNITS)(inputs)))
"""


@pytest.mark.tf
def test_two_projects_with_a_module_of_the_same_name(
    shared: Running, engine: converter.Engine, tmp_path: Path
) -> None:
    """Project A's helpers.py, and the Keras class it registered, must not leak into project B."""
    import keras

    a = write_files(tmp_path / "a", {"build.py": PROJECT_BUILD, "helpers.py": "UNITS = 3\n"})
    b = write_files(tmp_path / "b", {"build.py": PROJECT_BUILD, "helpers.py": "UNITS = 5\n"})
    # B also has a .keras file that needs A's registered class: a fresh process cannot load it.
    spec = importlib.util.spec_from_file_location("a_build_for_saving", a / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(a))
    try:
        spec.loader.exec_module(module)
        module.make().save(b / "model.keras")
    finally:
        sys.path.remove(str(a))
        sys.modules.pop("helpers", None)
        keras.saving.get_custom_objects().pop("demo>Scale", None)
    fresh = engine.convert(converter.PythonSource("build.py:make", b), None, tmp_path / "f.tflite")
    with pytest.raises(converter.SourceError) as local_error:
        engine.convert(converter.KerasSource(b / "model.keras"), None, tmp_path / "fk.tflite")
    assert "Keras cannot find the class 'demo>Scale'" in str(local_error.value)
    before = _busiest(shared.status())
    with converter.Engine(daemon=shared.config, timeout=300) as warm:
        from_a = warm.convert(
            converter.PythonSource("build.py:make", a), None, tmp_path / "a.tflite"
        )
        from_b = warm.convert(
            converter.PythonSource("build.py:make", b), None, tmp_path / "b.tflite"
        )
        assert from_b.sha256 == fresh.sha256 != from_a.sha256
        with pytest.raises(converter.SourceError) as served_error:
            warm.convert(converter.KerasSource(b / "model.keras"), None, tmp_path / "bk.tflite")
        assert str(served_error.value) == str(local_error.value)
    after = _busiest(shared.status())
    served = sorted(after[pid] - before.get(pid, 0) for pid in after)
    assert served[-1] == 3  # one warm worker served all three, one after the other


def test_daemon_stop_also_stops_an_older_service_of_this_environment(folder: Path) -> None:
    """After an upgrade (or an edit of the package), the old service is what a user wants gone."""
    from rules.actions.daemon import daemon_stop
    from rules.project.settings import Settings

    stale = start_service(folder, "--no-warm", identity="0" * 24)  # no TensorFlow: no worker yet
    try:
        settings = Settings(daemon_dir=str(folder))
        assert daemon_stop(settings) is None
        assert stale.proc.wait(timeout=60) == 0
        assert not stale.place.socket.exists()
    finally:
        end_service(stale)
