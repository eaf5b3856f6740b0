"""What each task carries to its actions: plain, picklable descriptions of one conversion or report."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.digest import canonical_json
from converter.spec import ENTRY_SOURCES, Options, Source
from rules.build import layout
from rules.manifest.budgets import Budget
from rules.manifest.types import Evaluate, Manifest, Variant, budget_for


@dataclass(frozen=True)
class ConvertJob:
    """Everything a convert task needs, as plain picklable data (doit -n sends it to workers)."""

    model: str
    variant: str
    source: Source
    options: Options
    inputs: tuple[Path, ...]  # files and directories the conversion reads
    root: Path
    manifest: Path
    build_dir: Path  # the project's build folder (one object, shared by every job)
    fingerprint: dict[str, Any]
    discovers: bool = False  # its Python code runs in the worker: it has discovered inputs
    # A shadow build's: its task group, and the toolchain it converts with (else the kind's).
    group: str = layout.CONVERT
    toolchain: Any = None  # converter.toolchains.environments.Toolchain

    @property
    def name(self) -> str:
        return f"{self.model}/{self.variant}"

    @property
    def task(self) -> str:
        return layout.task_name(self.group, self.name)

    @functools.cached_property
    def fingerprint_json(self) -> str:
        return canonical_json(self.fingerprint)

    @functools.cached_property
    def stem(self) -> str:
        """Every file of the variant is this plus a suffix (``rules.build.layout.stem``)."""
        return layout.stem(self.build_dir, self.model, self.variant)

    @functools.cached_property
    def output(self) -> Path:
        """The artifact (a path made when first asked for: a no-op build never asks)."""
        return Path(self.stem + layout.ARTIFACT)

    @property
    def sidecar(self) -> Path:
        return Path(self.stem + layout.SIDECAR)

    @property
    def log(self) -> Path:
        return Path(self.stem + layout.LOG)


@dataclass(frozen=True)
class ReportJob:
    """Everything a report task needs, as picklable data.

    Made for every variant whenever doit loads the tasks, so it holds only what
    it is given; the paths and the budget are worked out when a report runs.
    """

    manifest: Manifest
    variant: Variant
    build_dir: Path

    @property
    def model(self) -> str:
        return self.manifest.name

    @property
    def name(self) -> str:
        return f"{self.manifest.name}/{self.variant.name}"

    @property
    def task(self) -> str:
        return layout.task_name(layout.REPORT, self.name)

    @functools.cached_property
    def artifact(self) -> Path:
        return layout.artifact(self.build_dir, self.manifest.name, self.variant.name)

    @functools.cached_property
    def output(self) -> Path:
        return layout.beside(self.artifact, layout.REPORT_FILE)

    @functools.cached_property
    def float32(self) -> Path | None:
        """The model's float32 variant, when it has one and this is another."""
        names = [v.name for v in self.manifest.variants]
        if "float32" in names and self.variant.name != "float32":
            return self.artifact.with_name("float32.tflite")
        return None

    @property
    def source(self) -> Path | None:
        """The source model on disk, for its size (None: a Python entry point)."""
        source = self.manifest.source
        return None if isinstance(source, ENTRY_SOURCES) else source.path

    @property
    def model_source(self) -> Source:
        """The source as the converter loads it: the accuracy reference."""
        return self.manifest.source_for(self.variant)

    @functools.cached_property
    def budget(self) -> Budget | None:
        return budget_for(self.manifest.budgets, self.variant.name)

    @property
    def evaluate(self) -> Evaluate | None:
        return self.manifest.evaluate
