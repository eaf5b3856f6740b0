"""Files written atomically: their mode follows the umask like any new file's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_follow_the_umask_like_any_new_file(tmp_path: Path, umask: int) -> None:
    """The umask is read once, when the process starts writing: as a build process sets it."""
    script = (
        "import os, sys\n"
        f"os.umask({umask})\n"
        "from pathlib import Path\n"
        "from converter.files import write_atomic\n"
        "root = Path(sys.argv[1])\n"
        "write_atomic(root / 'artifact.tflite', b'bytes')\n"
        "(root / 'plain').write_bytes(b'bytes')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    mode = (tmp_path / "artifact.tflite").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777 == 0o666 & ~umask
