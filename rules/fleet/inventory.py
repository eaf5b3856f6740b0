"""The fleet's op inventory: every op each variant uses, and what the whole fleet needs.

``doit ops`` writes it to ``<build_dir>/ops.json`` (with the registration source
of a selective runtime, ``rules.fleet.registration``); the summary carries it too, so
that a later summary can say what a change adds to the fleet, against its
baseline: ``digits/int8 adds TRANSPOSE_CONV v3; the fleet now needs runtime 2.17``.
Pure data: the variants' ops come from their artifacts (``VariantOps.read``) or
from their reports' device sections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from converter.codec import Record
from converter.tflite.runtimes import parse_version, show_version

INVENTORY_FORMAT = 1
# What sets a variant's runtime when no op version does: the converter's own metadata.
BY_METADATA = "its min_runtime_version metadata"


def op_versions(ops: Mapping[str, tuple[int, ...]]) -> list[str]:
    """``FULLY_CONNECTED v12``-style names, one per op version, sorted."""
    return [f"{op} v{v}" if ":" not in op else op for op in sorted(ops) for v in ops[op]]


@dataclass(frozen=True)
class VariantOps:
    """One variant's ops and the runtime it needs."""

    name: str  # model/variant
    ops: Mapping[str, tuple[int, ...]]  # CONV_2D, CUSTOM:name, FLEX:name -> versions used
    runtime: str  # "2.17.0"; "" when nothing says
    because: str | None  # the op version that sets it; None: the artifact's metadata

    @property
    def why(self) -> str:
        """What sets its runtime: an op version, or the artifact's own metadata."""
        return self.because or BY_METADATA

    @classmethod
    def read(cls, name: str, data: bytes) -> VariantOps:
        """From an artifact's bytes, without TensorFlow."""
        from converter.tflite import modelinfo, runtimes

        need = runtimes.need_of(data)
        return cls(name, modelinfo.op_versions(data), need.version, need.because)

    def to_dict(self) -> dict[str, Any]:
        def kind(prefix: str) -> dict[str, list[int]]:
            return {
                op[len(prefix) :]: list(v) for op, v in self.ops.items() if op.startswith(prefix)
            }

        return {
            "builtin": {op: list(v) for op, v in self.ops.items() if ":" not in op},
            "custom": kind("CUSTOM:"),
            "select_tf": sorted(kind("FLEX:")),  # Select TF ops have one version
            "runtime": self.runtime,
            "runtime_because": self.because,
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> VariantOps:
        ops: dict[str, tuple[int, ...]] = {op: tuple(v) for op, v in data["builtin"].items()}
        ops.update({f"CUSTOM:{op}": tuple(v) for op, v in data["custom"].items()})
        ops.update({f"FLEX:{op}": (1,) for op in data["select_tf"]})
        return cls(name, dict(sorted(ops.items())), data["runtime"], data["runtime_because"])


@dataclass(frozen=True)
class Fleet(Record):
    """Every variant's ops, by name, and their union."""

    variants: Mapping[str, VariantOps]

    @classmethod
    def of(cls, variants: Iterable[VariantOps]) -> Fleet:
        return cls({v.name: v for v in sorted(variants, key=lambda v: v.name)})

    def ops(self) -> dict[str, tuple[int, ...]]:
        """Every op any variant uses -> every version used."""
        union: dict[str, set[int]] = {}
        for variant in self.variants.values():
            for op, versions in variant.ops.items():
                union.setdefault(op, set()).update(versions)
        return {op: tuple(sorted(union[op])) for op in sorted(union)}

    def users(self, op: str) -> list[str]:
        """The variants that use ``op``, by name."""
        return [v.name for v in self.variants.values() if op in v.ops]

    def runtime(self) -> VariantOps | None:
        """The variant that needs the newest runtime (the first by name on a tie)."""
        known = [v for v in self.variants.values() if v.runtime]
        return max(known, key=lambda v: parse_version(v.runtime), default=None)

    def runtime_sentence(self) -> str:
        """``the fleet needs runtime 2.17 (mobilenet/dynamic: FULLY_CONNECTED v12)``."""
        top = self.runtime()
        if top is None:
            return "no variant states the runtime it needs"
        return f"the fleet needs runtime {show_version(top.runtime)} ({top.name}: {top.why})"

    def allowed_ops(self) -> list[str]:
        """The fleet's ops as an ``allowed_ops`` budget writes them: ``FULLY_CONNECTED v1-12``."""
        out = []
        for op, versions in self.ops().items():
            if ":" in op:
                out.append(op)
            else:
                low, high = min(versions), max(versions)
                out.append(f"{op} v{high}" if low == 1 else f"{op} v{low}-{high}")
        return out

    def to_dict(self) -> dict[str, Any]:
        ops = self.ops()
        top = self.runtime()
        fleet = VariantOps("fleet", ops, top.runtime if top else "", None).to_dict()
        fleet["runtime_because"] = None if top is None else f"{top.name}: {top.why}"
        fleet["allowed_ops"] = self.allowed_ops()
        fleet["used_by"] = {op: self.users(op) for op in ops}
        return {
            "format": INVENTORY_FORMAT,
            "fleet": fleet,
            "variants": {name: v.to_dict() for name, v in self.variants.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fleet:
        return cls.of(VariantOps.from_dict(name, v) for name, v in data["variants"].items())


def changes(before: Fleet, after: Fleet) -> list[str]:
    """What ``after`` adds to the fleet against ``before``, a sentence each; empty when nothing.

    An op version is new when no variant of ``before`` used it; it is told once
    per variant that brings it (``digits/int8 adds TRANSPOSE_CONV v3``). A
    newer fleet runtime gets its own sentence, with the variant that sets it.
    """
    known = before.ops()
    added: dict[str, list[str]] = {}
    for variant in after.variants.values():
        for op, versions in variant.ops.items():
            new = [v for v in versions if v not in known.get(op, ())]
            added.setdefault(variant.name, []).extend(op_versions({op: tuple(new)}) if new else [])
    sentences = [f"{name} adds {', '.join(ops)}" for name, ops in added.items() if ops]
    old, top = before.runtime(), after.runtime()
    if top is not None and (old is None or parse_version(top.runtime) > parse_version(old.runtime)):
        was = f", was {show_version(old.runtime)}" if old is not None else ""
        sentences.append(
            f"the fleet now needs runtime {show_version(top.runtime)} ({top.name}: {top.why}{was})"
        )
    return sentences
