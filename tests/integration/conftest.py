"""Session fixtures of the integration tests: the tiny models, built in-process once, one engine,
and the CI workflow's runs, started early."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import converter
from converter.api import default_engine
from tests.support.models import Models, MultiModels, build_models, build_multi_models
from tests.support.workflow.scenario import InBackground


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Every input format, written once: the same tiny CNN where the format allows."""
    return build_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def multi_models(tmp_path_factory: pytest.TempPathFactory) -> MultiModels:
    """A three-input, two-output model as a SavedModel, a .keras file and entry points."""
    return build_multi_models(tmp_path_factory.mktemp("multi_models"))


@pytest.fixture(scope="session")
def engine() -> converter.Engine:
    """One engine (one worker process) for the whole session: the process's own, which the
    doit runs in this process use too (``converter.api.default_engine``; closed at exit)."""
    return default_engine()


@pytest.fixture(scope="session", autouse=True)
def workflow_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InBackground | None]:
    """The CI workflow's two runs (test_workflow.py's ``runs``), started with the first
    integration test when a test of them is selected, and cancelled if still running at
    the end. They are processes that mostly leave one core idle for a minute; started
    here, the other tests use that core, and the workflow's tests, last, find them done."""
    if not any("runs" in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield None
        return
    started = InBackground(tmp_path_factory.mktemp("workflow"))
    try:
        yield started
    finally:
        started.stop()
