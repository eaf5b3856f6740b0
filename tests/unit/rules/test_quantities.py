"""Sizes as a manifest or a setting writes them."""

from __future__ import annotations

import pytest

from rules.quantities import parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("2MB", 2_000_000), ("1.5 MiB", 1_572_864), (4096, 4096), ("500kb", 500_000), ("x", None)],
)
def test_sizes(text: object, size: int | None) -> None:
    assert parse_size(text) == size
