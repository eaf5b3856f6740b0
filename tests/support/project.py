"""Projects written into a temp dir in one call, like dvc's ``tmp_dir.gen``: ``write_files`` and
the ``make_project`` fixture's factory (see tests/conftest.py)."""

from __future__ import annotations

import io
import shutil
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from tests.support.models import ModelFile, Models

# What a project's dodo.py holds when it has no task of its own.
DODO = "import rules\n\nglobals().update(rules.doit_tasks(__file__))\n"

# Text is dedented; bytes are written as they are; a Path (a file or a folder, such as a
# SavedModel) and a ModelFile (one of the session's tiny models) are copied.
Files = Mapping[str, "str | bytes | Path | ModelFile"]


def write_files(root: Path, files: Files, models: Callable[[], Models] | None = None) -> Path:
    """Write a whole tree under ``root`` in one call; ``models`` gives the tiny models' files."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, ModelFile):
            if models is None:
                raise TypeError(f"{name}: a ModelFile needs the models (use make_project)")
            content = content.path(models())
        if isinstance(content, Path):
            if content.is_dir():
                shutil.copytree(content, path)
            else:
                shutil.copyfile(content, path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"))
    return root


class ProjectFactory:
    """``make_project(files)``: a whole project in one call, under the test's own tmp_path.

    ``at`` names its folder ("proj" by default; an absolute path is used as it is), so
    a test can make several. A ``dodo.py`` that loads tflite-build's tasks is written
    unless ``files`` has its own. The tiny models are built only when a ModelFile is used.
    """

    def __init__(self, tmp_path: Path, models: Callable[[], Models]) -> None:
        self.tmp_path = tmp_path
        self.models = models

    def __call__(self, files: Files, at: str | Path = "proj") -> Path:
        root = self.tmp_path / at
        return write_files(root, {"dodo.py": DODO, **files}, self.models)


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its POSIX path relative to it: a tree compared in one ``==``."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def npz(**arrays: np.ndarray) -> bytes:
    """The bytes of an .npz file of ``arrays``, for a project's files."""
    out = io.BytesIO()
    np.savez(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()
