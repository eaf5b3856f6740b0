"""Inputs by digest: a job moved to another root rewrites its paths under the root, no others."""

from __future__ import annotations

from pathlib import Path

from converter.spec import KerasSource, Options, PythonSource, Representative
from rules.execute import bundle


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
