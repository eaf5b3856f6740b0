"""Fixtures for every test: a private cache and service folder each, and ``make_project``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from tests.support.models import Models
from tests.support.project import ProjectFactory


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own empty artifact cache (never the user's ~/.cache).

    And no conversion service: a test that wants one turns ``TFLITE_BUILD_DAEMON``
    on, and its service lives in a folder of the test's own, never the user's.
    """
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("TFLITE_BUILD_CACHE", str(path))
    monkeypatch.delenv("TFLITE_BUILD_CACHE_READ_ONLY", raising=False)
    monkeypatch.delenv("TFLITE_BUILD_SHARD", raising=False)
    monkeypatch.setenv("TFLITE_BUILD_DAEMON", "off")
    # A short path: a Unix socket's holds 107 bytes, and pytest's temp folders run long.
    service = Path(tempfile.mkdtemp(prefix="tfb-"))
    monkeypatch.setenv("TFLITE_BUILD_DAEMON_DIR", str(service))
    yield path
    shutil.rmtree(service, ignore_errors=True)


@pytest.fixture
def make_project(tmp_path: Path, request: pytest.FixtureRequest) -> ProjectFactory:
    """``make_project(files)`` writes a whole project into tmp_path and returns its root.

    See ``tests.support.project``: a ``dodo.py`` comes with it, and the tiny models
    (``Tiny.saved_model``...) are built, once per session, only if the files name one.
    """
    return ProjectFactory(tmp_path, lambda: cast(Models, request.getfixturevalue("models")))


@pytest.fixture
def folder() -> Iterator[Path]:
    """A fresh private folder with a short path (a Unix socket's path holds 107 bytes)."""
    directory = Path(tempfile.mkdtemp(prefix="tfb-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)
