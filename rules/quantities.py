"""Sizes and fractions as manifests and settings write them: ``2MB``, ``1.5 MiB``, ``2%``."""

from __future__ import annotations

import re

# Sizes and percentages as manifests and settings write them. No flags: the JSON
# Schema publishes these patterns as they are (rules.manifest.schema).
SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KkMmGg][Ii]?[Bb]|[Bb])?\s*$")
PERCENT_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")
# A percentage from 0 to 100: a share of the samples, say.
SHARE_PATTERN = re.compile(r"^\s*(?:0*100(?:\.0*)?|0*\d?\d(?:\.\d*)?|0*\.\d+)\s*%\s*$")
SIZE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
}


def parse_size(text: object) -> int | None:
    """Bytes from 2000000, '2MB' (10^6), '1.5 MiB' (2^20)...; None if it is not a size."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if text >= 0 else None
    if not isinstance(text, str):
        return None
    match = SIZE_PATTERN.match(text)
    if not match:
        return None
    unit = (match.group(2) or "B").lower()
    return int(float(match.group(1)) * SIZE_UNITS[unit])


def parse_fraction(value: object) -> float | None:
    """0.02, '2%' -> 0.02; None if it is neither."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = PERCENT_PATTERN.match(value) if isinstance(value, str) else None
    return float(match.group(1)) / 100 if match else None
