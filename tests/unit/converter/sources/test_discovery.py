"""Which modules a warm worker forgets between requests: the project's, never the environment's."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest


def test_a_warm_worker_forgets_user_modules_not_the_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packages on the path the worker started with stay (a layered virtual environment's
    site-packages, added by a .pth file, hold TensorFlow itself); a project's modules go."""
    from converter.sources import discovery

    # The layer on the path is a folder of links into another site-packages, as the
    # workflow harness's virtual environments have.
    parent, layer, project = tmp_path / "site-packages", tmp_path / "layer", tmp_path / "project"
    for folder in (parent, layer, project):
        folder.mkdir()
    (parent / "tfb_env_pkg.py").write_text("VALUE = 1\n")
    (layer / "tfb_env_pkg.py").symlink_to(parent / "tfb_env_pkg.py")
    (project / "tfb_user_helper.py").write_text("VALUE = 2\n")
    site_packages = layer
    monkeypatch.setattr(discovery, "_STARTUP_PATH", (*discovery._STARTUP_PATH, str(site_packages)))
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.syspath_prepend(str(site_packages))
    tfb_env_pkg = importlib.import_module("tfb_env_pkg")
    tfb_user_helper = importlib.import_module("tfb_user_helper")
    try:
        roots = discovery.environment_roots()
        assert discovery.is_user_module(tfb_user_helper, roots)
        assert not discovery.is_user_module(tfb_env_pkg, roots)
        assert not discovery.is_user_module(pytest, roots)  # site-packages
    finally:
        sys.modules.pop("tfb_env_pkg", None)
        sys.modules.pop("tfb_user_helper", None)
