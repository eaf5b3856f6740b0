"""Helpers the tests import (fixtures live in the conftest files, helpers here).

``require`` is the one switch for the real components a test cannot run without (a
browser, a server binary, a side environment, a compiler): under CI a missing one
fails the test, so a CI run never passes by skipping; anywhere else the test is
skipped, and the reason says how to get what is missing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from rules.project.settings import FALSE

REPO = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    """Whether this run is CI's (``CI`` set to anything but a false value, as the settings read it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", *FALSE)


def require(reason: str) -> NoReturn:
    """Stop a test for want of ``reason``'s component: a failure under CI, a skip elsewhere."""
    if in_ci():
        pytest.fail(f"{reason}; CI must run this test, so it fails here", pytrace=False)
    pytest.skip(reason)
