"""The summary task: every report in summary.json, .md and .html; baselines kept in the cache."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from doit.exceptions import TaskFailed

from converter.files import write_atomic
from rules.build import layout
from rules.build.context import Build

if TYPE_CHECKING:
    from rules.summary.model import Baseline


def summary(reports: list[str], build: Build) -> TaskFailed | None:
    """Write build/summary.{json,md,html}; with a baseline, its deltas and growth budgets."""
    from rules.summary.html import html
    from rules.summary.markdown import markdown
    from rules.summary.model import collect, compare, no_baseline

    project = build.project
    data = collect([Path(report) for report in reports])
    # What the reports' own budgets could not check (the summary's growth budgets come next).
    unchecked = [
        f"{row.name}: {row.budgets_unmeasured} budget(s) cannot be checked (see its report)"
        for row in data.variants
        if row.budgets_unmeasured
    ]
    if not project.baseline:
        data = no_baseline(data)
    else:
        earlier, where = load_baseline(project.baseline, build)
        if earlier is None:
            print(
                f"    warning: no baseline: {where}; the summary shows no deltas", file=sys.stderr
            )
        else:
            data, _ = compare(data, earlier, where)
    # Every breach, the reports' and the growth budgets': the files are written first,
    # so that the tables show what fails the task.
    breaches = [sentence for row in data.variants for sentence in row.breaches] + unchecked
    text = data.to_json()
    build_dir = project.build_dir
    json_file, md_file, html_file = (build_dir / name for name in layout.SUMMARY_FILES)
    write_atomic(json_file, text.encode())
    write_atomic(md_file, markdown(data).encode())
    write_atomic(html_file, html(data, shadow_section(build)).encode())
    line = f"    summary: {len(data.variants)} variants, {data.total_bytes:,} bytes"
    if data.baseline:
        line += f", {data.baseline.total_delta:+,} bytes against {data.baseline.source}"
    print(f"{line}; see {project.display(build_dir / 'summary.html')}", file=sys.stderr)
    if project.save_baseline:
        build.cache().store(
            baseline_key(project.save_baseline),
            text.encode(),
            {"baseline": project.save_baseline},
            "",
        )
        print(
            f"    summary saved in the cache as baseline {project.save_baseline!r}", file=sys.stderr
        )
    return TaskFailed("\n".join(breaches)) if breaches else None


def shadow_section(build: Build) -> str:
    """summary.html's section of the last shadow build ('' when there is none, or it is of
    an older format); it marks the variants whose artifact has changed since."""
    from converter.digest import file_digest
    from rules.actions.shadow import SUMMARY_JSON
    from rules.summary.shadow import section

    build_dir = build.project.build_dir
    try:
        document = json.loads((build_dir / layout.SHADOW / SUMMARY_JSON).read_text())
        changed = set()
        for row in document["variants"]:
            if "today_sha256" in row:
                model, _, variant = row["variant"].partition("/")
                artifact = Path(layout.stem(build_dir, model, variant) + layout.ARTIFACT)
                if not artifact.is_file() or file_digest(artifact) != row["today_sha256"]:
                    changed.add(row["variant"])
        return section(document, changed)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""


def baseline_key(name: str) -> str:
    """The cache key a named baseline summary is stored under (names are per cache)."""
    return hashlib.sha256(f"tflite-build baseline\0{name}".encode()).hexdigest()


def load_baseline(spec: str, build: Build) -> tuple[Baseline | None, str]:
    """(the earlier summary or None, where it came from or why it is missing)."""
    from rules.summary.model import Baseline

    if spec.startswith("cache:"):
        name = spec.removeprefix("cache:")
        hit = build.cache().fetch(baseline_key(name))
        if hit is None:
            return (
                None,
                f"no summary saved as {name!r} in the cache ({build.cache_settings.describe()})",
            )
        raw, where = hit.artifact, f"cache:{name}"
    else:
        path = build.project.root / spec
        try:
            raw = path.read_bytes()
        except OSError:
            return None, f"{spec} does not exist"
        where = spec
    try:
        return Baseline.from_json(raw), where
    except ValueError:
        return None, f"{where} is not a summary.json"
