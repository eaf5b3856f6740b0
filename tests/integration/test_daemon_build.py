"""Builds through the warm conversion service: real doit processes, a real service.

Each test's service lives in a private folder of its own (TFLITE_BUILD_DAEMON_DIR),
never the user's, and is stopped in the fixture's teardown: asked by the
client's ``stop``, then killed by its pid if it is still there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from converter.service import client
from converter.service.client import ServiceConfig
from converter.service.rendezvous import ServiceError
from converter.service.server import Status
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory

pytestmark = pytest.mark.tf

WAIT = 300.0  # generous bound for anything that starts TensorFlow on a busy machine
PYPROJECT = "[tool.tflite-build]\ndaemon_workers = 1\n"
MANIFEST = """
    source: {saved_model: export}
    variants:
      float32: {}
      dynamic: {quantize: dynamic}
    """
# A conversion that waits, once it runs, until the test says go. Its marker files
# lie outside the project, so the build never records them as inputs.
HELD = """
import pathlib
import time

MARKS = pathlib.Path({marks!r})


def held():
    import keras

    (MARKS / "held.here").write_text("")
    deadline = time.monotonic() + 240
    while not (MARKS / "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the test never said go")
        time.sleep(0.05)
    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))
"""


@dataclass
class Service:
    """A test's service folder, and every service pid seen there (for the teardown)."""

    directory: Path
    pids: set[int] = field(default_factory=set)

    @property
    def config(self) -> ServiceConfig:
        return ServiceConfig(directory=self.directory)

    def status(self) -> Status | None:
        found = client.status(self.config)
        if found is not None:
            self.pids.add(found.pid)
        return found

    def sockets(self) -> list[Path]:
        return sorted(self.directory.glob("*.sock"))


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """A private service folder with a short path; builds in this test use the service."""
    directory = Path(tempfile.mkdtemp(prefix="tfb-"))
    monkeypatch.setenv("TFLITE_BUILD_DAEMON_DIR", str(directory))
    monkeypatch.setenv("TFLITE_BUILD_DAEMON", "on")
    monkeypatch.delenv("CI", raising=False)
    found = Service(directory)
    try:
        yield found
    finally:
        with contextlib.suppress(ServiceError):
            found.status()
            client.stop(found.config)
        for pid in found.pids:
            if not client.process_gone(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(directory, ignore_errors=True)


# One model; a service these builds start keeps one warm worker (memory, on 2 cores).
ONE_MODEL: Files = {
    "pyproject.toml": PYPROJECT,
    "m/export": Tiny.saved_model,
    "m/model.yaml": MANIFEST,
}


def doit_process(root: Path, *args: str, **environ: str) -> subprocess.Popen[str]:
    """doit in its own process, with no cache: whatever it builds, it converts."""
    return subprocess.Popen(
        [sys.executable, "-m", "doit", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TFLITE_BUILD_CACHE": "off", **environ},
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=WAIT)
    return process.returncode, out, err


def doit(root: Path, *args: str, **environ: str) -> tuple[int, str, str]:
    return finish(doit_process(root, *args, **environ))


def artifacts(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "build/m").glob("*.tflite"))}


def test_two_builds_at_once_share_one_service_and_its_tasks_show_and_stop_it(
    service: Service, make_project: ProjectFactory
) -> None:
    one, two = make_project(ONE_MODEL, at="one"), make_project(ONE_MODEL, at="two")
    local = make_project(ONE_MODEL, at="local")
    both = [doit_process(one, "convert"), doit_process(two, "convert")]
    code, out, err = doit(local, "convert", TFLITE_BUILD_DAEMON="off")
    assert code == 0, out + err
    for process in both:
        code, out, err = finish(process)
        assert code == 0, out + err
        assert "warning" not in err, err  # no fallback: the service served them
    assert artifacts(one) == artifacts(two) == artifacts(local)
    assert set(artifacts(local)) == {"float32.tflite", "dynamic.tflite"}
    status = service.status()
    assert status is not None and len(service.sockets()) == 1
    assert status.conversions_served == 4  # two builds of two variants, all in the service

    code, out, err = doit(one, "daemon_status")
    assert (code, err) == (0, "")
    assert f"conversion service: pid {status.pid}, up " in out
    assert "served: 4 requests, 4 conversions" in out
    workers = [w for w in status.workers if w.pid is not None]
    assert workers and all(f"pid {w.pid}:" in out for w in workers)

    code, out, err = doit(one, "daemon_stop")
    assert (code, err) == (0, "")
    assert f"stopped the conversion service (pid {status.pid})" in out
    assert client.process_gone(status.pid) and service.status() is None
    code, out, _ = doit(one, "daemon_stop")
    assert code == 0 and "no conversion service was running" in out
    code, out, _ = doit(one, "daemon_status")
    assert code == 0 and "no conversion service runs for this environment" in out
    assert service.status() is None  # asking started nothing


def test_a_service_killed_mid_build_leaves_the_build_to_finish_locally(
    service: Service, make_project: ProjectFactory
) -> None:
    marks = Path(tempfile.mkdtemp(prefix="tfb-marks-"))
    try:
        root = make_project(
            {
                **ONE_MODEL,
                "m/model.yaml": "source: {python: held.py:held}\nvariants:\n  float32: {}\n",
                "m/held.py": HELD.format(marks=str(marks)),
            }
        )
        build = doit_process(root, "convert")
        deadline = time.monotonic() + WAIT
        while not (marks / "held.here").exists():
            assert build.poll() is None, finish(build)
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status = service.status()
        assert status is not None
        os.kill(status.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not client.process_gone(status.pid):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (marks / "go").write_text("")
        code, out, err = finish(build)
        assert code == 0, out + err
        (warning,) = [line for line in err.splitlines() if "warning" in line]
        assert warning.startswith("warning: the conversion service went away during a request")
        assert warning.endswith("; converting in this process instead")
        assert (root / "build/m/float32.tflite").stat().st_size > 0
    finally:
        (marks / "go").write_text("")
        shutil.rmtree(marks, ignore_errors=True)


def test_auto_is_off_under_ci_and_no_service_starts(
    service: Service, make_project: ProjectFactory
) -> None:
    root = make_project(
        {**ONE_MODEL, "m/model.yaml": "source: {saved_model: export}\nvariants: {f: {}}\n"}
    )
    code, out, err = doit(root, "convert", TFLITE_BUILD_DAEMON="auto", CI="1")
    assert code == 0, out + err
    assert (root / "build/m/f.tflite").stat().st_size > 0
    assert service.sockets() == [] and service.status() is None


TORCH = """
import torch


def make():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), (torch.zeros(1, 4, 4),)
"""


def test_a_toolchains_sources_convert_in_the_services_pool_of_that_toolchain(
    service: Service, make_project: ProjectFactory
) -> None:
    from converter.toolchains import defaults, environments

    environments.ensure(defaults.PYTORCH)
    root = make_project(
        {
            "pyproject.toml": PYPROJECT,
            "t/net.py": TORCH,
            "t/model.yaml": """
            source: {pytorch: net.py:make}
            variants: {float32: {}, dynamic: {quantize: dynamic}}
            """,
        }
    )
    code, out, err = doit(root, "convert")
    assert code == 0, out + err
    assert "warning" not in err, err  # the service served them
    status = service.status()
    assert status is not None
    (torch_worker,) = [w for w in status.workers if w.kind == "pytorch"]
    assert torch_worker.conversions_served == 2
    shutil.rmtree(root / "build")
    code, out, err = doit(root, "convert")  # the warm worker again: torch is imported already
    assert code == 0 and "warning" not in err, out + err
    status = service.status()
    assert status is not None
    (again,) = [w for w in status.workers if w.kind == "pytorch"]
    assert (again.pid, again.conversions_served) == (torch_worker.pid, 4)
