"""The two runs tests/integration/test_workflow.py checks, and a way to have them run meanwhile.

A push to main (its ``convert`` shards at once, then ``assemble``), then a pull
request, one more commit that tightens a budget past what digits/int8 measures,
against the caches and the baseline the push left.

``InBackground`` starts both runs on a thread of their own. Their jobs are processes
(git, pip, doit, TensorFlow), so the thread only waits, and while one shard converts
alone the machine's other core would idle: the session fixture in
tests/integration/conftest.py starts them with the first integration test, and the
workflow's tests, which run last, take the result (or its exception). A session that
ends first cancels them, killing every step that still runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO
from tests.support.workflow.actions import Caches
from tests.support.workflow.repo import commit, git
from tests.support.workflow.runner import Event, Run, Runner

WORKFLOW = REPO / ".github/workflows/models.yml"
NOT_RUN = {"tests": "it runs bash .ci/run, this very test suite"}
# The pull request: a budget digits/int8 breaches. Budgets key nothing, so nothing is
# converted or measured again; the reports and the summary must say so.
BREACH = ("int8: {max_size: 12KB,", "int8: {max_size: 10KB,")
WAIT = 1800.0  # seconds: a hang guard far above the runs' minute or two


@dataclass(frozen=True)
class Runs:
    main: Run
    pr: Run | None  # not run when the push failed
    caches: Caches  # GitHub's Actions cache, as both runs left it

    def report(self) -> str:
        return "\n".join(run.report() for run in (self.main, self.pr) if run is not None)


def push_then_pull_request(runner: Runner, root: Path) -> Runs:
    """A push of this repository's HEAD to main, then a pull request (one more commit) on it."""
    head = git("-C", str(REPO), "rev-parse", "HEAD")
    main = runner.run(Event("push", "refs/heads/main", head, REPO), "main", NOT_RUN)
    if not all(job.ok or job.name in NOT_RUN for job in main.jobs.values()):
        return Runs(main, None, runner.caches)  # the push's own test says why
    pr_repo = root / "pr-repo"
    git("clone", "--quiet", "--no-checkout", str(REPO), str(pr_repo))
    git("-C", str(pr_repo), "checkout", "--quiet", "--detach", head)
    manifest = pr_repo / "example_project/digits/model.yaml"
    tight = manifest.read_text().replace(*BREACH)
    if tight == manifest.read_text():
        raise AssertionError(f"no {BREACH[0]!r} in {manifest} to tighten")
    manifest.write_text(tight)
    pr_sha = commit(pr_repo, "digits/int8 under 10 KB", "-a")
    pr = runner.run(Event("pull_request", "refs/pull/1/merge", pr_sha, pr_repo), "pr", NOT_RUN)
    return Runs(main, pr, runner.caches)


class InBackground:
    """``push_then_pull_request`` under ``root``, started now on a thread of its own."""

    def __init__(self, root: Path) -> None:
        self.runner = Runner(WORKFLOW, root, Caches(root / "caches"))
        self._runs: Runs | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._go, args=(root,), name="workflow runs")
        self._thread.start()

    def _go(self, root: Path) -> None:
        try:
            self._runs = push_then_pull_request(self.runner, root)
        except BaseException as e:  # re-raised by result(), in the test that asks
            self._error = e

    def result(self) -> Runs:
        """The runs, once done; what stopped them, raised here."""
        self._thread.join(timeout=WAIT)
        if self._thread.is_alive():
            self.stop()
            raise TimeoutError(f"the workflow runs took more than {WAIT:g} s")
        if self._error is not None:
            raise self._error
        assert self._runs is not None
        return self._runs

    def stop(self) -> None:
        """Cancel the runs if they still go (every step's session killed), and wait for the thread."""
        if self._thread.is_alive():
            self.runner.cancel()
            self._thread.join(timeout=120)
