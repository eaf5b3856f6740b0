"""The CI workflow's tests job: not run by the workflow test (it is this suite); its shape is what the suite relies on."""

from __future__ import annotations

import yaml

from tests.support import REPO

WORKFLOW = REPO / ".github/workflows/models.yml"


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
