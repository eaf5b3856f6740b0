"""The workflow emulator itself: what it refuses, and how steps, caches and artifacts behave."""

from __future__ import annotations

import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.project import read_tree
from tests.support.workflow.actions import Caches, WorkflowError
from tests.support.workflow.expressions import ExpressionError, condition, interpolate
from tests.support.workflow.python import ProvisionError, make_python, pip_extras
from tests.support.workflow.repo import commit, git
from tests.support.workflow.runner import Event, Runner


def _repo(root: Path, workflow: str) -> Event:
    """A one-commit repository holding ``workflow``; a push of it to main."""
    root.mkdir()
    (root / "w.yml").write_text(textwrap.dedent(workflow))
    git("-C", str(root), "init", "--quiet")
    git("-C", str(root), "add", "w.yml")
    return Event("push", "refs/heads/main", commit(root, "w"), root)


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
    assert sorted(read_tree(join / "apart")) == ["out-1/sub/1.txt", "out-2/sub/2.txt"]
    assert sorted(caches.keys("refs/heads/main")) == [f"c-{k}-{event.sha}" for k in (1, 2)]
    # A pull request (one more commit) restores main's cache by its restore key, and
    # saves its own under its own ref.
    sha = commit(event.repo, "pr", "--allow-empty")
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


def test_a_cancelled_run_kills_its_running_step_and_starts_no_other(tmp_path: Path) -> None:
    event = _repo(
        tmp_path / "repo",
        """
        on: push
        jobs:
          a:
            runs-on: ubuntu-latest
            steps:
              - run: echo $$ > "$RUNNER_TEMP/pid" && sleep 300
              - run: echo never
          b: {needs: a, runs-on: ubuntu-latest, steps: [{run: echo never}]}
        """,
    )
    runner = Runner(event.repo / "w.yml", tmp_path / "run", Caches(tmp_path / "caches"))
    pid_file = tmp_path / "run/push/a/temp/pid"

    def cancel_once_it_runs() -> None:
        _wait_for(pid_file)
        runner.cancel()

    cancel = threading.Thread(target=cancel_once_it_runs)
    cancel.start()
    with pytest.raises(WorkflowError, match="the run was cancelled"):
        runner.run(event, "push", {})
    cancel.join()
    assert not (tmp_path / "run/push/b").exists()  # the job that needed it never began
    stat = Path(f"/proc/{pid_file.read_text().strip()}/stat")
    for _ in range(100):  # SIGKILL was sent; its delivery takes a moment
        if not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the cancelled step's process survived the cancel")


def _wait_for(path: Path) -> None:
    for _ in range(600):
        if path.exists() and path.read_text().strip():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")
