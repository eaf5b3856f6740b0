"""converter.versions: the versions that key a build, read fast and read right."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from converter import versions


def test_every_installed_distribution_reads_as_importlib_metadata_reads_it() -> None:
    names = {d.metadata["Name"] for d in importlib.metadata.distributions()}
    assert len(names) > 10  # the environment the tests run in: not an empty path
    for name in sorted(names):
        assert versions.version(name) == importlib.metadata.version(name), name


def test_a_distribution_first_on_the_path_wins_and_forget_reads_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = versions.version("keras")
    assert before
    info = tmp_path / "Keras-99.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: keras\nVersion: 99.1\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    versions.forget()
    try:
        assert versions.version("keras") == "99.1" == importlib.metadata.version("keras")
        assert versions.conversion()["keras"] == "99.1"
    finally:
        monkeypatch.undo()
        versions.forget()
    assert versions.version("keras") == before


def test_an_absent_distribution_has_no_version() -> None:
    assert versions.version("no-such-distribution-here") == ""


def test_a_development_install_first_on_the_path_is_read_from_its_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "keras.egg-info"  # what `setup.py develop` leaves: no version in the name
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: keras\nVersion: 98.0\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    versions.forget()
    try:
        assert versions.version("keras") == "98.0" == importlib.metadata.version("keras")
    finally:
        monkeypatch.undo()
        versions.forget()


def test_the_environments_own_packages_do_not_depend_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a layered toolchain's name digests: the same in every process of the environment,
    whatever a process puts on its path (pytest its root, a checkout its .egg-info)."""
    before = versions.installed()
    assert before["keras"] and before["tensorflow"]
    (tmp_path / "Keras-99.1.dist-info").mkdir()
    (tmp_path / "stray.egg-info").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert versions.installed() == before
