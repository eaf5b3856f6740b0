"""The task graph doit gets, from the real parsed manifests of a project (no TF, no doit run).

Names, the ``setup`` and ``task_dep`` wiring (a report after its own conversion alone,
not its model's float32 one; a source a user's task makes behind a ``_source:`` gate), targets,
the up-to-date objects and what they hold, and sharding. The files are placeholders:
loading the tasks reads manifests and never a model.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import rules
from rules.actions import convert, report
from rules.build.context import Build
from rules.build.jobs import ConvertJob, ReportJob
from rules.build.variants import ConvertUpToDate
from rules.report.uptodate import ReportUpToDate, WithoutSource
from rules.tasks import in_shard
from tests.support.project import Files, ProjectFactory

# A SavedModel (float32 and a calibrated int8), a source a user's task makes (float16 and
# float32, in that order), and a Python entry without a float32 variant.
THREE_MODELS: Files = {
    "sm/export/saved_model.pb": b"",
    "sm/export/variables/variables.index": b"",
    "sm/calib.npz": b"",
    "sm/model.yaml": """
        source: {saved_model: export}
        variants:
          float32: {}
          int8: {quantize: int8, representative: {data: calib.npz}}
        evaluate: {data: calib.npz}
        budgets: {int8: {max_size: 1MB}}
        """,
    "made/recipe.txt": "v1\n",
    "made/model.yaml": """
        source: {keras: model.keras, task: make_model, deps: [recipe.txt]}
        variants: {f16: {quantize: float16}, float32: {}}
        """,
    "py/entries.py": "def make(): ...\n",
    "py/model.yaml": """
        source: {python: entries.py:make}
        variants: {dynamic: {quantize: dynamic}}
        """,
}
VARIANTS = {"sm/float32", "sm/int8", "made/float32", "made/f16", "py/dynamic"}


def _tasks(root: Path) -> dict[str, dict[str, Any]]:
    """Every task the project's dodo.py gives doit, by its full name (``basename:name``)."""
    found: dict[str, dict[str, Any]] = {}
    for creator, make in rules.doit_tasks(root).items():
        if not creator.startswith("task_"):
            continue
        made = make()
        for task in [made] if isinstance(made, dict) else made:
            base, name = task.get("basename", creator.removeprefix("task_")), task.get("name")
            full = base if name is None else f"{base}:{name}"
            assert full not in found, f"two tasks named {full}"
            found[full] = task
    return found


def _group(tasks: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The subtasks ``kind:<model>/<variant>``, by ``<model>/<variant>``."""
    return {n.partition(":")[2]: t for n, t in tasks.items() if n.startswith(f"{kind}:")}


def _models(names: Iterable[str]) -> set[str]:
    return {name.split(":")[-1].split("/")[0] for name in names}


def test_every_task_name(make_project: ProjectFactory) -> None:
    tasks = _tasks(make_project(THREE_MODELS))
    assert set(_group(tasks, "convert")) == set(_group(tasks, "report")) == VARIANTS
    # Gates only for the model whose source a task makes: the others need no source made.
    assert set(_group(tasks, "_source")) == {"made/float32", "made/f16"}
    assert set(tasks) - {f"{k}:{v}" for k in ("convert", "report", "_source") for v in VARIANTS} == {
        "convert", "report", "summary", "ops", "check", "cache_stats", "cache_prune", "watch",
        "daemon_status", "daemon_stop", "toolchains", "shadow", "shadow:summary",
    }  # fmt: skip
    assert tasks["convert"].keys() == tasks["report"].keys() == {"basename", "name", "doc"}


def test_a_conversion_targets_its_artifact_and_record_and_has_no_file_dep(
    make_project: ProjectFactory,
) -> None:
    root = make_project(THREE_MODELS)
    build_dir = root / "build"
    for name, task in _group(_tasks(root), "convert").items():
        assert task["targets"] == [f"{build_dir}/{name}.tflite", f"{build_dir}/{name}.convert.json"]
        # Inputs are the up-to-date check's to compare: doit would crash on a SavedModel
        # folder as a file_dep, and re-hash touched files forever.
        assert "file_dep" not in task and "task_dep" not in task
        ((action, (job, build)),) = task["actions"]
        assert action is convert.convert and isinstance(job, ConvertJob)
        assert isinstance(build, Build) and job.task == f"convert:{name}"
        (check,) = task["uptodate"]
        assert isinstance(check, ConvertUpToDate)
        assert check.job is job and check.build is build  # the check asks what the action does


def test_no_directory_ever_reaches_doit_as_a_file_dep(make_project: ProjectFactory) -> None:
    """Directories are inputs (a SavedModel), but the up-to-date check's: doit would crash on them."""
    root = make_project(THREE_MODELS)
    tasks = _tasks(root)
    for name, task in tasks.items():
        assert all(not Path(dep).is_dir() for dep in task.get("file_dep", [])), name
    inputs = {
        name: task["uptodate"][0].job.inputs for name, task in _group(tasks, "convert").items()
    }
    assert inputs["sm/float32"] == (root / "sm/export",)
    assert inputs["sm/int8"] == (root / "sm/export", root / "sm/calib.npz")
    # A source a task makes is keyed by what the task reads, not by what it wrote.
    assert inputs["made/float32"] == inputs["made/f16"] == (root / "made/recipe.txt",)
    assert inputs["py/dynamic"] == (root / "py/entries.py",)


def test_the_task_that_makes_a_source_is_a_setup_of_its_conversions_only(
    make_project: ProjectFactory,
) -> None:
    converts = _group(_tasks(make_project(THREE_MODELS)), "convert")
    # `setup`, not `task_dep`: the user's task runs only when the variant is not up to
    # date and not in the cache either.
    assert {name: task["setup"] for name, task in converts.items()} == {
        "sm/float32": [],
        "sm/int8": [],
        "made/float32": ["make_model"],
        "made/f16": ["make_model"],
        "py/dynamic": [],
    }


def test_a_report_follows_its_own_conversion_alone(
    make_project: ProjectFactory,
) -> None:
    root = make_project(THREE_MODELS)
    tasks = _tasks(root)
    reports = _group(tasks, "report")
    assert {name: task["task_dep"] for name, task in reports.items()} == {
        # Its own conversion only: a float32 that fails to convert costs the others nothing.
        "sm/float32": ["convert:sm/float32"],
        "sm/int8": ["convert:sm/int8"],
        "made/float32": ["convert:made/float32"],
        "made/f16": ["convert:made/f16"],
        "py/dynamic": ["convert:py/dynamic"],
    }
    # A serial run still converts float32 before the reports that compare with it.
    assert [n for n in _group(tasks, "convert") if n.startswith("made/")] == [
        "made/f16",
        "made/float32",
    ]
    assert [n for n in reports if n.startswith("made/")] == ["made/float32", "made/f16"]
    for name, task in reports.items():
        assert task["targets"] == [f"{root}/build/{name}.report.json"]
        ((action, (job, build)),) = task["actions"]
        assert action is report.report and isinstance(job, ReportJob) and job.name == name
        (check,) = task["uptodate"]
        assert isinstance(check, ReportUpToDate) and check.job is job and check.state is build.state


def test_a_made_source_is_reached_through_its_gate(make_project: ProjectFactory) -> None:
    tasks = _tasks(make_project(THREE_MODELS))
    reports, gates = _group(tasks, "report"), _group(tasks, "_source")
    assert {name: task["setup"] for name, task in reports.items()} == {
        "sm/float32": [],
        "sm/int8": [],
        "made/float32": ["_source:made/float32"],
        "made/f16": ["_source:made/f16"],
        "py/dynamic": [],
    }
    for name, gate in gates.items():
        # The gate does nothing itself: its setup is the user's task, and its check
        # (true when the cache can do without the source) decides whether that runs.
        assert gate["actions"] == [] and gate["setup"] == ["make_model"]
        (check,) = gate["uptodate"]
        assert isinstance(check, WithoutSource) and check.job.name == name
        ((_, (job, build)),) = reports[name]["actions"]
        assert check.build is build and check.job.task == job.task == f"report:{name}"


def test_the_whole_project_tasks(make_project: ProjectFactory) -> None:
    root = make_project(THREE_MODELS)
    tasks = _tasks(root)
    summary, ops = tasks["summary"], tasks["ops"]
    assert summary["task_dep"] == ["report"] and ops["task_dep"] == ["convert"]
    assert summary["targets"] == [
        f"{root}/build/summary.json",
        f"{root}/build/summary.md",
        f"{root}/build/summary.html",
    ]
    assert ops["targets"] == [f"{root}/build/ops.json", f"{root}/build/register_ops.cc"]
    ((_, (reports, _)),) = summary["actions"]
    assert sorted(reports) == sorted(f"{root}/build/{v}.report.json" for v in VARIANTS)
    ((_, (artifacts, _)),) = ops["actions"]
    assert artifacts == {v: f"{root}/build/{v}.tflite" for v in sorted(VARIANTS)}
    for name in ("summary", "ops", "check", "cache_stats", "cache_prune", "watch"):
        assert tasks[name]["uptodate"] == [False], name  # cheap: always run when asked


def test_shards_cover_every_variant_exactly_once(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {}
    for m in range(12):
        files[f"m{m}/export/saved_model.pb"] = b""
        files[f"m{m}/model.yaml"] = (
            "source: {saved_model: export}\nvariants: {a: {}, b: {}, c: {}}\n"
        )
    root = make_project(files)

    def names() -> set[str]:
        return set(_group(_tasks(root), "convert"))

    everything = names()
    assert len(everything) == 36
    shards = []
    for k in (1, 2, 3):
        monkeypatch.setenv("TFLITE_BUILD_SHARD", f"{k}/3")
        shards.append(names())
    assert set().union(*shards) == everything
    assert sum(len(s) for s in shards) == len(everything)
    assert all(6 <= len(s) <= 18 for s in shards)
    # Whole models: a model's source task runs in one shard only.
    models = [{name.split("/")[0] for name in s} for s in shards]
    assert sum(len(m) for m in models) == 12


def test_a_shard_reports_and_gates_the_models_it_converts(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(THREE_MODELS)
    seen: list[set[str]] = []
    for k in (1, 2):
        monkeypatch.setenv("TFLITE_BUILD_SHARD", f"{k}/2")
        tasks = _tasks(root)
        converted = _models(_group(tasks, "convert"))
        assert _models(_group(tasks, "report")) == converted
        assert _models(_group(tasks, "_source")) == converted & {"made"}
        assert converted == {m for m in ("sm", "made", "py") if in_shard(m, (k, 2))}
        # The whole-project tasks are in every shard: the assemble job runs them.
        assert {"summary", "ops", "convert", "report"} <= set(tasks)
        seen.append(converted)
    assert seen[0] | seen[1] == {"sm", "made", "py"} and not seen[0] & seen[1]


def test_a_models_shard_depends_on_its_name_alone(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stable hash, not an order: more models never move one to another shard."""
    for n in (1, 2, 3, 5):
        for name in [f"model{i}" for i in range(40)]:
            assert sum(in_shard(name, (k, n)) for k in range(1, n + 1)) == 1, (name, n)
    small = make_project(THREE_MODELS, at="small")
    more: dict[str, str | bytes] = {}
    for m in range(9):
        more[f"z{m}/model.yaml"] = "source: {saved_model: export}\nvariants: {a: {}}\n"
        more[f"z{m}/export/saved_model.pb"] = b""
    large = make_project({**THREE_MODELS, **more}, at="large")
    for k in (1, 2, 3):
        monkeypatch.setenv("TFLITE_BUILD_SHARD", f"{k}/3")
        ours = _models(_group(_tasks(small), "convert"))
        assert _models(_group(_tasks(large), "convert")) & {"sm", "made", "py"} == ours
