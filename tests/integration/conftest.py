"""Session fixtures of the integration tests: the tiny models, built in-process once, and one engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import converter
from tests.support.models import Models, MultiModels, build_models, build_multi_models


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Every input format, written once: the same tiny CNN where the format allows."""
    return build_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def multi_models(tmp_path_factory: pytest.TempPathFactory) -> MultiModels:
    """A three-input, two-output model as a SavedModel, a .keras file and entry points."""
    return build_multi_models(tmp_path_factory.mktemp("multi_models"))


@pytest.fixture(scope="session")
def engine() -> Iterator[converter.Engine]:
    """One engine (one worker process) for the whole session."""
    with converter.Engine(timeout=300) as e:
        yield e
