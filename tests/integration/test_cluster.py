"""Builds on a real Dask cluster on loopback: a scheduler and two workers, nginx as the shared cache.

Each worker runs in an empty folder of its own and sees the project only
through the cache. The build runs in a subprocess, as a user's would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rules.execute import dask
from tests.support.doit_runs import doit
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory
from tests.support.servers import DaskCluster, dask_cluster, free_port, nginx_webdav

pytestmark = pytest.mark.tf

MANIFEST = """\
source: {python: build.py:make}
defaults:
  representative: {data: calib.npz}
variants:
  float32: {representative: null}
  int8: {quantize: int8}
  f16: {quantize: float16, representative: null}
"""
# An entry that imports a helper of its folder, loads the model file next to it, and
# can be told to take its time (the kill test needs a conversion to be running).
BUILD = """\
import time
from pathlib import Path

from helper import load


def make():
    slow = Path(__file__).with_name("slow")
    if slow.exists():
        time.sleep(float(slow.read_text()))
    return load()
"""
HELPER = """\
from pathlib import Path

import keras


def load():
    return keras.models.load_model(Path(__file__).with_name("model.keras"))
"""


# A Python entry that imports a helper of its folder and loads the model file next to it.
ENTRY_PROJECT: Files = {
    "m/model.yaml": MANIFEST,
    "m/build.py": BUILD,
    "m/helper.py": HELPER,
    "m/model.keras": Tiny.keras,
    "m/calib.npz": Tiny.calibration,
}


def _doit(
    root: Path, cache: str, executor: str | None, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TFLITE_BUILD_CACHE": cache,
        "TFLITE_BUILD_LOCAL_CACHE": str(root / ".local-cache"),
        "TFLITE_BUILD_DAEMON": "off",
    }
    env.pop("TFLITE_BUILD_EXECUTOR", None)
    if executor is not None:
        env["TFLITE_BUILD_EXECUTOR"] = executor
    return subprocess.run(
        [sys.executable, "-m", "doit", *(args or ("convert",))],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _artifacts(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "build/m").glob("*.tflite"))}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaskCluster, Path]]:
    """Two workers whose Python opens under the test's projects folder are logged."""
    base = tmp_path_factory.mktemp("cluster")
    projects = base / "projects"
    projects.mkdir()
    watch = {"TFLITE_TEST_WATCH": str(base), "TFLITE_TEST_WATCH_LOG": str(base / "opened.log")}
    with dask_cluster(base / "dask", env=watch) as running:
        yield running, projects


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[str]:
    with nginx_webdav(tmp_path / "nginx") as (url, _):
        yield url


def test_a_build_through_the_cluster_equals_a_local_one(
    cluster: tuple[DaskCluster, Path], shared: str, make_project: ProjectFactory, tmp_path: Path
) -> None:
    running, projects = cluster
    opened = projects.parent / "opened.log"
    local = make_project(ENTRY_PROJECT, at="local")
    assert doit(local, "convert").code == 0  # in this process: its warm worker converts
    project = make_project(ENTRY_PROJECT, at=projects / "p1")
    run = _doit(project, shared, running.url)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 built (3 on the cluster), 0 from cache" in run.stdout, run.stdout
    assert run.stderr.count("converted on the cluster by tcp://127.0.0.1:") == 3
    assert run.stderr.count(": queued on dask://") == 3  # progress: queued, running, finished
    assert run.stderr.count(": running on tcp://127.0.0.1:") == 3
    assert _artifacts(project) == _artifacts(local) and len(_artifacts(project)) == 3
    # The workers opened nothing under the project, only their own copies from the cache.
    paths = opened.read_text().splitlines()
    assert not [p for p in paths if p.startswith(str(project))]
    own = [p for p in paths if p.endswith("/m/helper.py")]
    assert own and all(p.startswith(tuple(map(str, running.folders))) for p in own), own
    leftovers = [p for folder in running.folders for p in folder.rglob("m/helper.py")]
    assert leftovers == []

    again = _doit(project, shared, running.url)
    assert "0 built, 0 from cache, 3 up to date" in again.stdout and "queued" not in again.stderr
    clone = projects / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns("build", ".local-cache"))
    fresh = _doit(clone, shared, running.url)
    assert "0 built, 3 from cache (3 remote)" in fresh.stdout, fresh.stdout + fresh.stderr
    assert "queued" not in fresh.stderr and _artifacts(clone) == _artifacts(project)


def test_a_worker_killed_mid_conversion_and_the_build_still_succeeds(
    cluster: tuple[DaskCluster, Path], shared: str, make_project: ProjectFactory
) -> None:
    from distributed import Client

    running, projects = cluster
    project = make_project(ENTRY_PROJECT, at=projects / "p2")
    (project / "m/slow").write_text("3")  # the entry sleeps 3 s: a conversion to interrupt
    killed: list[int] = []

    def kill_the_busy_worker() -> None:
        with Client(running.address, timeout=30, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                busy = [addr for addr, keys in client.processing().items() if keys]
                if busy:
                    pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                    time.sleep(1.0)  # well inside the conversion (the entry sleeps 3 s)
                    os.kill(pid, 9)
                    killed.append(pid)
                time.sleep(0.1)

    killer = threading.Thread(target=kill_the_busy_worker)
    killer.start()
    try:
        run = _doit(project, shared, running.url, "convert:m/float32")
    finally:
        killer.join()
    assert killed, "no worker was busy"
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 built (1 on the cluster)" in run.stdout


def test_a_scheduler_that_is_down_leaves_the_build_to_convert_locally(
    shared: str, make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process, its warm worker converting, and with a short wait for the scheduler:
    nothing listens on the port, so waiting the default 10 s would show nothing more."""
    project = make_project(ENTRY_PROJECT, at="p")
    monkeypatch.setattr(dask, "CONNECT_TIMEOUT", 1.0)
    monkeypatch.setenv("TFLITE_BUILD_CACHE", shared)
    monkeypatch.setenv("TFLITE_BUILD_LOCAL_CACHE", str(project / ".local-cache"))
    monkeypatch.setenv("TFLITE_BUILD_EXECUTOR", f"dask://127.0.0.1:{free_port()}")
    run = doit(project, "convert:m/f16")
    assert run.code == 0, run.output
    assert "1 built, 0 from cache" in run.output and "on the cluster" not in run.output
    assert run.output.count("cannot be reached") == 1, run.output
    assert run.conversions == 1


def test_the_cluster_needs_a_remote_cache(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project(ENTRY_PROJECT, at="p")
    run = _doit(
        project, str(tmp_path / "cache"), f"dask://127.0.0.1:{free_port()}", "convert:m/f16"
    )
    assert run.returncode != 0
    assert "needs a remote cache" in run.stdout + run.stderr


def test_a_worker_of_another_version_refuses_with_both_versions(
    shared: str, make_project: ProjectFactory, tmp_path: Path
) -> None:
    claimed = {"TFLITE_TEST_CLAIM_VERSION": "0.0.1"}
    with dask_cluster(tmp_path / "dask", workers=1, env=claimed) as other:
        project = make_project(ENTRY_PROJECT, at="p")
        run = _doit(project, shared, other.url, "convert:m/f16")
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert "m/f16: the cluster worker tcp://127.0.0.1:" in text, text
    assert "runs tflite-build 0.0.1 (the build: " in text


def test_a_conversion_that_fails_on_the_cluster_fails_as_it_would_locally(
    cluster: tuple[DaskCluster, Path], shared: str, make_project: ProjectFactory, tmp_path: Path
) -> None:
    running, projects = cluster
    bad = MANIFEST + "  bad: {quantize: int8, keep_float: [nope]}\n"
    local = make_project(ENTRY_PROJECT, at="local")
    (local / "m/model.yaml").write_text(bad)
    project = make_project(ENTRY_PROJECT, at=projects / "p3")
    (project / "m/model.yaml").write_text(bad)
    here = doit(local, "convert:m/bad")  # in this process: its warm worker converts
    there = _doit(project, shared, running.url, "convert:m/bad")
    assert here.code != 0 and there.returncode != 0

    def sentence(output: str) -> str:
        return next(line for line in output.splitlines() if line.startswith("m/bad:"))

    theirs = sentence(there.stdout + there.stderr)
    assert theirs == sentence(here.output)
    assert "no quantized layer is named 'nope'" in theirs
    assert (project / "build/m/bad.convert.log").read_text().strip()  # TensorFlow's log came back


TORCH = """
import torch


def make():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), (torch.zeros(1, 4, 4),)
"""
TORCH_PROJECT: Files = {
    "m/net.py": TORCH,
    "m/model.yaml": "source: {pytorch: net.py:make}\nvariants: {dynamic: {quantize: dynamic}}\n",
}


def test_a_toolchains_variants_convert_on_the_cluster_like_locally(
    cluster: tuple[DaskCluster, Path], shared: str, make_project: ProjectFactory
) -> None:
    from converter.toolchains import defaults, environments

    environments.ensure(defaults.PYTORCH)  # the workers' machine has it: this one
    running, projects = cluster
    local = make_project(TORCH_PROJECT, at="local")
    assert doit(local, "convert").code == 0
    project = make_project(TORCH_PROJECT, at=projects / "torch")
    run = _doit(project, shared, running.url)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 built (1 on the cluster), 0 from cache" in run.stdout, run.stdout
    assert _artifacts(project) == _artifacts(local) and len(_artifacts(project)) == 1
