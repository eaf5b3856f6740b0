"""Inputs by digest: a conversion packed on one machine, unpacked and converted on another.

The only link between the two is the shared cache. The worker side never reads
the project's folder (it is renamed away while the worker runs), converts under
its own root, and stores what the client then restores by the same key.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from rules.actions import convert as convert_action
from rules.build import variants
from rules.build.context import Build
from rules.build.jobs import ConvertJob
from rules.build.keys import declared_key
from rules.cache.artifacts import ArtifactCache
from rules.cache.settings import CacheSettings
from rules.execute import bundle
from rules.project.state import BuildState
from tests.support.models import Tiny
from tests.support.project import ProjectFactory


def _job(root: Path, name: str) -> tuple[ConvertJob, Build]:
    namespace = runpy.run_path(str(root / "dodo.py"))
    build: Build = namespace["TFLITE_BUILD"]
    tasks: Any = namespace["task_convert"]()
    for task in tasks:
        if task.get("name") == name:
            job, _ = task["actions"][0][1]
            return job, build
    raise AssertionError(f"no convert task {name}: {[t.get('name') for t in tasks]}")


@pytest.mark.tf
def test_a_conversion_shipped_by_digest_gives_the_local_bytes_under_the_same_key(
    make_project: ProjectFactory, tmp_path: Path, private_cache: Path
) -> None:
    shared = private_cache  # TFLITE_BUILD_CACHE: the client's cache, and the worker's
    project = make_project(
        {
            "m/model.yaml": "source: {python: build.py:make}\n"
            "variants: {int8: {quantize: int8, representative: {data: calib.npz}}}\n",
            "m/build.py": "from helper import make_model as make\n",
            "m/helper.py": "import keras\n\ndef make_model():\n"
            "    return keras.models.load_model(__file__.replace('helper.py', 'model.keras'))\n",
            "m/model.keras": Tiny.keras,
            "m/calib.npz": Tiny.calibration,
        },
        at="project",
    )
    job, build = _job(project, "m/int8")
    shipped = bundle.bundle_of(job, build.state)
    assert {path for path, _, _ in shipped.files} == {
        "m/build.py",
        "m/helper.py",
        "m/model.keras",
        "m/calib.npz",
        "m/model.yaml",
    }
    client_cache = build.cache()
    assert bundle.pack(shipped, project, client_cache) == shipped.size
    key = declared_key(job, build.state)

    # The worker: its own root, content store, state and local cache; the project is away.
    hidden = project.rename(tmp_path / "away")
    try:
        worker_root = tmp_path / "worker/root"
        worker_cache = CacheSettings(shared)  # the only thing both sides see
        cache = ArtifactCache(worker_cache)
        fetched = bundle.unpack(shipped, cache, tmp_path / "worker/store", worker_root)
        assert fetched == shipped.size
        again = bundle.unpack(shipped, cache, tmp_path / "worker/store", worker_root)
        assert again == 0  # the content store had everything
        moved: ConvertJob = bundle.moved(job, project, worker_root)
        state = BuildState(tmp_path / "worker/state")
        remote = Build(build.project, worker_cache, state)
        assert declared_key(moved, state) == key
        result = convert_action.convert(moved, remote)
        assert isinstance(result, dict) and result["origin"] == "built", result
    finally:
        hidden.rename(project)

    # The client restores it, as any cache hit.
    origin = variants.restore(job, build.cache(), build.state, key)
    assert origin == "local"  # the shared directory is this client's cache
    assert job.output != moved.output and job.output.read_bytes() == moved.output.read_bytes()
