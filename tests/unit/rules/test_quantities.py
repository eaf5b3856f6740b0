"""Sizes as a manifest or a setting writes them."""

from __future__ import annotations

import os
from pathlib import Path
import pytest
from tests.support.manifests import BASE, GOLDEN, problems
from tests.support.project import write_files
from converter.spec import KerasSource, PythonSource, SavedModelSource
from rules.errors import ManifestError, RulesError
from rules.manifest.catalog import load_manifests
from rules.project.root import find_manifests, load_project
from rules.project.state import BuildState
from rules.quantities import parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("2MB", 2_000_000), ("1.5 MiB", 1_572_864), (4096, 4096), ("500kb", 500_000), ("x", None)],
)
def test_sizes(text: object, size: int | None) -> None:
    assert parse_size(text) == size
