""".github/workflows/models.yml, run job by job in fresh clones of this repository's HEAD.

Two runs, as GitHub would make them: a push to main (the two ``convert`` shards at
once, then ``assemble``), then a pull request, one more commit that tightens a budget
past what digits/int8 measures, against the caches and the baseline that push left.
The shards really convert: the cache starts empty. What the workflow promises is then
checked: every job of the push succeeds; the shards convert each variant once between
them; ``assemble`` builds nothing and measures nothing (every artifact and report from
the merged caches, none of the project's own tasks run); the summary lists every
variant; the ``tflite-models`` artifact holds every .tflite, report and summary, byte
for byte what the shards built; main keeps its summary as the baseline. The pull
request converts and measures nothing, fails on its breach, and still shows its whole
summary, compared with main's, on the run's page and in the artifact; it keeps no
baseline.

What is emulated (tests/support/workflow: runner, expressions, actions and python
hold the detail):

- Each job in its own ``git clone`` of the committed HEAD (commit before running this),
  checked out detached at the event's commit, with its own HOME, RUNNER_TEMP and an
  environment built from scratch (a runner's PATH and GITHUB_* variables, then the
  workflow's, job's and step's ``env``); jobs in ``needs`` order, a matrix at once.
- ``${{ }}`` expressions and ``if:`` (status functions included) over the contexts
  github (workspace, sha, ref, event_name, job), matrix, env and runner.
- ``run:`` steps through ``bash -e {0}``, GitHub's command when no shell is named (not
  ``-o pipefail``: that is ``shell: bash``'s), with GITHUB_STEP_SUMMARY a file; what
  a step leaves running is killed when its job ends. GITHUB_ENV, GITHUB_OUTPUT and
  GITHUB_PATH are not provided: a step writing them fails.
- actions/checkout (the clone); actions/cache, cache/restore and cache/save (a store of
  folders by key, paths and ref, matched as GitHub matches: exact key, then prefixes,
  the run's ref before the base branch's; saved after a successful job unless the key
  hit); actions/upload-artifact and download-artifact (folders, laid out as those
  actions lay them out, hidden files and ``merge-multiple`` included).
- actions/setup-python: a venv layered on this test's own site-packages, so each ``pip
  install -e ...`` step runs as written, offline (PIP_NO_INDEX) and without build
  isolation (the layer holds setuptools and wheel, as isolation would), and installs
  only the project; the venv's bin holds the exposed distributions' scripts (doit).
  The layer exposes only the distributions that the job's own ``pip install`` lines
  would bring (the closure of the project's requirements for the extras they name),
  never all that is installed here: ``assemble`` installs no extra, so it sees no
  scikit-learn, and fails here as on a runner if it needs it.
- Any other action, version, input or job key is refused with an error naming it, so
  no step is ever skipped quietly.

Not emulated: separate machines (every job here shares one host, so latency measured by
a shard is reused where separate runners would re-measure the figures a latency budget
needs), the download of the dependencies (TensorFlow is this test's own), the pip
cache, fail-fast (a matrix's jobs all run to their end), and the ``tests`` job, which
runs ``bash .ci/run``, this very suite (running it here would recurse): its shape is
checked instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from converter.tflite import modelinfo
from converter.tflite.runtimes import parse_version
from rules.fleet.inventory import Fleet
from tests.support.project import read_tree
from tests.support.workflow.scenario import InBackground, Runs

OUTPUTS = (".tflite", ".report.json")


def _on_the_runs(test: Callable[[Runs], None]) -> Callable[[Runs], None]:
    """A test of the two runs: TensorFlow's, and (its fixture) two workflow runs' time."""
    return pytest.mark.tf(pytest.mark.timeout(1200)(test))


@pytest.fixture(scope="module")
def runs(workflow_runs: InBackground | None) -> Runs:
    """A push to main, then a pull request against what it left (started early: see the
    ``workflow_runs`` fixture)."""
    assert workflow_runs is not None, "the session did not start the workflow's runs"
    done = workflow_runs.result()
    print(done.report())
    return done


def _variants(workspace: Path) -> set[str]:
    """model/variant for every manifest the example project builds by default (its
    ``manifests`` glob: one level deep), read from the YAML alone."""
    found = set()
    for manifest in (workspace / "example_project").glob("*/model.yaml"):
        spec = yaml.safe_load(manifest.read_text())
        found |= {f"{spec.get('name', manifest.parent.name)}/{v}" for v in spec["variants"]}
    return found


def _counts(output: str) -> tuple[int, int]:
    """(built, from cache) from the line every doit run ends with."""
    line = next(li for li in output.splitlines() if li.startswith("tflite-build: "))
    words = line.split()
    return int(words[1]), int(words[3])


def _rows(markdown: str) -> dict[str, str]:
    """model/variant -> its row, from the summary table in ``markdown``."""
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if line.startswith("| ") and len(cells) > 3:
            rows[f"{cells[1]}/{cells[2]}"] = line
    return rows


@_on_the_runs
def test_every_job_of_a_push_to_main_succeeds(runs: Runs) -> None:
    main = runs.main
    assert set(main.jobs) == {"convert (1)", "convert (2)", "assemble", "tests"}
    assert all(main.jobs[j].ok for j in ("convert (1)", "convert (2)", "assemble")), main.report()


@_on_the_runs
def test_the_shards_convert_every_variant_once_between_them(runs: Runs) -> None:
    main = runs.main
    shards = [main.jobs[f"convert ({k})"] for k in (1, 2)]
    variants = _variants(shards[0].workspace)
    assert len(variants) == 20
    built = [_counts(job.step("doit convert").log) for job in shards]
    assert all(b > 0 and c == 0 for b, c in built), built
    assert sum(b for b, _ in built) == len(variants)
    made = [
        {
            p.relative_to(j.workspace / "example_project/build").with_suffix("").as_posix()
            for p in (j.workspace / "example_project/build").rglob("*.tflite")
        }
        for j in shards
    ]
    assert made[0] | made[1] == variants and not made[0] & made[1]


@_on_the_runs
def test_assemble_takes_everything_from_the_cache(runs: Runs) -> None:
    main = runs.main
    assemble = main.jobs["assemble"]
    variants = _variants(assemble.workspace)
    assert _counts(assemble.step("Build everything (all from the cache)").log) == (0, len(variants))
    log = assemble.step("Reports and summary, against main's").log
    assert log.count("(measurements from the cache)") == len(variants), log
    # None of the project's own tasks ran: the sources they write are absent.
    sources = [
        "digits/export",
        "mobilenet/mobilenet.keras",
        "frozen_graph/graph.pb",
        "keras_h5/model.h5",
        "outlier/model.keras",
    ]
    assert not [s for s in sources if (assemble.workspace / "example_project" / s).exists()]


@_on_the_runs
def test_the_summary_shows_every_variant(runs: Runs) -> None:
    main = runs.main
    assemble = main.jobs["assemble"]
    assert _variants(assemble.workspace) <= set(_rows(assemble.summary)), assemble.summary
    summary = json.loads((assemble.workspace / "example_project/build/summary.json").read_text())
    listed = {f"{v['model']}/{v['variant']}" for v in summary["variants"]}
    assert listed == _variants(assemble.workspace) and not summary["missing_reports"]


@_on_the_runs
def test_the_models_artifact_holds_every_model_report_and_summary(runs: Runs) -> None:
    main = runs.main
    variants = _variants(main.jobs["assemble"].workspace)
    artifact = read_tree(main.artifacts / "tflite-models")
    expected = {v + suffix for v in variants for suffix in OUTPUTS}
    assert set(artifact) == expected | {
        "summary.json", "summary.md", "summary.html", "ops.json", "register_ops.cc"
    }  # fmt: skip
    # Byte for byte what the shards built.
    for k in (1, 2):
        build = read_tree(main.jobs[f"convert ({k})"].workspace / "example_project/build")
        shared = {n for n in build if n.endswith(".tflite")}
        assert shared and all(artifact[n] == build[n] for n in shared)


@_on_the_runs
def test_the_example_projects_inventory_is_what_tensorflow_reads(runs: Runs) -> None:
    """Every artifact's ops in ops.json, as TF's flatbuffer_utils and Model Analyzer read them."""
    from tests.support.tflite_ops import analyzer_ops, tf_ops

    build = runs.main.jobs["assemble"].workspace / "example_project/build"
    inventory = json.loads((build / "ops.json").read_text())
    assert set(inventory["variants"]) == _variants(runs.main.jobs["assemble"].workspace)
    fleet = Fleet.from_dict(inventory)
    for name, variant in fleet.variants.items():
        data = (build / f"{name}.tflite").read_bytes()
        assert dict(variant.ops) == tf_ops(data), name
        assert set(variant.ops) == analyzer_ops(data), name
        metadata = modelinfo.min_runtime_version(data)
        assert parse_version(variant.runtime) >= parse_version(metadata), name
    assert inventory["fleet"]["runtime_because"] == "mobilenet/dynamic: FULLY_CONNECTED v12"


@_on_the_runs
def test_main_keeps_its_summary_as_the_baseline(runs: Runs) -> None:
    main, assemble = runs.main, runs.main.jobs["assemble"]
    key = f"tflite-baseline-{main.event.sha}"
    assert key in runs.caches.keys(main.event.ref)
    kept = runs.caches.folder(key, main.event.ref) / ".tflite-baseline/summary.json"
    built = assemble.workspace / "example_project/build/summary.json"
    assert kept.read_bytes() == built.read_bytes()


@_on_the_runs
def test_a_pull_request_over_budget_fails_and_shows_its_summary(runs: Runs) -> None:
    """Main's caches serve it; the breach fails assemble, and still every variant is shown."""
    main, pr = runs.main, runs.pr
    assert pr is not None, "the push to main failed"
    for k in (1, 2):
        job = pr.jobs[f"convert ({k})"]
        assert job.ok, pr.report()
        assert job.step("Restore this shard's cache").log.endswith(f"tflite-{k}-{main.event.sha}")
        assert _counts(job.step("doit convert").log)[0] == 0
    assemble = pr.jobs["assemble"]
    restored = assemble.step("Restore main's summary (the baseline)").log
    assert restored.endswith(f"tflite-baseline-{main.event.sha}")
    failed = [s for s in assemble.steps if s.outcome == "failure"]
    assert [s.name for s in failed] == ["Reports and summary, against main's"], pr.report()
    assert "digits/int8: over budget: max_size is 10,000 bytes" in failed[0].log
    # The run's page shows the whole table, the breach in it, against main's baseline.
    rows = _rows(assemble.summary)
    assert set(rows) >= _variants(assemble.workspace), assemble.summary
    assert "❌ 1 over" in rows["digits/int8"] and "Against the baseline" in assemble.summary
    assert "Ops against the baseline: nothing new." in assemble.summary
    summary = json.loads((assemble.workspace / "example_project/build/summary.json").read_text())
    assert summary["baseline"]["total_delta"] == 0
    # No baseline kept from a pull request; the models and the summary still uploaded.
    assert assemble.step("Keep this summary as the baseline (main only)").outcome == "skipped"
    assert not [k for k in runs.caches.keys(pr.event.ref) if k.startswith("tflite-baseline-")]
    assert {"summary.md", "digits/int8.report.json"} <= set(
        read_tree(pr.artifacts / "tflite-models")
    )
