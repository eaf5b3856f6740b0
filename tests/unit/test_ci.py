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


SHADOW = REPO / ".github/workflows/shadow.yml"


def test_the_shadow_workflow_runs_by_hand_or_weekly_and_keeps_its_summary() -> None:
    """Not run here (its shadow is a 2 GB environment made from the network); its shape is
    what the README promises: the input (or the nightly) is the shadow setting's variable,
    today's artifacts are built first, the gate's status survives the summary shown on the
    run's page, and the summary is uploaded whatever the gate said."""
    from rules.project.settings import SHADOW as KIND

    workflow = yaml.safe_load(SHADOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    wanted = triggers["workflow_dispatch"]["inputs"]["shadow"]
    assert KIND.text is not None and KIND.text(wanted["default"]) is not None
    assert wanted["required"]
    assert triggers["schedule"][0]["cron"]
    assert workflow["env"]["TFLITE_BUILD_SHADOW"] == "${{ inputs.shadow || 'tf-nightly' }}"
    (job,) = workflow["jobs"].values()
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs[0].startswith("pip install -e '.[examples]'")
    assert runs[1] == "doit convert" and "doit shadow || status=$?" in runs[2]
    assert 'exit "$status"' in runs[2] and "$GITHUB_STEP_SUMMARY" in runs[2]
    (upload,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "example_project/build/shadow/summary.*"
