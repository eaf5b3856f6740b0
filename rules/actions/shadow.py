"""``doit shadow``: every variant converted with a second toolchain, and what that changes.

- Each variant's shadow conversion is a convert task of its own group (``shadow:<model>/
  <variant>``), writing under ``build/shadow/``, so the cache and the up-to-date check treat
  it like any conversion and today's artifacts are never written. Its key names the
  shadow's own versions (``resolved``), found when it runs, not when doit loads tasks.
- A shadow conversion that fails is written down (``<variant>.shadow-failed.json``), not
  raised, so every variant is tried; run alone (``doit shadow:m/v``) it fails the task.
- The summary task (``shadow:summary``) brings today's artifact up to date (``current``),
  compares the two (``compare``; their outputs with ``compared_outputs``, cached like a
  report's measurements) and writes ``build/shadow/summary.json`` and ``summary.md``
  (their text: ``rules.summary.shadow``). It fails (the gate) when a variant that converts
  today fails under the shadow, or loses more accuracy than its ``max_accuracy_drop``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from converter import versions
from converter.digest import bytes_digest, canonical_json
from converter.files import write_atomic
from converter.toolchains import defaults
from converter.toolchains.environments import Toolchain, ToolchainError
from rules.actions import convert
from rules.build import layout
from rules.build.context import Build
from rules.build.jobs import ConvertJob, ReportJob
from rules.build.uptodate import UpToDate
from rules.build.variants import ConvertUpToDate
from rules.project import toolchains
from rules.report.sections import reference_inputs
from rules.summary.shadow import markdown, named

FAILED = ".shadow-failed.json"  # beside the shadow artifact: why it did not convert
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
SUMMARY_TASK = layout.task_name(layout.SHADOW, "summary")
COMPARISON_FORMAT = 1  # of a cached comparison of outputs: bump when outputs() changes


class ShadowUpToDate(UpToDate):
    """A shadow variant's check: a conversion's (``ConvertUpToDate``), keyed with the shadow
    toolchain's own versions. A shadow that cannot be made is not up to date: the task
    then writes down why."""

    def __init__(self, job: ConvertJob, build: Build) -> None:
        self.job = job
        self.build = build

    def __call__(self, task: object) -> bool:
        try:
            job = resolved(self.job, self.build)
        except ToolchainError:
            return False
        return ConvertUpToDate(job, self.build)(task)


def resolved(job: ConvertJob, build: Build) -> ConvertJob:
    """``job`` keyed with the versions its shadow toolchain converts with, in place of
    today's (raises ToolchainError: see ``shadow_versions``)."""
    names = defaults.IDENTITY[job.toolchain.kind]
    if versions.LEGACY_KERAS in job.fingerprint:
        names = (*names, versions.LEGACY_KERAS)
    found = shadow_versions(job.toolchain, names, build)
    return dataclasses.replace(job, fingerprint={**job.fingerprint, **found})


def shadow_versions(toolchain: Toolchain, names: tuple[str, ...], build: Build) -> dict[str, str]:
    """Name -> version of ``names`` in the shadow toolchain: from its pins when they name
    each one, else from its environment, made first if need be. Found once per build; a
    toolchain that cannot be made raises ToolchainError, and is not tried again for every
    variant."""
    found = build.shadows.get((toolchain, names))
    if found is None:
        where = toolchains.home(build.project.settings, build.project.root)
        try:
            found = defaults.identity(toolchain, where, names=names)
        except ToolchainError as e:
            found = e
        build.shadows[(toolchain, names)] = found
    if isinstance(found, ToolchainError):
        raise found
    assert isinstance(found, dict)
    return found


def shadow_convert(job: ConvertJob, build: Build) -> dict[str, Any] | TaskFailed | None:
    """Convert one variant with the shadow toolchain (or restore it). A failure is recorded for
    the summary, which gates; a run without the summary (`doit shadow:m/v`) fails here."""
    failed = Path(job.stem + FAILED)
    try:
        job = resolved(job, build)
    except ToolchainError as e:
        outcome: dict[str, Any] | TaskFailed | None = TaskFailed(
            f"the shadow's {job.toolchain.kind} toolchain cannot be made: {e}"
        )
    else:
        outcome = convert.convert(job, build)
    if isinstance(outcome, TaskFailed):
        error = outcome.message.removeprefix(f"{job.name}: ")
        # An earlier shadow artifact is not what this shadow gives: it must not be compared.
        job.output.unlink(missing_ok=True)
        job.sidecar.unlink(missing_ok=True)
        write_atomic(failed, (json.dumps({"error": error}, indent=2) + "\n").encode())
        if not {layout.SHADOW, SUMMARY_TASK} & build.selected:  # no summary to gate: fail here
            return TaskFailed(f"{job.name} fails under the shadow: {error}")
        print(f"    {job.name}: fails under the shadow: {_first_line(error)}", file=sys.stderr)
        return {"origin": "failed under the shadow"}  # not a conversion the closing line counts
    failed.unlink(missing_ok=True)
    return outcome


def compare(today: bytes, shadow: bytes) -> dict[str, Any]:
    """What the shadow changed in one artifact: bytes and size (provenance aside), ops, op
    versions, runtime."""
    from converter.tflite import modelinfo, runtimes

    ops = {
        side: modelinfo.op_versions(data) for side, data in (("today", today), ("shadow", shadow))
    }
    need = {
        side: runtimes.need_of(data).version
        for side, data in (("today", today), ("shadow", shadow))
    }
    changed = {
        op: {"today": list(ops["today"][op]), "shadow": list(ops["shadow"][op])}
        for op in sorted(set(ops["today"]) & set(ops["shadow"]))
        if ops["today"][op] != ops["shadow"][op]
    }
    # Both without the provenance entry: it names the versions and keys, not what converted.
    bare = {
        "today": modelinfo.strip_provenance(today),
        "shadow": modelinfo.strip_provenance(shadow),
    }
    size = {side: len(data) for side, data in bare.items()}
    return {
        "identical": bare["today"] == bare["shadow"],
        "size": {**size, "change": size["shadow"] - size["today"]},
        "ops_added": sorted(set(ops["shadow"]) - set(ops["today"])),
        "ops_removed": sorted(set(ops["today"]) - set(ops["shadow"])),
        "op_versions_changed": changed,
        "runtime": need,
    }


def outputs(today: bytes, shadow: bytes, report: ReportJob) -> dict[str, Any]:
    """Both artifacts on the variant's evaluate data (else the seeded samples a report uses),
    signature by signature as a report measures them: the largest output difference, the
    top-1 agreement, and each one's accuracy where the data has labels (``drop``: today's
    minus the shadow's). The figures are the primary signature's (the first), the largest
    difference the largest of all; ``signatures`` holds each one's."""
    from converter.evaluation.evaluate import Runner
    from converter.evaluation.samples import MissingData

    try:
        keys = Runner(today).signatures
        each = {
            key: _on_signature(today, shadow, report, key if len(keys) > 1 else None, len(keys))
            for key in keys or [""]
        }
    except (
        FileNotFoundError
    ) as e:  # evaluate data that a task makes, in a clone that has not run it
        task = report.manifest.task
        made = f": the task {task} makes it (doit {task})" if task else ""
        return {"skipped": f"no {e.filename}{made}"}
    except (MissingData, RuntimeError, ValueError, KeyError, OSError) as e:
        return {"skipped": _first_line(str(e)) or type(e).__name__}
    primary = dict(next(iter(each.values())))
    primary["max_abs_difference"] = max(found["max_abs_difference"] for found in each.values())
    if len(each) > 1:
        primary["signatures"] = each
    return primary


def _on_signature(
    today: bytes, shadow: bytes, report: ReportJob, key: str | None, signatures: int
) -> dict[str, Any]:
    from converter.evaluation.evaluate import Runner, compare

    ours = Runner(today, signature=key)
    inputs, labels, origin = reference_inputs(report, ours, signatures)
    got = ours.run([inputs[name] for name in ours.input_names])
    theirs = compare(
        Runner(shadow, signature=key),
        inputs,
        dict(zip(ours.output_names, got, strict=True)),
        labels,
    )
    found: dict[str, Any] = {
        "data": origin,
        "max_abs_difference": theirs.max_abs_error,
        "top1_agreement": theirs.top1_agreement,
    }
    if theirs.accuracy is not None:
        found["accuracy"] = {
            "today": theirs.reference_accuracy,
            "shadow": theirs.accuracy,
            "drop": theirs.accuracy_drop,
        }
    return found


def variant_row(
    today: ConvertJob, job: ConvertJob, report: ReportJob, build: Build
) -> dict[str, Any]:
    """One variant's line of the summary: what happens today and under the shadow."""
    failed = Path(job.stem + FAILED)
    if job.output.exists():  # restored from the cache since it failed: the artifact wins
        failed.unlink(missing_ok=True)
    row: dict[str, Any] = {"variant": job.name}
    if failed.exists():
        row["shadow_error"] = json.loads(failed.read_text())["error"]
    today_error = current(today, build)
    if today_error is not None:
        row["today_error"] = today_error
        row["status"] = (
            "fails both ways" if "shadow_error" in row else "converts under the shadow only"
        )
        return row
    if "shadow_error" in row:
        row["status"] = "fails under the shadow"
        return row
    if not job.output.exists():
        row["status"] = "not converted under the shadow"
        return row
    ours, shadow = today.output.read_bytes(), job.output.read_bytes()
    row.update(compare(ours, shadow))
    row["today_sha256"] = bytes_digest(ours)  # summary.html tells when today's has changed
    row["status"] = "identical" if row["identical"] else "changed"
    if not row["identical"]:
        row["outputs"], row["measured"] = compared_outputs(ours, shadow, report, build)
        budget = report.budget
        limit = budget.max_accuracy_drop if budget is not None else None
        drop = row["outputs"].get("accuracy", {}).get("drop")
        if limit is not None and drop is not None and drop > limit:
            row["status"] = "worse under the shadow"
            row["over"] = (
                f"accuracy drops {drop:.4f} against today's, over max_accuracy_drop {limit:g}"
            )
    return row


def compared_outputs(
    ours: bytes, shadow: bytes, report: ReportJob, build: Build
) -> tuple[dict[str, Any], str]:
    """``outputs``, cached like a report's measurements: under the key of today's report
    measurements (today's artifact, the evaluate data, the samples, the tool versions) and
    the shadow artifact's digest. Also says where they came from: ``measured``, ``cache``
    or ``skipped`` (not kept: the data may be there next time)."""
    from rules.report.measurements import Measuring, plan

    cache = build.cache() if build.caching else None
    try:
        measurements = plan(report, Measuring.of(build)).key
    except OSError:  # evaluate data missing: outputs() says so
        measurements = None
    key = None
    if measurements is not None:
        described = {"format": COMPARISON_FORMAT, "measurements": measurements}
        described["shadow"] = bytes_digest(shadow)
        key = bytes_digest(f"tflite-build shadow comparison\0{canonical_json(described)}".encode())
    if key is not None and cache is not None:
        hit = cache.fetch(key)
        if hit is not None:
            return json.loads(hit.artifact), "cache"
    found = outputs(ours, shadow, report)
    if "skipped" in found:
        return found, "skipped"
    if key is not None and cache is not None:
        record = {"shadow comparison": f"{report.model}/{report.variant.name}"}
        cache.store(key, json.dumps(found, sort_keys=True).encode(), record, "")
    return found, "measured"


def current(today: ConvertJob, build: Build) -> str | None:
    """Today's artifact brought up to date as ``doit convert`` would (from the cache, or
    converted): the shadow is compared with what today's build gives, not an older file.
    The error when today's conversion fails."""
    if ConvertUpToDate(today, build)(None):
        return None
    print(
        f"    {today.name}: today's artifact is out of date: converting it first", file=sys.stderr
    )
    outcome = convert.convert(today, build)
    return (
        outcome.message.removeprefix(f"{today.name}: ") if isinstance(outcome, TaskFailed) else None
    )


def summary(
    jobs: list[tuple[ConvertJob, ConvertJob, ReportJob]],
    unshadowed: list[tuple[str, str]],
    shadows: dict[str, Toolchain],
    build: Build,
) -> TaskFailed | None:
    """``build/shadow/summary.json`` and ``summary.md`` for every variant (today's job, the
    shadow's, its report's); the gate."""
    project = build.project
    rows = [variant_row(today, job, report, build) for today, job, report in jobs]
    origins = [row.pop("measured") for row in rows if "measured" in row]  # for the tally
    rows += [{"variant": name, "status": "not shadowed", "why": why} for name, why in unshadowed]
    rows.sort(key=lambda row: str(row["variant"]))
    folder = project.build_dir / layout.SHADOW
    folder.mkdir(parents=True, exist_ok=True)
    used = {job.toolchain.kind for _, job, _ in jobs}
    tools = compared({kind: t for kind, t in shadows.items() if kind in used}, build)
    for kind, both in tools.items():
        if both["shadow"].get("versions") == both["today"]:
            print(
                f"    warning: the {kind} shadow has today's versions ({named(both['today'])}): "
                "pin the ones to try",
                file=sys.stderr,
            )
    document = {"toolchains": tools, "variants": rows}
    write_atomic(folder / SUMMARY_JSON, (json.dumps(document, indent=2) + "\n").encode())
    write_atomic(folder / SUMMARY_MD, markdown(document).encode())
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    if origins:
        tally += (
            f"; outputs compared: {origins.count('measured')} measured, "
            f"{origins.count('cache')} from the cache"
        )
    print(f"shadow: {tally}; see {project.display(folder / SUMMARY_MD)}", file=sys.stdout)
    broken = [row for row in rows if row["status"] == "fails under the shadow"]
    worse = [row for row in rows if row["status"] == "worse under the shadow"]
    said: list[str] = []
    if broken:
        lines = [f"  {row['variant']}: {row['shadow_error']}" for row in broken]
        said.append(
            f"{len(broken)} variant(s) that convert today fail under the shadow:\n"
            + "\n".join(lines)
        )
    if worse:
        lines = [f"  {row['variant']}: {row['over']}" for row in worse]
        said.append(f"{len(worse)} variant(s) are worse under the shadow:\n" + "\n".join(lines))
    return TaskFailed("\n".join(said)) if said else None


def compared(shadows: dict[str, Toolchain], build: Build) -> dict[str, Any]:
    """Per kind shadowed: today's toolchain and the shadow's, by the versions of what their
    bytes depend on (the shadow's requirements too, or why it could not be made)."""
    project = build.project
    out: dict[str, Any] = {}
    for kind, toolchain in sorted(shadows.items()):
        names = defaults.IDENTITY[kind]
        if kind == "tensorflow":
            current = versions.conversion()
            today = {name: current.get(name, "") for name in names}
        else:
            today = toolchains.identity(project.settings, project.root, kind)
            today = {name: today[name] for name in names}
        given: dict[str, Any] = (
            {"python": toolchain.python}
            if toolchain.python is not None
            else {"requirements": list(toolchain.requirements)}
        )
        try:
            given["versions"] = shadow_versions(toolchain, names, build)
        except ToolchainError as e:
            given["error"] = str(e).strip()
        out[kind] = {"today": today, "shadow": given}
    return out


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
