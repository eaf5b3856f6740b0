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

What is emulated (workflow_runner, workflow_expressions, workflow_actions and ci_python
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
import subprocess
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ci_python import ProvisionError, make_python, pip_extras
from conftest import REPO
from workflow_actions import Caches, WorkflowError
from workflow_expressions import ExpressionError, condition, interpolate
from workflow_runner import Event, Run, Runner

from converter.tflite import modelinfo
from converter.tflite.runtimes import parse_version
from rules.fleet.inventory import Fleet

WORKFLOW = REPO / ".github/workflows/models.yml"
NOT_RUN = {"tests": "it runs bash .ci/run, this very test suite"}
OUTPUTS = (".tflite", ".report.json")
# The pull request: a budget digits/int8 breaches. Budgets key nothing, so nothing is
# converted or measured again; the reports and the summary must say so.
BREACH = ("int8: {max_size: 12KB,", "int8: {max_size: 10KB,")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


def _commit(repo: Path, message: str, *args: str) -> str:
    """Commit what is staged (or ``args``, such as -a) in ``repo``; its sha."""
    identity = ["-c", "user.name=CI", "-c", "user.email=ci@localhost"]
    _git("-C", str(repo), *identity, "commit", "--quiet", "-m", message, *args)
    return _git("-C", str(repo), "rev-parse", "HEAD")


def _on_the_runs(test: Callable[[Runs], None]) -> Callable[[Runs], None]:
    """A test of the two runs: TensorFlow's, and (its fixture) two workflow runs' time."""
    return pytest.mark.tf(pytest.mark.timeout(1200)(test))


@dataclass(frozen=True)
class Runs:
    main: Run
    pr: Run | None  # not run when the push failed
    caches: Caches  # GitHub's Actions cache, as both runs left it


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """A push to main, then a pull request (one more commit) against what it left."""
    root = tmp_path_factory.mktemp("workflow")
    head = _git("-C", str(REPO), "rev-parse", "HEAD")
    caches = Caches(root / "caches")
    runner = Runner(WORKFLOW, root, caches)
    main = runner.run(Event("push", "refs/heads/main", head, REPO), "main", NOT_RUN)
    print(main.report())
    if not all(job.ok or job.name in NOT_RUN for job in main.jobs.values()):
        return Runs(main, None, caches)  # the push's own test says why
    pr_repo = root / "pr-repo"
    _git("clone", "--quiet", "--no-checkout", str(REPO), str(pr_repo))
    _git("-C", str(pr_repo), "checkout", "--quiet", "--detach", head)
    manifest = pr_repo / "example_project/digits/model.yaml"
    tight = manifest.read_text().replace(*BREACH)
    assert tight != manifest.read_text(), f"no {BREACH[0]!r} in {manifest} to tighten"
    manifest.write_text(tight)
    pr_sha = _commit(pr_repo, "digits/int8 under 10 KB", "-a")
    pr = runner.run(Event("pull_request", "refs/pull/1/merge", pr_sha, pr_repo), "pr", NOT_RUN)
    print(pr.report())
    return Runs(main, pr, caches)


def _variants(workspace: Path) -> set[str]:
    """model/variant for every manifest in the example project, read from the YAML alone."""
    found = set()
    for manifest in (workspace / "example_project").rglob("model.yaml"):
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


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


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
    artifact = _tree(main.artifacts / "tflite-models")
    expected = {v + suffix for v in variants for suffix in OUTPUTS}
    assert set(artifact) == expected | {
        "summary.json", "summary.md", "summary.html", "ops.json", "register_ops.cc"
    }  # fmt: skip
    # Byte for byte what the shards built.
    for k in (1, 2):
        build = _tree(main.jobs[f"convert ({k})"].workspace / "example_project/build")
        shared = {n for n in build if n.endswith(".tflite")}
        assert shared and all(artifact[n] == build[n] for n in shared)


@_on_the_runs
def test_the_example_projects_inventory_is_what_tensorflow_reads(runs: Runs) -> None:
    """Every artifact's ops in ops.json, as TF's flatbuffer_utils and Model Analyzer read them."""
    from test_ops import analyzer_ops, tf_ops

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
    assert {"summary.md", "digits/int8.report.json"} <= set(_tree(pr.artifacts / "tflite-models"))


def test_the_tests_job_runs_the_suite_where_it_can_clone_itself() -> None:
    """Not run here (it is this suite); its shape is what the suite relies on."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["tests"]
    pythons = {
        s["with"]["python-version"]
        for j in workflow["jobs"].values()
        for s in j["steps"]
        if str(s.get("uses", "")).startswith("actions/setup-python@")
    }
    # .ci/run installs Debian's packages, and the workflow's Python.
    assert [f"python:{p}-bookworm" for p in pythons] == [job["container"]]
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert job["steps"][0]["uses"] == "actions/checkout@v4" and runs[-1] == "bash .ci/run"
    # In a container the checkout belongs to another user: this suite's git clone of it
    # needs the workspace marked safe, for the whole job.
    assert any("safe.directory" in r and "GITHUB_WORKSPACE" in r for r in runs[:-1])


# --- the emulator itself: what it refuses, and how steps, caches and artifacts behave -----


def _repo(root: Path, workflow: str) -> Event:
    """A one-commit repository holding ``workflow``; a push of it to main."""
    root.mkdir()
    (root / "w.yml").write_text(textwrap.dedent(workflow))
    _git("-C", str(root), "init", "--quiet")
    _git("-C", str(root), "add", "w.yml")
    return Event("push", "refs/heads/main", _commit(root, "w"), root)


def test_expressions_and_conditions() -> None:
    context = {"github": {"ref": "refs/heads/main"}, "matrix": {"shard": 2}, "env": {}}
    assert interpolate("tflite-${{ matrix.shard }}-x", context) == "tflite-2-x"
    assert interpolate(True, context) == "true"
    assert condition("github.ref == 'refs/heads/MAIN'", context, failed=False)
    assert not condition("github.ref == 'refs/heads/main'", context, failed=True)
    assert condition("${{ always() }}", context, failed=True)
    assert not condition(None, context, failed=True) and condition(None, context, failed=False)
    assert condition("!(matrix.shard == 1) && github.ref != ''", context, failed=False)
    with pytest.raises(ExpressionError, match=r"github.head_ref is not emulated"):
        interpolate("${{ github.head_ref }}", context)
    with pytest.raises(ExpressionError, match=r"no function hashFiles\(\) here"):
        condition("hashFiles() != ''", context, failed=False)


def test_an_action_it_does_not_emulate_fails_the_run(tmp_path: Path) -> None:
    event = _repo(
        tmp_path / "repo",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - uses: actions/github-script@v7\n",
    )
    runner = Runner(event.repo / "w.yml", tmp_path / "run", Caches(tmp_path / "caches"))
    with pytest.raises(WorkflowError, match=r"a: actions/github-script@v7 is not emulated"):
        runner.run(event, "push", {})


def test_a_failed_step_skips_what_follows_but_always_and_fails_the_needing_job(
    tmp_path: Path,
) -> None:
    event = _repo(
        tmp_path / "repo",
        """
        on: {push: {branches: [main]}}
        jobs:
          a:
            runs-on: ubuntu-latest
            steps:
              - run: echo "$GREETING from $GITHUB_REF" > said.txt && false
                env: {GREETING: hello}
              - run: echo never
              - if: always()
                run: cat said.txt >> "$GITHUB_STEP_SUMMARY"
          b: {needs: a, runs-on: ubuntu-latest, steps: [{run: echo never}]}
        """,
    )
    runner = Runner(event.repo / "w.yml", tmp_path / "run", Caches(tmp_path / "caches"))
    run = runner.run(event, "push", {})
    a = run.jobs["a"]
    assert [s.outcome for s in a.steps] == ["failure", "skipped", "success"]
    assert a.summary == "hello from refs/heads/main\n" and not a.ok
    assert run.jobs["b"].skipped == "a job it needs failed"


def test_what_a_job_leaves_running_is_stopped_when_it_ends(tmp_path: Path) -> None:
    event = _repo(
        tmp_path / "repo",
        """
        on: push
        jobs:
          a:
            runs-on: ubuntu-latest
            steps:
              - run: sleep 300 & echo $! > "$RUNNER_TEMP/pid"
              - run: kill -0 "$(cat "$RUNNER_TEMP/pid")"
        """,
    )
    runner = Runner(event.repo / "w.yml", tmp_path / "run", Caches(tmp_path / "caches"))
    job = runner.run(event, "push", {}).jobs["a"]
    assert job.ok, job.report()  # the next step still saw it, as on a runner
    stat = Path(f"/proc/{(tmp_path / 'run/push/a/temp/pid').read_text().strip()}/stat")
    for _ in range(100):  # SIGKILL was sent; its delivery takes a moment
        if not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the job's background sleep survived it")


def test_caches_and_artifacts_move_folders_as_github_does(tmp_path: Path) -> None:
    event = _repo(
        tmp_path / "repo",
        """
        on: [push, pull_request]
        jobs:
          make:
            runs-on: ubuntu-latest
            strategy: {matrix: {k: [1, 2]}}
            steps:
              - uses: actions/checkout@v4
              - uses: actions/cache@v4
                with: {path: .c, key: "c-${{ matrix.k }}-${{ github.sha }}", restore-keys: "c-${{ matrix.k }}-"}
              - run: mkdir -p .c out/sub && echo ${{ matrix.k }} >> .c/log && cp .c/log out/sub/${{ matrix.k }}.txt
              - uses: actions/upload-artifact@v4
                with: {name: "part-${{ matrix.k }}", path: .c, include-hidden-files: true}
              - uses: actions/upload-artifact@v4
                with: {name: "out-${{ matrix.k }}", path: "out/**/*.txt"}
          join:
            needs: make
            runs-on: ubuntu-latest
            steps:
              - uses: actions/download-artifact@v4
                with: {pattern: "part-*", merge-multiple: true, path: merged}
              - uses: actions/download-artifact@v4
                with: {pattern: "out-*", path: apart}
        """,
    )
    caches = Caches(tmp_path / "caches")
    runner = Runner(event.repo / "w.yml", tmp_path / "run", caches)
    first = runner.run(event, "one", {})
    assert all(j.ok for j in first.jobs.values()), first.report()
    join = first.jobs["join"].workspace
    assert (join / "merged/log").read_text() in ("1\n", "2\n")  # the same file: one wins
    assert sorted(_tree(join / "apart")) == ["out-1/sub/1.txt", "out-2/sub/2.txt"]
    assert sorted(caches.keys("refs/heads/main")) == [f"c-{k}-{event.sha}" for k in (1, 2)]
    # A pull request (one more commit) restores main's cache by its restore key, and
    # saves its own under its own ref.
    sha = _commit(event.repo, "pr", "--allow-empty")
    pr = Event("pull_request", "refs/pull/1/merge", sha, event.repo)
    second = runner.run(pr, "two", {})
    made = second.jobs["make (1)"]
    assert made.step("actions/cache@v4").log == f"cache restored from key c-1-{event.sha}"
    assert (made.workspace / ".c/log").read_text() == "1\n1\n"
    assert sorted(caches.keys(pr.ref)) == [f"c-{k}-{pr.sha}" for k in (1, 2)]


def test_the_assemble_python_sees_no_extra(tmp_path: Path) -> None:
    """The layer behind ``pip install -e .`` hides what only the extras bring."""
    assert pip_extras(["pip install -e .", "doit convert"]) == set()
    assert pip_extras(["pip install -q -e '.[dev,remote]' && doit"]) == {"dev", "remote"}
    assert pip_extras(["doit convert"]) is None
    with pytest.raises(ProvisionError, match="cannot provide 'requests'"):
        pip_extras(["pip install requests"])
    make_python(tmp_path / "py", REPO / "pyproject.toml", set())
    probe = "import importlib.util as u; print([u.find_spec(m) is None for m in ARGS])"
    found = subprocess.run(
        [
            str(tmp_path / "py/bin/python"),
            "-c",
            probe.replace("ARGS", repr(["sklearn", "pytest", "yaml", "doit"])),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert found.stdout.strip() == "[True, True, False, False]"
    assert (tmp_path / "py/bin/doit").is_file()
