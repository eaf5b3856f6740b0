"""Inputs by digest: a job moved to another root rewrites its paths under the root, no others."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from tests.support.models import Models
from tests.support.project import write_files

from converter.spec import KerasSource, Options, PythonSource, Representative
from rules.actions import convert as convert_action
from rules.build import variants
from rules.build.context import Build
from rules.build.jobs import ConvertJob
from rules.build.keys import declared_key
from rules.cache.artifacts import ArtifactCache, CacheSettings
from rules.execute import bundle
from rules.project.state import BuildState


def test_moved_rewrites_every_path_under_the_root_and_nothing_else() -> None:
    old, new = Path("/a/project"), Path("/w/root")
    source = PythonSource("models/build.py:make", base_dir=old / "models")
    rep = Representative(data=old / "models/calib.npz", base_dir=old / "models")
    options = Options(quantize="int8", representative=rep)
    assert bundle.moved(source, old, new) == PythonSource(
        "models/build.py:make", base_dir=new / "models"
    )
    assert bundle.moved(options, old, new).representative == Representative(
        data=new / "models/calib.npz", base_dir=new / "models"
    )
    elsewhere = KerasSource(Path("/usr/share/model.keras"))
    assert bundle.moved(elsewhere, old, new) == elsewhere


