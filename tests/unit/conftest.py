"""The unit tests are pure: no TensorFlow (nor Keras) is ever imported while one is collected or runs.

Each test is checked on its own (a test that imports TensorFlow, even deep inside
the code it calls, fails by name), and a run of the unit tree alone also checks
that collecting it imported none: ``pytest tests/unit`` never starts TensorFlow.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HEAVY = ("tensorflow", "keras", "tf_keras")
UNIT = Path(__file__).parent


def _imported() -> set[str]:
    return {name for name in HEAVY if name in sys.modules}


@pytest.fixture(scope="session", autouse=True)
def _collected_without_tensorflow(request: pytest.FixtureRequest) -> None:
    """When this session runs unit tests only, nothing imported TensorFlow before the first."""
    others = [item for item in request.session.items if UNIT not in item.path.parents]
    if not others:
        assert not _imported(), f"collecting the unit tests imported {sorted(_imported())}"


@pytest.fixture(autouse=True)
def _no_tensorflow() -> Iterator[None]:
    """This test imported neither TensorFlow nor Keras (unless an earlier, integration test had)."""
    before = _imported()
    yield
    imported = _imported() - before
    assert not imported, f"a unit test imported {sorted(imported)}: it belongs in tests/integration"
