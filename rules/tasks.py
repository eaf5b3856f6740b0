"""Validated manifests -> doit task dicts. Pure: no file is read or written here.

Task names are fixed: ``convert:<model>/<variant>`` and ``check``. Convert tasks
have no ``file_dep``: doit crashes on directories there and re-hashes touched
files forever. Instead one ``uptodate`` check compares the job's content key
(inputs, options, tool versions) and the artifact's own digest with the last
build's, or restores the artifact from the cache; see ``rules.build.variants``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from rules.actions import convert, maintenance, ops, report, shadow, summary
from rules.build import layout, variants
from rules.build.context import Build
from rules.build.jobs import ConvertJob, ReportJob
from rules.build.keys import discovers, fingerprint_of, inputs_of, source_part
from rules.cache.settings import CacheSettings
from rules.manifest.types import Manifest, Variant
from rules.project.root import Project
from rules.report.uptodate import ReportUpToDate, WithoutSource


def job_for(
    project: Project, manifest: Manifest, variant: Variant, source: dict[str, Any] | None = None
) -> ConvertJob:
    """``source``: the manifest's portable source description, when the caller has it already."""
    if variant.signature_keys is not None:  # its own signature: its own source description
        source = None
    return ConvertJob(
        model=manifest.name,
        variant=variant.name,
        source=manifest.source_for(variant),
        options=variant.options,
        inputs=inputs_of(manifest, variant),
        root=project.root,
        manifest=manifest.path,
        build_dir=project.build_dir,
        fingerprint=fingerprint_of(project, manifest, variant, source),
        discovers=discovers(manifest, variant),
    )


def describe(variant: Variant) -> str:
    options = variant.options
    words: list[str] = [options.quantize if options.quantize != "none" else "float32"]
    if options.input_type and options.input_type != "float32":
        words.append(f"{options.input_type} I/O")
    if options.float_fallback:
        words.append("float fallback")
    return ", ".join(words)


def in_shard(model: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``model`` belongs to shard ``(k, n)`` (1-based): a stable hash, not an order.

    A shard takes whole models, so the task that makes a model's source (training,
    say) runs in one shard only, beside the float32 variant its reports compare with.
    """
    if shard is None:
        return True
    k, n = shard
    return int(hashlib.sha256(model.encode()).hexdigest(), 16) % n == k - 1


def convert_tasks(
    build: Build, manifests: list[Manifest], shard: tuple[int, int] | None = None
) -> Iterator[dict[str, Any]]:
    """The ``convert`` group: one subtask per model variant (of this shard, if sharded)."""
    where = f" (shard {shard[0]} of {shard[1]})" if shard else ""
    yield {
        "basename": layout.CONVERT,
        "name": None,
        "doc": f"Convert every model variant to .tflite{where} (convert:<model>/<variant> for one)",
    }
    project = build.project
    for manifest in manifests:
        source = source_part(project.root, manifest.source)
        where = project.display(manifest.path)
        for variant in manifest.variants:
            job = job_for(project, manifest, variant, source)
            if not in_shard(manifest.name, shard):
                continue
            stem = layout.stem(project.build_dir, manifest.name, variant.name)
            yield {
                "name": job.name,
                "doc": f"{manifest.name} {variant.name}: {describe(variant)} ({where})",
                "actions": [(convert.convert, [job, build])],
                "targets": [stem + layout.ARTIFACT, stem + layout.SIDECAR],
                "uptodate": [variants.ConvertUpToDate(job, build)],
                # `setup`, not `task_dep`: the producing task runs only when this
                # variant is not up to date (and not in the cache either).
                "setup": [manifest.task] if manifest.task else [],
                "clean": [(variants.clean, [job])],
                "verbosity": 1,
            }


def shadow_tasks(build: Build, manifests: list[Manifest]) -> Iterator[dict[str, Any]]:
    """The ``shadow`` group: every variant converted with the shadow toolchain of its kind
    (a second TensorFlow, a second PyTorch toolchain), then the summary."""
    import dataclasses

    from converter.spec import toolchain_of
    from converter.toolchains import defaults
    from rules.project.settings import variable_of

    project = build.project
    tables = project.settings.shadow or {}
    yield {
        "basename": layout.SHADOW,
        "name": None,
        "doc": "Convert every variant with the shadow toolchain and say what changes "
        "(shadow:<model>/<variant> for one)",
    }
    if not tables:
        yield {
            "name": "summary",
            "actions": [
                (
                    _refuse,
                    [
                        "no shadow toolchain: set [tool.tflite-build.shadow] requirements = "
                        f'[...] in pyproject.toml, or {variable_of("shadow")}="tensorflow==..."'
                    ],
                )
            ],
            "uptodate": [False],
        }
        return
    shadows = {kind: defaults.shadow_of(table, kind) for kind, table in tables.items()}
    problems = [p for t in shadows.values() if (p := defaults.shadow_problem(t)) is not None]
    if problems:
        yield {
            "name": "summary",
            "actions": [(_refuse, ["; ".join(problems)])],
            "uptodate": [False],
        }
        return
    shadow_dir = project.build_dir / layout.SHADOW
    jobs = []
    unshadowed: list[tuple[str, str]] = []  # variant, why not
    for manifest in manifests:
        source = source_part(project.root, manifest.source)
        for variant in manifest.variants:
            today = job = job_for(project, manifest, variant, source)
            kind = toolchain_of(job.source)
            toolchain = shadows.get(kind)
            if toolchain is None:
                unshadowed.append((job.name, _unshadowed(kind)))
                continue
            job = dataclasses.replace(
                job,
                build_dir=shadow_dir,
                fingerprint={**job.fingerprint, "shadow": _described(toolchain)},
                group=layout.SHADOW,
                toolchain=toolchain,
            )
            jobs.append((today, job, ReportJob(manifest, variant, project.build_dir)))
            stem = layout.stem(shadow_dir, manifest.name, variant.name)
            yield {
                "name": job.name,
                "doc": f"{manifest.name} {variant.name} with the shadow {kind} toolchain",
                "actions": [(shadow.shadow_convert, [job, build])],
                "targets": [stem + layout.ARTIFACT, stem + layout.SIDECAR],
                "uptodate": [shadow.ShadowUpToDate(job, build)],
                "setup": [manifest.task] if manifest.task else [],
                "clean": [(variants.clean, [job])],
                "verbosity": 1,
            }
    yield {
        "name": "summary",
        "doc": "What the shadow changes, in build/shadow/summary.json and summary.md",
        "actions": [(shadow.summary, [jobs, unshadowed, shadows, build])],
        "task_dep": [layout.task_name(layout.SHADOW, job.name) for _, job, _ in jobs],
        "uptodate": [False],
        "verbosity": 2,
    }


def _described(toolchain: Any) -> dict[str, Any]:
    """What a shadow toolchain is, as its key and its summary name it (its versions come
    when it runs: ``rules.actions.shadow.resolved``)."""
    return {
        "kind": toolchain.kind,
        "requirements": sorted(toolchain.requirements),
        "python": toolchain.python,
        "pip_args": list(toolchain.pip_args),
    }


def _unshadowed(kind: str) -> str:
    if kind == "jax":
        return "JAX variants are not shadowed: jax2tf converts them over today's TensorFlow"
    return f"no {kind} shadow: set [tool.tflite-build.shadow.{kind}] to shadow it"


def _refuse(message: str) -> Any:
    from doit.exceptions import TaskFailed

    return TaskFailed(message)


def report_tasks(
    build: Build, manifests: list[Manifest], shard: tuple[int, int] | None = None
) -> Iterator[dict[str, Any]]:
    """The ``report`` group: one report (size, latency, accuracy, budgets) per variant (of the shard)."""
    project = build.project
    yield {
        "basename": layout.REPORT,
        "name": None,
        "doc": "Report every variant's size, latency and accuracy, check budgets (report:<model>/<variant> for one)",
    }
    build_dir = project.build_dir
    for manifest in manifests:
        if not in_shard(manifest.name, shard):
            continue  # its conversions are another shard's
        # float32 first: a serial run converts it before the reports that compare with it.
        for variant in sorted(manifest.variants, key=lambda v: v.name != "float32"):
            job = ReportJob(manifest, variant, build_dir)
            yield {
                "name": job.name,
                "doc": f"{manifest.name} {variant.name}: size, latency and accuracy report, budgets",
                "actions": [(report.report, [job, build])],
                "targets": [
                    layout.stem(build_dir, manifest.name, variant.name) + layout.REPORT_FILE
                ],
                # Its own artifact only: a model whose float32 conversion fails still gets
                # its other variants' reports (without the float32 comparison, which the
                # up-to-date check adds when that artifact appears or changes).
                "task_dep": [layout.task_name(layout.CONVERT, job.name)],
                # A source made by a task is made first only when the report cannot
                # come from the cache (see the gate below).
                "setup": [layout.task_name(layout.SOURCE, job.name)] if manifest.task else [],
                "uptodate": [ReportUpToDate(job, build.state)],
                "clean": True,
                "verbosity": 1,
            }


def source_gates(
    build: Build, manifests: list[Manifest], shard: tuple[int, int] | None = None
) -> Iterator[dict[str, Any]]:
    """``_source:<model>/<variant>``: runs the user's task that makes a source, when a report needs it.

    One per report of a model whose source a task makes; private (doit lists it
    with ``--private`` only). Its up-to-date check asks the cache, so a report
    whose measurements (or reference outputs) are cached never runs the task.
    """
    for manifest in manifests:
        if manifest.task is None or not in_shard(manifest.name, shard):
            continue
        for variant in manifest.variants:
            job = ReportJob(manifest, variant, build.project.build_dir)
            yield {
                "basename": layout.SOURCE,
                "name": job.name,
                "doc": f"make {manifest.name}'s source for its {variant.name} report, if it must be",
                "actions": [],
                "setup": [manifest.task],
                "uptodate": [WithoutSource(job, build)],
            }


def summary_task(build: Build, manifests: list[Manifest]) -> dict[str, Any]:
    project = build.project
    # Strings: made on every load, turned into paths only when the summary runs.
    reports = [
        layout.stem(project.build_dir, m.name, v.name) + layout.REPORT_FILE
        for m in manifests
        for v in m.variants
    ]
    outputs = [project.build_dir / name for name in layout.SUMMARY_FILES]
    return {
        "basename": "summary",
        "doc": "Summarize every report in build/summary.json, summary.md and summary.html",
        "actions": [(summary.summary, [reports, build])],
        "task_dep": [layout.REPORT],
        "targets": [str(o) for o in outputs],
        # Cheap, and its baseline can change without any file here changing: always rerun.
        "uptodate": [False],
        "clean": True,
    }


def ops_task(build: Build, manifests: list[Manifest]) -> dict[str, Any]:
    """``ops``: the fleet's op inventory and registration source, from every artifact."""
    build_dir = build.project.build_dir
    artifacts = {
        f"{m.name}/{v.name}": layout.stem(build_dir, m.name, v.name) + layout.ARTIFACT
        for m in manifests
        for v in m.variants
    }
    return {
        "basename": "ops",
        "doc": f"Every variant's ops and the runtime it needs ({build_dir.name}/{layout.INVENTORY}), "
        f"and a selective runtime's registration source ({layout.REGISTRATION})",
        "actions": [(ops.ops, [artifacts, build])],
        "task_dep": [layout.CONVERT],
        "targets": [str(build_dir / layout.INVENTORY), str(build_dir / layout.REGISTRATION)],
        # Cheap (a flatbuffer read per artifact), and files are rewritten only when they change.
        "uptodate": [False],
        "clean": True,
        "verbosity": 2,
    }


def cache_tasks(settings: CacheSettings) -> Iterator[dict[str, Any]]:
    """``cache_stats`` and ``cache_prune`` for the local cache."""
    yield {
        "basename": "cache_stats",
        "doc": f"Show the local artifact cache's size ({settings.describe()})",
        "actions": [(maintenance.cache_stats, [settings])],
        "uptodate": [False],
        "verbosity": 2,
    }
    yield {
        "basename": "cache_prune",
        "doc": "Shrink the local cache to cache_max_size, least recently used first",
        "actions": [(maintenance.cache_prune, [settings])],
        "uptodate": [False],
        "verbosity": 2,
    }


def check_task(manifests: list[Manifest]) -> dict[str, Any]:
    variants = sum(len(m.variants) for m in manifests)
    return {
        "basename": "check",
        "doc": "Validate every manifest without building",
        "actions": [(maintenance.report_check, [len(manifests), variants])],
        "uptodate": [False],
        "verbosity": 2,
    }
