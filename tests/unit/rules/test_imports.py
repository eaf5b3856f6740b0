"""Importing rules is what every no-op build pays first: it stays light."""

from __future__ import annotations


def test_importing_rules_stays_light() -> None:
    """A no-op build starts by importing rules: nothing heavy may come with it."""
    import subprocess
    import sys

    heavy = (
        "tensorflow",
        "keras",
        "numpy",
        "yaml",
        "flatbuffers",
        "ai_edge_litert",
        "urllib.request",
    )
    script = f"import sys, rules; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
