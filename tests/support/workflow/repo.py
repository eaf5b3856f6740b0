"""git for the workflow's runs: the commands, and commits made by a CI identity."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


def commit(repo: Path, message: str, *args: str) -> str:
    """Commit what is staged (or ``args``, such as -a) in ``repo``; its sha."""
    identity = ["-c", "user.name=CI", "-c", "user.email=ci@localhost"]
    git("-C", str(repo), *identity, "commit", "--quiet", "-m", message, *args)
    return git("-C", str(repo), "rev-parse", "HEAD")
