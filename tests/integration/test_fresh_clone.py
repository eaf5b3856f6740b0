"""A fresh clone pointed at a warm cache: every artifact byte-identical, TensorFlow never imported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.doit_runs import doit
from tests.support.models import Tiny
from tests.support.project import Files, ProjectFactory
from tests.support.servers import buildgrid, nginx_webdav

pytestmark = pytest.mark.tf

DODO = "import rules\n\nglobals().update(rules.doit_tasks(__file__))\n"
# Runs doit in one process and reports what that process imported and started.
PROBE = """
import runpy, sys
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
import converter.api
code = DoitMain(ModuleTaskLoader(runpy.run_path("dodo.py"))).run(["convert"])
print("PROBE", code, "tensorflow" in sys.modules, converter.api._default is None)
"""


# Two models, four variants: int8 I/O from a SavedModel, dynamic range from a .keras file.
TWO_MODELS: Files = {
    "sm/export": Tiny.saved_model,
    "sm/calib.npz": Tiny.calibration,
    "sm/model.yaml": "source: {saved_model: export}\nvariants:\n  float32: {}\n"
    "  int8: {quantize: int8, io_type: int8, representative: {data: calib.npz}}\n",
    "kr/model.keras": Tiny.keras,
    "kr/model.yaml": "source: {keras: model.keras}\nvariants: {float32: {}, dynamic: {quantize: dynamic}}\n",
}


def _run(root: Path, cache: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TFLITE_BUILD_CACHE": cache,
        "TFLITE_BUILD_LOCAL_CACHE": str(root / ".local-cache"),
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _build_here(root: Path, cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The original's build, in this process (its warm worker converts): what the clone
    then finds in the cache is the point, not how the original's process started."""
    with monkeypatch.context() as env:
        env.setenv("TFLITE_BUILD_CACHE", cache)
        env.setenv("TFLITE_BUILD_LOCAL_CACHE", str(root / ".local-cache"))
        run = doit(root, "convert")
    assert run.code == 0 and run.conversions == 4, run.output


def _artifacts(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "build").rglob("*.tflite"))
    }


def test_fresh_clone_with_a_warm_local_cache(make_project: ProjectFactory, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    original = make_project(TWO_MODELS, at="original")
    first = _run(original, cache)
    assert first.stdout.strip().endswith("PROBE 0 False False"), first.stdout + first.stderr
    clone = tmp_path / "clone"
    shutil.copytree(original, clone, ignore=shutil.ignore_patterns("build"))
    second = _run(clone, cache)
    assert second.stdout.strip().endswith("PROBE 0 False True"), second.stdout + second.stderr
    assert "0 built, 4 from cache" in second.stdout
    assert _artifacts(clone) == _artifacts(original) and len(_artifacts(clone)) == 4


def test_fresh_clone_with_only_a_remote_cache(
    make_project: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with nginx_webdav(tmp_path / "server") as (url, _):
        original = make_project(TWO_MODELS, at="ci")
        _build_here(original, url, monkeypatch)
        clone = tmp_path / "laptop"
        shutil.copytree(original, clone, ignore=shutil.ignore_patterns("build", ".local-cache"))
        run = _run(clone, url)
        assert run.stdout.strip().endswith("PROBE 0 False True"), run.stdout + run.stderr
        assert "4 from cache (4 remote)" in run.stdout
        assert _artifacts(clone) == _artifacts(original)
    # The remote is gone now; the local cache it filled still serves a second clone.
    shutil.rmtree(clone / "build")
    offline = _run(clone, url)
    assert "4 from cache" in offline.stdout and "(4 remote)" not in offline.stdout
    assert offline.stderr.count("remote cache unavailable") <= 1


def test_bad_shard_is_a_clear_error(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project({})
    monkeypatch.setenv("TFLITE_BUILD_SHARD", "4/3")
    run = subprocess.run(
        [sys.executable, "-m", "doit", "list"], cwd=root, capture_output=True, text=True
    )
    assert run.returncode == 3
    assert (
        run.stderr.strip()
        == "ERROR: TFLITE_BUILD_SHARD='4/3': expected K/N with 1 <= K <= N, e.g. 2/4"
    )


def test_fresh_clone_with_only_a_grpc_reapi_cache(
    make_project: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with buildgrid(tmp_path / "server") as (url, _):
        original = make_project(TWO_MODELS, at="ci")
        _build_here(original, url, monkeypatch)
        clone = tmp_path / "laptop"
        shutil.copytree(original, clone, ignore=shutil.ignore_patterns("build", ".local-cache"))
        run = _run(clone, url)
        assert run.stdout.strip().endswith("PROBE 0 False True"), run.stdout + run.stderr
        assert "4 from cache (4 remote)" in run.stdout
        assert _artifacts(clone) == _artifacts(original)
