"""A validated manifest as frozen dataclasses, and the value syntaxes manifests share.

Nothing here parses YAML (see ``rules.manifest.parse``), so a build whose manifests
come from the parse cache never imports the parser.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from converter.spec import Options, SavedModelSource, Source
from rules.manifest.budgets import Budget


def budget_for(budgets: Mapping[str, Budget], variant: str) -> Budget | None:
    """The ``"*"`` budget with the variant's own limits laid over it."""
    general, own = budgets.get("*"), budgets.get(variant)
    if general is None or own is None:
        return own or general
    merged = {
        f.name: getattr(own, f.name)
        if getattr(own, f.name) is not None
        else getattr(general, f.name)
        for f in dataclasses.fields(Budget)
    }
    return Budget(**merged)


@dataclass(frozen=True)
class Evaluate:
    data: Path
    samples: int | None = None


@dataclass(frozen=True)
class Variant:
    name: str
    options: Options
    line: int
    signature_keys: tuple[str, ...] | None = None  # overrides the SavedModel source's


@dataclass(frozen=True)
class Manifest:
    """One model.yaml, validated. Paths are absolute."""

    path: Path
    name: str
    source: Source
    task: str | None
    deps: tuple[Path, ...]
    variants: tuple[Variant, ...]
    evaluate: Evaluate | None = None
    budgets: Mapping[str, Budget] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def source_for(self, variant: Variant) -> Source:
        """The source as this variant converts it (its own signature keys, if it sets them)."""
        if variant.signature_keys is not None and isinstance(self.source, SavedModelSource):
            return replace(self.source, signature_keys=variant.signature_keys)
        return self.source
