"""Toolchain environments made for real: once, under a lock, never half-made, failures said plainly.

The packages come from a wheel the test writes (pip installs it with --no-index):
nothing leaves the machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from converter.toolchains.environments import (
    MARKER,
    Toolchain,
    ToolchainError,
    ensure,
    find,
)
from tests.support.doit_runs import doit
from tests.support.project import ProjectFactory


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of one module that knows its version."""
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},{len(text.encode())}"
        for path, text in files.items()
    ]
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    _wheel(folder, "tinypkg", "1.2")
    return folder


def _toolchain(wheels: Path, *requirements: str) -> Toolchain:
    return Toolchain("demo", requirements, pip_args=("--no-index", "--find-links", str(wheels)))


def test_a_toolchain_is_made_once_then_found(wheels: Path, tmp_path: Path) -> None:
    said: list[str] = []
    toolchain = _toolchain(wheels, "tinypkg==1.2")
    assert find(toolchain, tmp_path) is None
    made = ensure(toolchain, tmp_path, said.append)
    assert made.version("tinypkg") == "1.2" and made.folder == toolchain.folder(tmp_path)
    assert said[0].startswith("making the demo toolchain, once for these requirements: ")
    assert "installing tinypkg==1.2" in said[0] and said[1].startswith(
        "made the demo toolchain in "
    )
    ran = subprocess.run(
        [str(made.python), "-c", "import tinypkg, sys; print(tinypkg.VERSION, sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.split() == ["1.2", str(made.folder)]
    again: list[str] = []
    assert ensure(toolchain, tmp_path, again.append) == made and again == []
    assert find(toolchain, tmp_path) == made
    # Other pins: another environment beside it.
    assert _toolchain(wheels).folder(tmp_path) != made.folder


def test_two_builds_at_once_make_it_once(wheels: Path, tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from converter.toolchains.environments import Toolchain, ensure\n"
        f"t = Toolchain('demo', ('tinypkg==1.2',), pip_args=('--no-index', '--find-links', {str(wheels)!r}))\n"
        f"env = ensure(t, Path({str(tmp_path)!r}), lambda line: print(line, flush=True))\n"
        "print('FOLDER', env.folder)\n"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    making = [line for out in outputs for line in out.splitlines() if line.startswith("making")]
    assert len(making) == 1, outputs
    folders = {line for out in outputs for line in out.splitlines() if line.startswith("FOLDER")}
    assert len(folders) == 1


def test_a_half_made_environment_is_made_again(wheels: Path, tmp_path: Path) -> None:
    toolchain = _toolchain(wheels, "tinypkg==1.2")
    folder = toolchain.folder(tmp_path)
    (folder / "bin").mkdir(parents=True)  # a killed install: no marker
    (folder / "leftover").write_text("half")
    assert find(toolchain, tmp_path) is None
    made = ensure(toolchain, tmp_path, lambda line: None)
    assert (folder / MARKER).is_file() and not (folder / "leftover").exists()
    assert json.loads((folder / MARKER).read_text())["packages"]["tinypkg"] == "1.2"
    assert made.version("TinyPkg") == "1.2"


def test_a_failed_install_says_what_pip_said_and_leaves_nothing(
    wheels: Path, tmp_path: Path
) -> None:
    toolchain = _toolchain(wheels, "tinypkg==9.9")
    with pytest.raises(ToolchainError) as failed:
        ensure(toolchain, tmp_path, lambda line: None)
    text = str(failed.value)
    assert text.startswith("could not make the demo toolchain: ")
    assert "No matching distribution found for tinypkg==9.9" in text
    log = toolchain.folder(tmp_path).with_suffix(".log")
    assert f"(the whole log: {log})" in text and log.is_file()
    assert not toolchain.folder(tmp_path).exists()


def test_an_environment_the_user_has_is_used_as_it_is(tmp_path: Path) -> None:
    given = ensure(Toolchain("demo", python=sys.executable), tmp_path)
    assert given.folder is None and given.python == Path(sys.executable)
    assert given.version("pytest") and given.python_version.startswith("3.")
    assert list(tmp_path.iterdir()) == []  # nothing made
    with pytest.raises(ToolchainError, match="cannot be run"):
        ensure(Toolchain("demo", python=str(tmp_path / "no-python")), tmp_path)


def test_doit_toolchains_lists_each_made_or_not(
    wheels: Path, tmp_path: Path, make_project: ProjectFactory
) -> None:
    home = tmp_path / "toolchains"
    pyproject = f"""
        [tool.tflite-build]
        toolchains_dir = "{home}"
        [tool.tflite-build.toolchains.demo]
        requirements = ["tinypkg==1.2"]
        pip_args = ["--no-index", "--find-links", "{wheels}"]
        [tool.tflite-build.toolchains.mine]
        python = "{sys.executable}"
    """
    project = make_project({"pyproject.toml": pyproject})
    demo = _toolchain(wheels, "tinypkg==1.2")

    def lines() -> dict[str, str]:
        run = doit(project, "toolchains")
        assert run.code == 0, run.output
        return {line.split(":")[0]: line for line in run.output.splitlines() if ": " in line}

    before = lines()
    assert before["demo"] == (
        f"demo: not made yet (tinypkg==1.2); a build makes it in {demo.folder(home)}"
    )
    assert before["pytorch"].startswith(
        "pytorch: not made yet (torch==2.13.0, litert-torch==0.10.0, litert-converter==0.5.0"
    )
    assert before["jax"].startswith("jax: not made yet (jax==0.10.2, jaxlib==0.10.2)")
    assert before["mine"].startswith(f"mine: your environment {sys.executable} (python 3.")
    assert not home.exists()  # listing makes nothing

    ensure(demo, home, lambda line: None)
    made = lines()["demo"]
    assert made.startswith("demo: made, tinypkg 1.2; python 3.")
    assert f"in {demo.folder(home)} (" in made and made.endswith(" MB)")
