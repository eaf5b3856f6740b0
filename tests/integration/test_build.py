"""doit convert for real, on projects written into temp dirs: what rebuilds, and what does not.

Most runs use doit's own entry point in this process (DoitMain), so one worker
serves them all and its request counter proves when nothing was converted.
Parallel builds, kills and the TF-free load run doit as a separate process.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from converter import versions
from tests.support import REPO
from tests.support.doit_runs import Run, converted, doit, edit
from tests.support.models import Models, Tiny
from tests.support.project import Files, ProjectFactory, write_files

pytestmark = pytest.mark.tf

DODO = """
import shutil
from pathlib import Path

import rules

globals().update(rules.doit_tasks(__file__))
HERE = Path(__file__).parent


def copy(source, target):
    shutil.copyfile(source, target)


def task_make_model():
    \"\"\"A user's own task that produces a model file (here: copies a recipe).\"\"\"
    recipe, model = HERE / "made/recipe.keras", HERE / "made/model.keras"
    return {"actions": [(copy, [recipe, model])], "file_dep": [recipe], "targets": [model]}
"""
ALL = {
    "convert:sm/float32",
    "convert:sm/dynamic",
    "convert:sm/int8",
    "convert:kr/float32",
    "convert:kr/float16",
    "convert:py/float32",
    "convert:made/float32",
}


# Four models: a SavedModel, a .keras file, a Python entry, a file made by a user task.
FOUR_MODELS: Files = {
    "dodo.py": DODO,
    "sm/export": Tiny.saved_model,
    "sm/calib.npz": Tiny.calibration,
    "sm/model.yaml": """
        source: {saved_model: export}
        variants:
          float32: {}
          dynamic: {quantize: dynamic}
          int8: {quantize: int8, representative: {data: calib.npz}}
        evaluate: {data: calib.npz}
        budgets: {"*": {max_size: 1MB}}
        """,
    "kr/model.keras": Tiny.keras,
    "kr/model.yaml": """
        source: {keras: model.keras}
        variants:
          float32: {}
          float16: {quantize: float16}
        """,
    "py/entries.py": Tiny.entries,
    "py/helper.txt": "v1\n",
    "py/model.yaml": """
        source: {python: entries.py:keras_model, deps: [helper.txt]}
        variants: {float32: {}}
        """,
    "made/recipe.keras": Tiny.keras,
    "made/model.yaml": """
        source: {keras: model.keras, task: make_model, deps: [recipe.keras]}
        variants: {float32: {}}
        """,
}


def build(root: Path, *args: str) -> Run:
    return doit(root, *(args or ("convert",)))


def restored(root: Path) -> None:
    """A first build from the warm cache: every variant restored, none converted."""
    run = build(root)
    assert run.code == 0 and run.conversions == 0, run.output
    assert run.output.count("(from the local cache)") == len(ALL), run.output


@dataclass(frozen=True)
class Built:
    """FOUR_MODELS converted once, serially, in this process."""

    artifacts: dict[str, bytes]  # what a serial build gives, by path under build/
    cache: Path  # the entries this environment made for them


@pytest.fixture(scope="module")
def built(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The serial build the parallel and killed builds are compared with, and a cache that
    holds this environment's entries (a tool upgrade must miss them, going back hit them)."""
    root = tmp_path_factory.mktemp("built")
    project = write_files(root / "proj", FOUR_MODELS, lambda: models)
    with pytest.MonkeyPatch.context() as env:  # not the user's cache, nor a service
        env.setenv("TFLITE_BUILD_CACHE", str(root / "cache"))
        env.setenv("TFLITE_BUILD_DAEMON", "off")
        for name in ("TFLITE_BUILD_CACHE_READ_ONLY", "TFLITE_BUILD_SHARD"):
            env.delenv(name, raising=False)
        run = build(project)
    assert run.code == 0 and run.conversions == len(ALL), run.output
    return Built(_artifacts(project), root / "cache")


@pytest.fixture
def warm_cache(built: Built, private_cache: Path) -> None:
    """The test's cache starts with this environment's entries for FOUR_MODELS: a test whose
    claims are about later runs gets its first build from the cache, not seven conversions."""
    shutil.copytree(built.cache, private_cache, dirs_exist_ok=True)


def test_first_run_builds_everything_second_run_nothing(make_project: ProjectFactory) -> None:
    project = make_project(FOUR_MODELS)
    first = build(project)
    assert first.code == 0, first.output
    assert converted(first) == ALL
    assert first.conversions == len(ALL)
    # Not a terminal: progress comes as plain lines, one per finished conversion.
    assert f"({len(ALL)} of {len(ALL)} variants)" in first.output
    assert "\x1b[" not in first.output
    for name in ALL:
        model, variant = name.split(":")[1].split("/")
        assert (project / "build" / model / f"{variant}.tflite").is_file()
    second = build(project)
    assert second.code == 0 and second.executed == set() and second.conversions == 0


@pytest.mark.usefixtures("warm_cache")
def test_each_input_rebuilds_exactly_what_uses_it(make_project: ProjectFactory) -> None:
    project = make_project(FOUR_MODELS)
    restored(project)
    # One variant's options.
    edit(
        project / "kr/model.yaml",
        "float16: {quantize: float16}",
        "float16: {quantize: float16, probe: false}",
    )
    assert converted(build(project)) == {"convert:kr/float16"}
    # Evaluation data and budgets are not conversion inputs.
    edit(project / "sm/model.yaml", "max_size: 1MB", "max_size: 2MB")
    edit(
        project / "sm/model.yaml",
        "evaluate: {data: calib.npz}",
        "evaluate: {data: calib.npz, samples: 5}",
    )
    assert build(project).executed == set()
    # Any file inside a SavedModel directory.
    (project / "sm/export/assets").mkdir(exist_ok=True)
    (project / "sm/export/assets/vocab.txt").write_text("new file\n")
    assert converted(build(project)) == {
        "convert:sm/float32",
        "convert:sm/dynamic",
        "convert:sm/int8",
    }
    # Representative data: only the variant that uses it.
    import numpy as np

    np.savez(project / "sm/calib.npz", img=np.full((10, 8, 8, 1), 0.5, np.float32))
    assert converted(build(project)) == {"convert:sm/int8"}
    # A Python entry point's file, and a listed dep.
    (project / "py/entries.py").write_text((project / "py/entries.py").read_text() + "\n# edited\n")
    assert converted(build(project)) == {"convert:py/float32"}
    (project / "py/helper.txt").write_text("v2\n")
    assert converted(build(project)) == {"convert:py/float32"}
    # A source made by the user's own task: the task runs first, then the conversion.
    (project / "made/recipe.keras").write_bytes((project / "kr/model.keras").read_bytes() + b"")
    os.utime(project / "made/recipe.keras", (1, 1))
    run = build(project)
    assert run.executed == set(), "same bytes: the user task's file_dep and our key both hold"
    shutil.copyfile(project / "sm/calib.npz", project / "made/recipe.keras")
    run = build(project)
    assert "make_model" in run.executed and "convert:made/float32" in run.executed
    assert run.code != 0 and "made/float32" in run.output  # a .npz is no Keras model
    assert "Traceback" not in run.output


def _installed(site: Path, distribution: str, version: str) -> None:
    """A distribution's metadata (no code) that importlib.metadata finds before the real one."""
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )


@pytest.mark.parametrize("distribution", ["keras", "tensorflow", "tflite-build", "tf-keras"])
def test_the_key_recipe_reads_each_installed_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, distribution: str
) -> None:
    """Each version a conversion's bytes depend on is read from what is installed (faked
    as below); the build test after it shows that what the recipe reads keys the cache."""
    _installed(tmp_path, distribution, "99.0.0")
    with monkeypatch.context() as upgraded:
        upgraded.syspath_prepend(str(tmp_path))
        versions.forget()
        assert versions.conversion(legacy_keras=True)[distribution] == "99.0.0"
    versions.forget()
    assert versions.conversion(legacy_keras=True)[distribution] != "99.0.0"


@pytest.mark.parametrize("distribution", ["tensorflow"])
@pytest.mark.usefixtures("warm_cache")
def test_a_tool_upgrade_misses_the_cache_and_the_same_environment_hits_it(
    make_project: ProjectFactory,
    built: Built,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    distribution: str,
) -> None:
    """The key recipe reads what is installed: an upgrade converts again, going back restores.

    The installed version is faked the way an upgrade shows itself to the recipe (package
    metadata first on the path); the conversion itself still runs the real packages. One
    distribution is enough here: the test above shows the recipe reads each of them.
    """
    project = make_project(FOUR_MODELS)  # the cache holds this environment's entries
    site = tmp_path / "upgraded"
    _installed(site, distribution, "99.0.0")
    with monkeypatch.context() as upgraded:
        upgraded.syspath_prepend(str(site))
        versions.forget()
        assert versions.conversion()[distribution] == "99.0.0"
        run = build(project)
        assert converted(run) == ALL, "a new version must miss the cache for every variant"
        assert run.conversions == len(ALL)
    versions.forget()
    assert versions.conversion()[distribution] != "99.0.0"
    run = build(project)
    assert run.code == 0 and run.conversions == 0, run.output  # this environment's entries
    assert run.output.count("(from the local cache)") == len(ALL)
    assert _artifacts(project) == built.artifacts


@pytest.mark.usefixtures("warm_cache")
def test_touched_files_are_hashed_once_then_stat_only(make_project: ProjectFactory) -> None:
    project = make_project(FOUR_MODELS)
    restored(project)
    for path in project.rglob("*"):
        if path.is_file() and "build" not in path.parts:
            os.utime(path, (time.time() + 5, time.time() + 5))
    run = build(project)
    assert run.executed == set()
    assert run.hashed > 0, "touched files must be re-hashed once"
    run = build(project)
    assert run.executed == set()
    assert run.hashed == 0, "and then never again"


@pytest.mark.usefixtures("warm_cache")
def test_edited_artifact_is_restored_or_rebuilt(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(FOUR_MODELS)
    restored(project)
    artifact = project / "build/kr/float32.tflite"
    good = artifact.read_bytes()
    artifact.write_bytes(good[: len(good) // 2])  # truncated: doit alone would not notice
    run = build(project)
    assert "C  convert:kr/float32 (from the local cache)" in run.output and run.conversions == 0
    assert artifact.read_bytes() == good
    monkeypatch.setenv("TFLITE_BUILD_CACHE", "off")
    artifact.write_bytes(b"edited by hand")
    run = build(project)
    assert converted(run) == {"convert:kr/float32"} and run.conversions == 1
    assert artifact.read_bytes() == good


def test_select_one_model_and_clean(make_project: ProjectFactory) -> None:
    project = make_project(FOUR_MODELS)
    run = build(project, "convert:sm/*")
    assert converted(run) == {"convert:sm/float32", "convert:sm/dynamic", "convert:sm/int8"}
    assert not build(project, "clean", "convert:sm/*").code  # doit's clean returns None
    assert not list((project / "build/sm").glob("*.tflite"))


def test_failure_is_one_sentence_and_other_models_still_build(make_project: ProjectFactory) -> None:
    project = make_project(FOUR_MODELS)
    edit(project / "py/model.yaml", "entries.py:keras_model", "entries.py:not_a_model")
    run = build(project, "--continue", "convert")
    assert run.code != 0  # 1, or 2 as here: the `convert` group's dependency failed
    assert (
        "py/float32: 'entries.py:not_a_model': returned int; expected a Keras model" in run.output
    )
    assert "Traceback" not in run.output
    assert converted(run) == ALL
    assert not (project / "build/py/float32.tflite").exists()
    assert (project / "build/kr/float32.tflite").is_file()


def _doit_process(root: Path, *args: str) -> subprocess.Popen[str]:
    """doit in its own process, with an empty cache of its own: it must really convert."""
    cache = root / "build" / "private-cache"
    return subprocess.Popen(
        [sys.executable, "-m", "doit", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "TFLITE_BUILD_CACHE": str(cache)},
    )


def _artifacts(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root / "build").as_posix(): p.read_bytes()
        for p in sorted((root / "build").rglob("*.tflite"))
    }


def _doit_in_terminal(root: Path, *args: str) -> tuple[int, str]:
    """``_doit_process`` with a pseudo-terminal for its output, as a developer's shell gives."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "doit", *args],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        env={**os.environ, "TERM": "xterm", "TFLITE_BUILD_CACHE": str(root / "build" / "private")},
    )
    os.close(terminal)
    output = b""
    try:
        while chunk := os.read(controller, 65536):
            output += chunk
    except OSError:  # EIO: the terminal's last writer has gone
        pass
    finally:
        os.close(controller)
    return process.wait(timeout=600), output.decode(errors="replace")


def test_parallel_build_gives_the_serial_bytes(make_project: ProjectFactory, built: Built) -> None:
    parallel = make_project(FOUR_MODELS, at="parallel")
    code, output = _doit_in_terminal(parallel, "-n", "2", "convert")
    assert code == 0, output
    assert _artifacts(parallel) == built.artifacts  # the serial build's bytes
    # On a terminal the progress is a live display (the variants' bar, drawn with escape
    # codes and cleared at the end), not the plain lines a log gets.
    assert "\x1b[" in output and f"{len(ALL)}/{len(ALL)}" in output
    assert "variants)" not in output
    assert f"tflite-build: {len(ALL)} built" in output
    assert len(built.artifacts) == len(ALL)


def test_killed_build_reruns_to_complete_correct_artifacts(
    make_project: ProjectFactory, built: Built
) -> None:
    project = make_project(FOUR_MODELS)
    process = _doit_process(project, "convert")
    deadline = time.monotonic() + 300
    while not list((project / "build").rglob("*.tflite")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()  # reaps it and closes its output pipe
    finished = len(_artifacts(project))
    assert 0 < finished < len(ALL), "the kill should land mid-build"
    rerun = _doit_process(project, "convert")
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output
    assert _artifacts(project) == built.artifacts  # the serial build's bytes
    assert not list((project / "build").rglob("*.tmp"))


def test_loading_the_example_projects_tasks_never_imports_tensorflow() -> None:
    script = (
        "import runpy, sys\n"
        "from doit.cmd_base import ModuleTaskLoader\n"
        "from doit.doit_cmd import DoitMain\n"
        "ns = runpy.run_path('example_project/dodo.py')\n"
        "code = DoitMain(ModuleTaskLoader(ns)).run(['list', '--all'])\n"
        "print('RESULT', code, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert "convert:digits/int8" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "RESULT 0 False False"


def test_doit_check_reports_every_problem_without_a_traceback(make_project: ProjectFactory) -> None:
    project = make_project(FOUR_MODELS)
    ok = subprocess.run(
        [sys.executable, "-m", "doit", "check"], cwd=project, capture_output=True, text=True
    )
    assert ok.returncode == 0 and "4 manifest(s), 7 variant(s): all valid" in ok.stdout
    edit(project / "sm/model.yaml", "quantize: dynamic", "quantize: dynamc")
    edit(project / "kr/model.yaml", "float32: {}", "float32: {probe: maybe}")
    bad = subprocess.run(
        [sys.executable, "-m", "doit", "check"], cwd=project, capture_output=True, text=True
    )
    assert bad.returncode == 3
    assert bad.stderr.splitlines() == [
        "ERROR: 2 problems in the manifests:",
        "  kr/model.yaml:3: variants -> float32 -> probe: expected true or false; got string 'maybe'",
        "  sm/model.yaml:4: variants -> dynamic -> quantize: expected one of none, dynamic, "
        "float16, int8, int16x8; got 'dynamc'; did you mean 'dynamic'?",
    ]


@pytest.mark.usefixtures("warm_cache")
def test_reports_and_budgets(make_project: ProjectFactory) -> None:
    project = make_project(FOUR_MODELS)
    run = build(project, "report")
    assert run.code == 0, run.output
    assert {"report:sm/float32", "report:sm/int8", "report:kr/float16"} <= run.executed
    report = json.loads((project / "build/sm/int8.report.json").read_text())
    int8, float32 = (project / "build/sm/int8.tflite"), (project / "build/sm/float32.tflite")
    assert report["size"]["size"] == int8.stat().st_size
    assert report["size"]["vs_float32"] == round(int8.stat().st_size / float32.stat().st_size, 4)
    assert report["budgets"] == [
        {"budget": "max_size", "limit": 1_000_000, "measured": int8.stat().st_size, "passed": True}
    ]
    assert build(project, "report").executed == set()
    assert build(project, "summary").code == 0
    summary = json.loads((project / "build/summary.json").read_text())
    assert len(summary["variants"]) == len(ALL) and summary["missing_reports"] == []
    assert "| sm | int8 |" in (project / "build/summary.md").read_text()
    # A report reruns for its own part of the manifest only: int8's budget, int8's report.
    edit(project / "sm/model.yaml", '{"*": {max_size: 1MB}}', '{"*": {max_size: 1MB}, int8: {}}')
    assert build(project, "report").executed == set()  # the same limits: nothing to redo
    edit(project / "sm/model.yaml", "int8: {}}", "int8: {max_size: 900KB}}")
    run = build(project, "report")
    assert run.executed == {"report:sm/int8"} and run.conversions == 0, run.output
    edit(project / "sm/model.yaml", ", int8: {max_size: 900KB}}", "}")
    # Budgets are not conversion inputs: a breach fails the report, converts nothing.
    edit(
        project / "sm/model.yaml",
        'budgets: {"*": {max_size: 1MB}}',
        'budgets: {"*": {max_size: 4KB}, float32: {min_top1_agreement: 0.9}}',
    )
    run = build(project, "--continue", "report")
    assert run.code != 0 and run.conversions == 0
    for variant in ("float32", "dynamic", "int8"):
        size = (project / f"build/sm/{variant}.tflite").stat().st_size
        assert (
            f"sm/{variant}: over budget: max_size is 4,000 bytes, measured {size:,} bytes"
            in run.output
        )
    report = json.loads((project / "build/sm/float32.report.json").read_text())
    assert {
        "budget": "min_top1_agreement",
        "limit": 0.9,
        "measured": 1.0,
        "passed": True,
    } in report["budgets"]
    # Latency is measured (host CPU) and its budget enforced; an impossible limit always breaches.
    edit(
        project / "sm/model.yaml",
        "float32: {min_top1_agreement: 0.9}",
        "float32: {max_latency_ms: 0.000001}",
    )
    run = build(project, "--continue", "report")
    report = json.loads((project / "build/sm/float32.report.json").read_text())
    measured = report["latency"]["median_ms"]
    assert (
        f"sm/float32: over budget: max_latency_ms is 1e-06, measured {measured:.4g}" in run.output
    )
    assert "Traceback" not in run.output


@pytest.mark.usefixtures("warm_cache")
def test_accuracy_report_against_the_source_model_in_tf(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(FOUR_MODELS)
    import numpy as np
    import tensorflow as tf

    from converter.evaluation.evaluate import Runner, accuracy, errors

    images = np.random.default_rng(5).random((40, 8, 8, 1), np.float32)
    labels = np.arange(40) % 3
    np.savez(project / "sm/eval.npz", img=images, labels=labels)
    edit(project / "sm/model.yaml", "evaluate: {data: calib.npz}", "evaluate: {data: eval.npz}")
    edit(
        project / "sm/model.yaml",
        'budgets: {"*": {max_size: 1MB}}',
        "budgets: {int8: {max_error: 0}}",
    )
    run = build(project, "--continue", "report")
    section = json.loads((project / "build/sm/int8.report.json").read_text())["accuracy"]
    # The reference, computed here with TF's own API: the SavedModel's serving signature.
    signature = tf.saved_model.load(str(project / "sm/export")).signatures["serving_default"]
    (source,) = [v.numpy() for v in signature(tf.constant(images)).values()]
    int8 = Runner((project / "build/sm/int8.tflite").read_bytes()).run([images])[0]
    expected = errors(source, int8).to_dict()
    assert section["reference"] == "the source model, run in TensorFlow"
    assert section["output"] == pytest.approx(expected, rel=1e-4)
    assert section["data"] == "eval.npz, 40 samples"
    assert section["accuracy"] == round(accuracy(int8, labels), 6)
    assert section["reference_accuracy"] == round(accuracy(source, labels), 6)
    # The float32 variant is measured too: against TF it differs by float rounding only.
    float32 = json.loads((project / "build/sm/float32.report.json").read_text())["accuracy"]
    assert float32["output"]["max_abs_error"] < 1e-5 and float32["output"]["top1_agreement"] == 1
    error = section["max_abs_error"]
    assert error > 0 and f"sm/int8: over budget: max_error is 0, measured {error:.4g}" in run.output
    assert "Traceback" not in run.output
    # A new variant of a model whose source a task makes: the reference comes from the
    # cache (float32's report ran the source on the same inputs), so the deleted source
    # is not made again.
    edit(project / "made/model.yaml", "{float32: {}}", "{float32: {}, f16: {quantize: float16}}")
    assert build(project, "report:made/float32").code == 0
    assert build(project, "convert:made/f16").code == 0
    (project / "made/model.keras").unlink()
    run = build(project, "report:made/f16")
    assert run.code == 0 and "make_model" not in run.executed, run.output
    section = json.loads((project / "build/made/f16.report.json").read_text())["accuracy"]
    assert section["reference"] == "the source model, run in TensorFlow"
    assert section["data"].startswith("no evaluate data: 64 seeded samples")
    # Without a cache the reference is the source model run now: its task makes it first.
    monkeypatch.setenv("TFLITE_BUILD_CACHE", "off")
    (project / "build/made/f16.report.json").unlink()
    run = build(project, "report:made/f16")
    assert run.code == 0 and "make_model" in run.executed, run.output
    assert json.loads((project / "build/made/f16.report.json").read_text())["accuracy"] == section


@pytest.mark.usefixtures("warm_cache")
def test_summary_against_a_baseline_with_a_growth_budget(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(FOUR_MODELS)
    monkeypatch.setenv("TFLITE_BUILD_SAVE_BASELINE", "main")
    run = build(project, "summary")
    assert run.code == 0, run.output
    assert "summary saved in the cache as baseline 'main'" in run.output
    first = json.loads((project / "build/summary.json").read_text())
    assert first["baseline"] is None and (project / "build/summary.html").is_file()
    shutil.copy(project / "build/summary.json", project / "main-summary.json")
    monkeypatch.delenv("TFLITE_BUILD_SAVE_BASELINE")

    # int8 -> float32 weights: over a +2% growth budget.
    edit(
        project / "sm/model.yaml",
        "int8: {quantize: int8, representative: {data: calib.npz}}",
        "int8: {}",
    )
    edit(project / "sm/model.yaml", "{max_size: 1MB}", "{max_size: 1MB, max_size_growth: 2%}")
    before = next(r["size"] for r in first["variants"] if r["variant"] == "int8")
    for baseline in ("cache:main", "main-summary.json"):
        monkeypatch.setenv("TFLITE_BUILD_BASELINE", baseline)
        run = build(project, "summary")
        after = (project / "build/sm/int8.tflite").stat().st_size
        growth = (after - before) / before
        assert run.code != 0 and growth > 0.02
        assert (
            f"sm/int8: over budget: max_size_growth is +2.00%, measured {growth:+.2%} "
            f"({before:,} -> {after:,} bytes against the baseline {baseline})" in run.output
        )
        summary = json.loads((project / "build/summary.json").read_text())
        rows = {(r["model"], r["variant"]): r for r in summary["variants"]}
        assert rows["sm", "int8"]["baseline"]["size_delta"] == after - before
        assert rows["sm", "dynamic"]["baseline"]["size_delta"] == 0
        assert rows["sm", "dynamic"]["budgets_failed"] == 0
        assert summary["baseline"]["source"] == baseline
        assert (
            f"+{after - before:,} B ({growth:+.2%})" in (project / "build/summary.md").read_text()
        )
        assert "Traceback" not in run.output
    # A baseline that is not there is a warning, not a failure: the first run on a new branch.
    monkeypatch.setenv("TFLITE_BUILD_BASELINE", "cache:nope")
    run = build(project, "summary")
    assert run.code == 0 and "warning: no baseline: no summary saved as 'nope'" in run.output
