"""The project: its settings in pyproject.toml, and where its manifests are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.errors import RulesError
from rules.project.root import find_manifests, load_project
from rules.project.state import BuildState
from tests.support.project import write_files


def test_project_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(
        tmp_path,
        {"pyproject.toml": "[tool.tflite-build]\nbuild_dir = 'out'\nmanifest = ['*.yaml']\n"},
    )
    with pytest.raises(RulesError, match="manifest: unknown setting; did you mean 'manifests'"):
        load_project(tmp_path)
    write_files(
        tmp_path, {"pyproject.toml": "[tool.tflite-build]\nbuild_dir = 'out'\ncache = 'here'\n"}
    )
    monkeypatch.setenv("TFLITE_BUILD_CACHE", "s3://bucket/cache")
    project = load_project(tmp_path)
    assert project.build_dir == tmp_path / "out" and project.cache == "s3://bucket/cache"
    write_files(
        tmp_path,
        {"pyproject.toml": "[tool.tflite-build]\nworker_memory = '16GiB'\nworker_timeout = 1200\n"},
    )
    limits = load_project(tmp_path).limits
    assert (limits.timeout, limits.memory_mb) == (1200.0, 16384.0)
    write_files(tmp_path, {"pyproject.toml": "[tool.tflite-build]\nworker_memory = 'lots'\n"})
    with pytest.raises(RulesError, match="worker_memory: expected a size like 16GB; got 'lots'"):
        load_project(tmp_path)
    write_files(
        tmp_path,
        {"pyproject.toml": "[tool.tflite-build]\ncache_max_size = 'big'\nmeasure_latency = 'x'\n"},
    )
    monkeypatch.chdir(tmp_path)  # problems name files relative to where doit runs
    with pytest.raises(RulesError) as raised:
        load_project(tmp_path)
    assert str(raised.value).splitlines() == [
        "pyproject.toml: tool.tflite-build -> cache_max_size: expected a size like 10GB or "
        "500MiB; got 'big'",
        "pyproject.toml: tool.tflite-build -> measure_latency: expected one of budgets, always; "
        "got 'x'",
    ]


def test_discovery_skips_build_hidden_and_venv_folders(tmp_path: Path) -> None:
    manifest = "source: {saved_model: export}\nvariants: {f: {}}\n"
    write_files(
        tmp_path,
        {
            "a/model.yaml": manifest,
            "deep/er/b/model.yaml": manifest,
            "build/c/model.yaml": manifest,
            ".venv/lib/d/model.yaml": manifest,
            "node_modules/e/model.yaml": manifest,
        },
    )
    project = load_project(tmp_path)
    found = find_manifests(project, BuildState(project.state_dir))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/model.yaml",
        "deep/er/b/model.yaml",
    ]


def test_manifest_globs_have_real_double_star_semantics(tmp_path: Path) -> None:
    manifest = "source: {saved_model: export}\nvariants: {f: {}}\n"
    write_files(
        tmp_path,
        {
            "pyproject.toml": "[tool.tflite-build]\nmanifests = ['models/*.yaml', 'zoo/**/m.yaml']\n"
            "exclude = ['zoo/old/**']\n",
            "models/a.yaml": manifest,
            "models/deep/b.yaml": manifest,  # `*` stays within one folder
            "zoo/m.yaml": manifest,  # `**/` matches no folder too
            "zoo/x/y/m.yaml": manifest,
            "zoo/old/z/m.yaml": manifest,
        },
    )
    project = load_project(tmp_path)
    found = find_manifests(project, BuildState(project.state_dir))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "models/a.yaml",
        "zoo/m.yaml",
        "zoo/x/y/m.yaml",
    ]
