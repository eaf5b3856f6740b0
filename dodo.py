"""Repository root: ``doit <task>`` here builds example_project (see example_project/dodo.py)."""

import runpy
from pathlib import Path

globals().update(runpy.run_path(str(Path(__file__).parent / "example_project" / "dodo.py")))
