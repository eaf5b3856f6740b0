"""git for the workflow's runs: the commands, and commits made by a CI identity."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
import pytest
import yaml
from tests.support.workflow.python import ProvisionError, make_python, pip_extras
from tests.support import REPO
from tests.support.workflow.actions import Caches, WorkflowError
from tests.support.workflow.expressions import ExpressionError, condition, interpolate
from tests.support.workflow.runner import Event, Run, Runner
from converter.tflite import modelinfo
from converter.tflite.runtimes import parse_version
from rules.fleet.inventory import Fleet


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


def commit(repo: Path, message: str, *args: str) -> str:
    """Commit what is staged (or ``args``, such as -a) in ``repo``; its sha."""
    identity = ["-c", "user.name=CI", "-c", "user.email=ci@localhost"]
    git("-C", str(repo), *identity, "commit", "--quiet", "-m", message, *args)
    return git("-C", str(repo), "rev-parse", "HEAD")
