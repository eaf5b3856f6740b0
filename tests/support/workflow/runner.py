"""A GitHub Actions workflow, run here: each job in a fresh clone, the actions it uses emulated.

What is emulated, and how (everything lives under one folder of the caller's):

- Jobs run in ``needs`` order, a matrix's entries at once, each in its own
  workspace (a ``git clone`` of the repository, checked out detached at the event's
  commit) with its own HOME and RUNNER_TEMP, and an environment made from scratch: a
  runner's PATH and variables (CI, GITHUB_WORKSPACE, GITHUB_SHA, GITHUB_REF, ...),
  then the workflow's, the job's and the step's ``env``. Nothing of the test's own
  environment leaks in (no PYTHONPATH, no TFLITE_BUILD_*).
- Expressions and ``if:``: see the expressions module. Contexts: github (workspace, sha,
  ref, event_name, job), matrix, env and runner.
- ``run:`` steps: a script file run by ``bash -e {0}`` (GitHub's command when no shell
  is named) or, with ``shell: bash``, ``bash --noprofile --norc -eo pipefail {0}``;
  GITHUB_STEP_SUMMARY is a file per step, gathered into the job's summary. Each step
  runs in a session of its own: what it leaves running is killed when the job ends (a
  runner cleans up orphan processes so), and the whole step after STEP_TIMEOUT.
- ``actions/checkout``: the clone. ``actions/setup-python``: see the python module (and, with
  ``cache: pip``, the check that a requirements.txt or pyproject.toml exists).
- ``actions/cache`` (restore, then a save after a successful job unless the key hit),
  ``actions/cache/restore``, ``actions/cache/save``, ``actions/upload-artifact`` and
  ``actions/download-artifact``: folder copies, see the actions module.
- Any other action, version, input, or key of a job or step is refused with an error
  naming it: a step this harness cannot run fails the test, never is skipped.
- ``Runner.cancel`` (from another thread) stops a run as GitHub cancels one: the steps
  running are killed with their sessions, and no other step starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from tests.support.workflow.actions import (
    Caches,
    StepFailed,
    WorkflowError,
    copy,
    download,
    lines,
    upload,
)
from tests.support.workflow.expressions import condition, interpolate
from tests.support.workflow.python import PIP_ENV, make_python, pip_extras

STEP_TIMEOUT = 900  # seconds; a hang guard, far above what any step here takes
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WORKFLOW_KEYS = {"name", "on", True, "env", "jobs"}  # YAML 1.1 reads a bare `on` as True
JOB_KEYS = {"name", "runs-on", "needs", "if", "strategy", "env", "steps"}
STEP_KEYS = {"name", "uses", "with", "run", "shell", "env", "if"}
SHELLS = {None: ["bash", "-e"], "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}
ACTIONS = {  # action -> (the version emulated, the inputs understood)
    "actions/checkout": ("v4", set()),
    "actions/setup-python": ("v5", {"python-version", "cache"}),
    "actions/cache": ("v4", {"path", "key", "restore-keys"}),
    "actions/cache/restore": ("v4", {"path", "key", "restore-keys"}),
    "actions/cache/save": ("v4", {"path", "key"}),
    "actions/upload-artifact": ("v4", {"name", "path", "include-hidden-files", "retention-days"}),
    "actions/download-artifact": ("v4", {"name", "pattern", "merge-multiple", "path"}),
}


@dataclass(frozen=True)
class Event:
    """What triggered the run: a push to a branch, or a pull request into ``base``."""

    name: str  # "push" or "pull_request"
    ref: str  # refs/heads/main, refs/pull/1/merge
    sha: str
    repo: Path  # where actions/checkout clones from
    base: str = "main"  # the default branch, whose caches a pull request may read

    def scopes(self) -> list[str]:
        """The refs whose caches this run may restore, in the order GitHub tries them."""
        return [self.ref] + ([f"refs/heads/{self.base}"] if self.name == "pull_request" else [])


@dataclass
class Step:
    name: str  # its name:, else its uses: or run: text
    outcome: str  # success, failure or skipped
    log: str
    seconds: float


@dataclass
class Job:
    name: str  # "convert (1)"
    workspace: Path
    steps: list[Step] = field(default_factory=list)
    summary: str = ""  # what the steps wrote to GITHUB_STEP_SUMMARY
    skipped: str = ""  # why the job did not run

    @property
    def ok(self) -> bool:
        return not self.skipped and all(s.outcome != "failure" for s in self.steps)

    def step(self, name: str) -> Step:
        found = [s for s in self.steps if s.name == name]
        assert len(found) == 1, (
            f"{self.name}: no one step {name!r} in {[s.name for s in self.steps]}"
        )
        return found[0]

    def report(self) -> str:
        """Each step's outcome and time, with the end of a failed step's log."""
        out = [f"{self.name}: {'ok' if self.ok else self.skipped or 'failed'}"]
        for s in self.steps:
            out.append(f"  {s.outcome:8} {s.seconds:6.1f} s  {s.name.splitlines()[0]}")
            if s.outcome == "failure":
                out.append("    | " + s.log[-6000:].replace("\n", "\n    | "))
        return "\n".join(out)


@dataclass
class Run:
    event: Event
    jobs: dict[str, Job]  # by title: "convert (1)", "assemble"
    artifacts: Path  # one folder per uploaded artifact

    def report(self) -> str:
        return "\n".join(job.report() for job in self.jobs.values())


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _kill(session: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(session, signal.SIGKILL)


class Runner:
    """One workflow file's jobs, run for an event; ``skip`` names the jobs not run, and why."""

    def __init__(self, workflow: Path, root: Path, caches: Caches) -> None:
        self.spec = yaml.safe_load(workflow.read_text())
        self.root, self.caches = root, caches
        # ``cancel`` (from another thread) stops the run: no new step, and each step's
        # session killed, as a cancelled run on GitHub.
        self.cancelled = threading.Event()
        self._sessions: set[int] = set()
        self._lock = threading.Lock()
        unknown = set(self.spec) - WORKFLOW_KEYS
        if unknown:
            raise WorkflowError(f"{workflow}: keys not emulated: {sorted(map(str, unknown))}")

    def cancel(self) -> None:
        """Stop the run: the steps running now are killed, no other starts."""
        self.cancelled.set()
        with self._lock:
            for session in self._sessions:
                _kill(session)

    def started(self, session: int) -> None:
        """A step's session began: ``cancel`` kills it too (one started after is killed at once)."""
        with self._lock:
            self._sessions.add(session)
            if self.cancelled.is_set():
                _kill(session)

    def triggers(self, event: Event) -> bool:
        on = self.spec.get("on", self.spec.get(True)) or {}
        if not isinstance(on, dict):  # `on: push` or `on: [push, pull_request]`
            on = dict.fromkeys([on] if isinstance(on, str) else on)
        if event.name not in on:
            return False
        branches = (on[event.name] or {}).get("branches")
        branch = event.ref.removeprefix("refs/heads/") if event.name == "push" else event.base
        return branches is None or branch in branches

    def run(self, event: Event, label: str, skip: Mapping[str, str]) -> Run:
        if not self.triggers(event):
            raise WorkflowError(f"the workflow does not run on {event.name} to {event.ref}")
        run = Run(event, {}, self.root / label / "artifacts")
        done: dict[str, bool] = {}  # job -> succeeded
        pending = dict(self.spec["jobs"])
        while pending:
            if self.cancelled.is_set():
                raise WorkflowError("the run was cancelled")
            ready = [n for n, job in pending.items() if all(d in done for d in _needs(job))]
            if not ready:
                raise WorkflowError(f"jobs {sorted(pending)} need jobs that do not exist")
            for name in ready:
                job = pending.pop(name)
                if name in skip:
                    run.jobs[name] = Job(name, Path(), skipped=f"not run here: {skip[name]}")
                    done[name] = False  # a job that needs it would be skipped, and fail the run
                elif not all(done[d] for d in _needs(job)):
                    run.jobs[name] = Job(name, Path(), skipped="a job it needs failed")
                    done[name] = False
                else:
                    done[name] = self._matrix(run, label, name, job)
        return run

    def _matrix(self, run: Run, label: str, name: str, job: dict[str, Any]) -> bool:
        unknown = set(job) - JOB_KEYS
        if unknown:
            raise WorkflowError(f"job {name}: keys not emulated: {sorted(unknown)}")
        strategy = job.get("strategy") or {}
        matrix = strategy.get("matrix", {})
        if set(strategy) - {"matrix"} or not all(isinstance(v, list) for v in matrix.values()):
            raise WorkflowError(f"job {name}: only a matrix of plain lists is emulated")
        entries = [dict(zip(matrix, v, strict=True)) for v in product(*matrix.values())]
        titles = [f"{name} ({', '.join(map(str, e.values()))})" if e else name for e in entries]
        # A matrix's jobs run at once, as on GitHub.
        with ThreadPoolExecutor(len(entries)) as pool:
            results = pool.map(
                lambda te: _JobRun(self, run, label, name, te[0], job, te[1]).go(),
                zip(titles, entries, strict=True),
            )
            run.jobs.update(zip(titles, results, strict=True))
        return all(run.jobs[t].ok for t in titles)


class _JobRun:
    """One job of one run: its workspace, environment, steps and post steps."""

    def __init__(
        self,
        runner: Runner,
        run: Run,
        label: str,
        name: str,
        title: str,
        spec: dict[str, Any],
        matrix: dict[str, Any],
    ) -> None:
        self.runner = runner
        self.caches, self.event, self.artifacts, self.spec = (
            runner.caches,
            run.event,
            run.artifacts,
            spec,
        )
        home = runner.root / label / re.sub(r"[^\w]+", "-", title).strip("-")
        self.temp, self.python = home / "temp", home / "python"
        self.job = Job(title, home / "work" / "tflite-build")
        for folder in (self.job.workspace, self.temp, home / "home"):
            folder.mkdir(parents=True)
        workspace = str(self.job.workspace)
        self.context: dict[str, Any] = {
            "github": {
                "workspace": workspace,
                "sha": self.event.sha,
                "ref": self.event.ref,
                "event_name": self.event.name,
                "job": name,
            },
            "matrix": matrix,
            "runner": {"os": "Linux", "temp": str(self.temp)},
            "env": {},
        }
        self.env = {
            "PATH": SYSTEM_PATH,
            "HOME": str(home / "home"),
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.temp),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": workspace,
            "GITHUB_SHA": self.event.sha,
            "GITHUB_REF": self.event.ref,
            "GITHUB_EVENT_NAME": self.event.name,
            "GITHUB_JOB": name,
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(self.temp),
        }
        for scope in (runner.spec.get("env"), spec.get("env")):
            for key, value in (scope or {}).items():
                self.context["env"][key] = interpolate(value, self.context)
        self.posts: list[tuple[tuple[str, ...], str, bool]] = []  # caches to save: paths, key, hit
        self.sessions: list[int] = []  # each run: step's, to kill what it left at the end

    def go(self) -> Job:
        if not self._if(self.spec.get("if"), self.context):
            self.job.skipped = "its if: is false"
            return self.job
        for index, step in enumerate(self.spec["steps"]):
            if set(step) - STEP_KEYS or ("uses" in step) == ("run" in step):
                raise WorkflowError(
                    f"{self.job.name}: step {index + 1} has keys {sorted(step)}: "
                    f"exactly one of uses and run is needed, and no key but {sorted(STEP_KEYS)}"
                )
            name = str(step.get("name") or step.get("uses") or step["run"]).strip()
            context = {**self.context, "env": dict(self.context["env"])}
            for key, value in (step.get("env") or {}).items():
                context["env"][key] = interpolate(value, context)
            if not self._if(step.get("if"), context):
                self.job.steps.append(Step(name, "skipped", "", 0.0))
                continue
            if self.runner.cancelled.is_set():
                self.job.steps.append(Step(name, "failure", "the run was cancelled", 0.0))
                break
            start = time.monotonic()
            try:
                if "run" in step:
                    log = self.shell(index, step, context)
                else:
                    log = self.action(step, context)
                outcome = "success"
            except StepFailed as e:
                outcome, log = "failure", str(e)
            self.job.steps.append(Step(name, outcome, log, time.monotonic() - start))
        for paths, key, hit in self.posts:  # actions/cache's post step runs on success only
            if self.job.ok and not hit:
                note = self.caches.save(self.event.ref, paths, key, self.job.workspace)
                self.job.steps.append(Step(f"Post cache {key}", "success", note, 0.0))
        for session in self.sessions:  # what the steps left running, as a runner cleans up
            _kill(session)
        return self.job

    def _if(self, text: Any, context: Mapping[str, Any]) -> bool:
        return condition(text, context, failed=not self.job.ok)

    def shell(self, index: int, step: dict[str, Any], context: dict[str, Any]) -> str:
        if step.get("shell") not in SHELLS:
            raise WorkflowError(f"{self.job.name}: shell {step['shell']!r} is not emulated")
        script = self.temp / f"step-{index + 1}.sh"
        script.write_text(interpolate(step["run"], context))
        summary = self.temp / f"summary-{index + 1}.md"
        summary.touch()
        log = self.temp / f"step-{index + 1}.log"  # kept, for a look after a failure
        with log.open("w") as out:
            # A session of its own: a step that hangs is stopped with all it started.
            step_process = subprocess.Popen(
                [*SHELLS[step.get("shell")], str(script)],
                cwd=self.job.workspace,
                env={**self.env, **context["env"], "GITHUB_STEP_SUMMARY": str(summary)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.sessions.append(step_process.pid)
            self.runner.started(step_process.pid)
            try:
                code = str(step_process.wait(timeout=STEP_TIMEOUT))
            except subprocess.TimeoutExpired:
                _kill(step_process.pid)
                step_process.wait()
                code = f"none: killed after {STEP_TIMEOUT} s"
        self.job.summary += summary.read_text()
        output = log.read_text()
        if code != "0":
            raise StepFailed(f"{output}\nexit status {code}")
        return output

    def action(self, step: dict[str, Any], context: dict[str, Any]) -> str:
        uses, _, version = str(step["uses"]).partition("@")
        if uses not in ACTIONS or ACTIONS[uses][0] != version:
            raise WorkflowError(f"{self.job.name}: {step['uses']} is not emulated by this harness")
        given = {k: interpolate(v, context) for k, v in (step.get("with") or {}).items()}
        unknown = set(given) - ACTIONS[uses][1]
        if unknown:
            raise WorkflowError(f"{self.job.name}: {step['uses']}: inputs not emulated: {unknown}")
        handlers: dict[str, Callable[[dict[str, str]], str]] = {
            "actions/checkout": self.checkout,
            "actions/setup-python": self.setup_python,
            "actions/cache": lambda g: self.restore(g, post=True),
            "actions/cache/restore": lambda g: self.restore(g, post=False),
            "actions/cache/save": self.save,
            "actions/upload-artifact": self.upload,
            "actions/download-artifact": self.download,
        }
        return handlers[uses](given)

    def checkout(self, given: dict[str, str]) -> str:
        workspace = str(self.job.workspace)
        for args in (
            ["clone", "--quiet", "--no-checkout", str(self.event.repo), workspace],
            ["-C", workspace, "checkout", "--quiet", "--detach", self.event.sha],
        ):
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise StepFailed(f"git {' '.join(args)}: {done.stderr}")
        return f"checked out {self.event.sha}"

    def setup_python(self, given: dict[str, str]) -> str:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        if given.get("python-version") != here:
            raise WorkflowError(
                f"{self.job.name}: setup-python {given.get('python-version')}: this harness "
                f"layers on the Python running it, {here}"
            )
        if given.get("cache") not in (None, "pip"):
            raise WorkflowError(f"{self.job.name}: setup-python cache {given['cache']!r}")
        workspace = self.job.workspace
        if given.get("cache") == "pip" and not any(
            any(workspace.glob(f"**/{n}")) for n in ("requirements.txt", "pyproject.toml")
        ):
            raise StepFailed(f"No file in {workspace} matched to a pip dependency file")
        runs = [interpolate(s["run"], self.context) for s in self.spec["steps"] if "run" in s]
        make_python(self.python, workspace / "pyproject.toml", pip_extras(runs))
        self.env["PATH"] = f"{self.python / 'bin'}{os.pathsep}{self.env['PATH']}"
        self.env.update(PIP_ENV)
        return f"Python {here} at {self.python}"

    def restore(self, given: dict[str, str], post: bool) -> str:
        paths, key = tuple(lines(given["path"])), given["key"]
        found = self.caches.restore(
            self.event.scopes(), paths, key, lines(given.get("restore-keys", ""))
        )
        if post:
            self.posts.append((paths, key, found is not None and found[0] == key))
        if found is None:
            return f"cache not found for key {key}"
        for p in paths:
            copy(found[1] / p, self.job.workspace / p)
        return f"cache restored from key {found[0]}"

    def save(self, given: dict[str, str]) -> str:
        paths = tuple(lines(given["path"]))
        return self.caches.save(self.event.ref, paths, given["key"], self.job.workspace)

    def upload(self, given: dict[str, str]) -> str:
        return upload(self.job.workspace, self.artifacts, given)

    def download(self, given: dict[str, str]) -> str:
        return download(self.job.workspace, self.artifacts, given)
