"""Validated manifests -> doit task dicts. Pure: no file is read or written here.

Task names are fixed: ``convert:<model>/<variant>`` and ``check``. Convert tasks
have no ``file_dep``: doit crashes on directories there and re-hashes touched
files forever. Instead one ``uptodate`` check compares the job's content key
(inputs, options, tool versions) and the artifact's own digest with the last
build's; see ``rules.actions.UpToDate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules import actions
from rules.fingerprint import ConvertJob, fingerprint_of, inputs_of
from rules.manifest import Manifest, Variant
from rules.project import Project


def job_for(project: Project, manifest: Manifest, variant: Variant) -> ConvertJob:
    return ConvertJob(
        model=manifest.name,
        variant=variant.name,
        source=manifest.source,
        options=variant.options,
        inputs=inputs_of(manifest, variant),
        root=project.root,
        output=project.build_dir / manifest.name / f"{variant.name}.tflite",
        fingerprint=fingerprint_of(project.root, manifest, variant),
    )


def describe(variant: Variant) -> str:
    options = variant.options
    words: list[str] = [options.quantize if options.quantize != "none" else "float32"]
    if options.input_type and options.input_type != "float32":
        words.append(f"{options.input_type} I/O")
    if options.float_fallback:
        words.append("float fallback")
    return ", ".join(words)


def convert_tasks(project: Project, manifests: list[Manifest]) -> Iterator[dict[str, Any]]:
    """The ``convert`` group: one subtask per model variant."""
    yield {
        "basename": "convert",
        "name": None,
        "doc": "Convert every model variant to .tflite (convert:<model>/<variant> for one)",
    }
    memo_path = project.state_dir / "digests.sqlite"
    for manifest in manifests:
        for variant in manifest.variants:
            job = job_for(project, manifest, variant)
            yield {
                "name": job.name,
                "doc": f"{manifest.name} {variant.name}: {describe(variant)} "
                f"({project.display(manifest.path)})",
                "actions": [(actions.convert, [job, memo_path])],
                "targets": [str(job.output), str(job.sidecar)],
                "uptodate": [actions.UpToDate(job, memo_path)],
                "task_dep": [manifest.task] if manifest.task else [],
                "clean": [(actions.clean, [job])],
                "verbosity": 1,
            }


def check_task(project: Project, manifests: list[Manifest]) -> dict[str, Any]:
    variants = sum(len(m.variants) for m in manifests)
    return {
        "basename": "check",
        "doc": "Validate every manifest without building",
        "actions": [(actions.report_check, [len(manifests), variants])],
        "uptodate": [False],
        "verbosity": 2,
    }
