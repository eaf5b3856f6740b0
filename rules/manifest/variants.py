"""A model.yaml's variants: each one's options over the defaults, read and checked.

A variant's options are the defaults' with its own on top (mapping options merge
key by key; ``key: null`` unsets one); each is read by its row of
``rules.manifest.fields.OPTIONS``, and the combination is judged by
``converter.conversion.options.check``. A ``keep_float: auto`` variant takes the
goals of its search from the budgets, once they are read (``with_goals``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import yaml

from converter.conversion.options import check
from converter.spec import (
    Goal,
    KeepFloat,
    Options,
    Representative,
    SavedModelSource,
    Source,
    toolchain_of,
)
from rules.manifest import budgets
from rules.manifest.budgets import Budget
from rules.manifest.fields import (
    MERGED_KINDS,
    NAME_PATTERN,
    OPTIONS,
    REPRESENTATIVE,
    SIGNATURE_SAMPLES,
    Key,
    KeySet,
)
from rules.manifest.located import Keys, Node, Reader, bad_name, construct, is_null
from rules.manifest.types import Evaluate, Variant, budget_for

# The variants with keep_float: auto, by name, with where it was set: their goals come from
# the budgets.
Searches = dict[str, tuple[Node, Keys]]


def read_variants(
    reader: Reader, node: Node | None, defaults_node: Node | None, source: Source | None
) -> tuple[list[Variant], Searches]:
    """Every variant that reads without a problem, and the ones that search for float layers."""
    searches: Searches = {}
    if node is None:
        return [], searches
    defaults = (
        reader.mapping(defaults_node, ("defaults",), OPTIONS.names)
        if defaults_node is not None
        else {}
    )
    variants_map = reader.mapping(node, ("variants",), ())
    if variants_map is None:
        return [], searches
    if not variants_map:
        reader.problem(node, ("variants",), "needs at least one variant (for example float32: {})")
        return [], searches
    key_nodes = {str(k.value): k for k, _ in node.value}
    out = []
    for name, variant_node in variants_map.items():
        keys: Keys = ("variants", name)
        key_node = key_nodes[name]  # problems without a key of their own point at the name
        if not NAME_PATTERN.match(name):
            reader.problem(key_node, keys, bad_name(name))
            continue
        own = reader.mapping(variant_node, keys, OPTIONS.names)
        if own is None or defaults is None:
            continue
        fields = _merged(defaults, own)
        signature_keys = _read_signature_keys(
            reader, keys, fields.pop("signature_keys", None), source
        )
        options = _read_options(reader, keys, key_node, fields, source, searches)
        if options is not None:
            out.append(Variant(name, options, key_node.start_mark.line + 1, signature_keys))
    return out, searches


def _merged(defaults: dict[str, Node], own: dict[str, Node]) -> dict[str, tuple[Node, Keys]]:
    """A variant's option nodes over the defaults' (mapping options merge key by key).

    Each value comes with the key path it is reported under when it is wrong.
    """
    out: dict[str, tuple[Node, Keys]] = {k: (v, ("defaults", k)) for k, v in defaults.items()}
    for key, node in own.items():
        if is_null(node):  # `key: null` in a variant unsets what defaults gave it
            out.pop(key, None)
            continue
        base = defaults.get(key)
        if (
            OPTIONS[key].kind in MERGED_KINDS
            and isinstance(base, yaml.MappingNode)
            and isinstance(node, yaml.MappingNode)
        ):
            own_keys = {str(k.value) for k, _ in node.value}
            kept = [(k, v) for k, v in base.value if str(k.value) not in own_keys]
            node = yaml.MappingNode(
                node.tag, kept + list(node.value), node.start_mark, node.end_mark
            )
        out[key] = (node, ())
    return out


def _read_signature_keys(
    reader: Reader, keys: Keys, field: tuple[Node, Keys] | None, source: Source | None
) -> tuple[str, ...] | None:
    """A variant's own ``signature_keys``: one artifact per signature of a SavedModel."""
    if field is None:
        return None
    node, origin = field
    where = origin or (*keys, "signature_keys")
    if source is not None and not isinstance(source, SavedModelSource):
        reader.problem(
            node, where, f"applies to a saved_model source only; this one is {source.kind}"
        )
        return None
    names: tuple[str, ...] | None = reader.value(node, where, OPTIONS["signature_keys"])
    return names


def _read_options(
    reader: Reader,
    keys: Keys,
    variant_node: Node,
    fields: dict[str, tuple[Node, Keys]],
    source: Source | None,
    searches: Searches,
) -> Options | None:
    before = len(reader.problems)
    values: dict[str, Any] = {}
    for row in OPTIONS.keys:
        if row.name not in fields:
            continue
        node, origin = fields[row.name]
        where = origin or (*keys, row.name)
        if row.kind == "section":  # representative: its keys exclude each other
            value: Any = _read_representative(reader, node, where)
        elif row.kind == "layers":
            value = _read_keep_float(reader, node, where, row)
        else:
            value = reader.value(node, where, row)
        if value is not None:
            values[row.name] = value
    io_type = values.pop("io_type", None)
    if io_type is not None:
        values.setdefault("input_type", io_type)
        values.setdefault("output_type", io_type)
    if len(reader.problems) > before:
        return None
    options = Options(**values)
    if options.keep_float is not None and options.keep_float.auto:
        node, origin = fields["keep_float"]
        searches[keys[-1]] = (node, origin or (*keys, "keep_float"))
    reported = set()
    api = source.api if source is not None else None
    toolchain = toolchain_of(source) if source is not None else "tensorflow"
    for key, message in check(options, api, toolchain):
        head, *rest = key.split(" -> ")
        if head in ("input_type", "output_type") and head not in fields and "io_type" in fields:
            head = "io_type"
        node, origin = fields.get(head, (variant_node, ()))
        where = (*(origin or (*keys, head)), *rest)
        if (where, message) not in reported:  # io_type sets two fields; say it once
            reported.add((where, message))
            reader.problem(node, where, message)
    return None if len(reader.problems) > before else options


def _read_keep_float(reader: Reader, node: Node, keys: Keys, key: Key) -> KeepFloat | None:
    """``auto`` (its goals come from the budgets, once they are read) or layer names."""
    if isinstance(node, yaml.ScalarNode) and construct(node) == "auto":
        return KeepFloat(auto=True)
    names = reader.items(node, keys, key)
    return None if names is None else KeepFloat(layers=names)


def _read_representative(
    reader: Reader, node: Node, keys: Keys, section: KeySet = REPRESENTATIVE
) -> Representative | None:
    """A representative section, or (``section`` SIGNATURE_SAMPLES) one signature's samples."""
    fields = reader.mapping(node, keys, section.names)
    if fields is None:
        return None
    if sum(name in fields for name in section.alternatives) != 1:
        several = " or signatures (each signature's)" if "signatures" in section.names else ""
        reader.problem(
            node,
            keys,
            "give exactly one of data (a .npz/.npy file) or python (file.py:function)" + several,
        )
        return None
    if "signatures" in fields:
        if "samples" in fields:
            reader.problem(
                fields["samples"], (*keys, "samples"), "goes under each signature, beside its data"
            )
        return _read_signatures(reader, fields["signatures"], (*keys, "signatures"))
    values = reader.values(fields, keys, section)
    if "data" not in values and "python" not in values:
        return None
    return Representative(**values, base_dir=reader.folder)


def _read_signatures(reader: Reader, node: Node, keys: Keys) -> Representative | None:
    before = len(reader.problems)
    fields = reader.mapping(node, keys, ())
    if fields is None:
        return None
    if not fields:
        reader.problem(node, keys, "name at least one signature: {signature key: {data: ...}}")
        return None
    parts = []
    for key, part_node in sorted(fields.items()):
        part = _read_representative(reader, part_node, (*keys, key), SIGNATURE_SAMPLES)
        if part is not None:
            parts.append((key, part))
    if len(reader.problems) > before:
        return None
    return Representative(signatures=tuple(parts))


def with_goals(
    reader: Reader,
    variant: Variant,
    searches: Searches,
    budgets_: dict[str, Budget],
    evaluate: Evaluate | None,
) -> Variant:
    """A ``keep_float: auto`` variant with the accuracy budget its search must meet, and its data."""
    found = searches.get(variant.name)
    keep = variant.options.keep_float
    if found is None or keep is None:
        return variant
    budget = budget_for(budgets_, variant.name)
    limits = budget.numbers() if budget is not None else []
    goals = tuple(
        Goal(
            kind.name, kind.figure, "at most" if kind.comparison == "at most" else "at least", limit
        )
        for kind, limit in limits
        if kind.section == "accuracy"
    )
    if not goals:
        node, keys = found
        names = ", ".join(k.name for k in budgets.BUDGETS if k.section == "accuracy")
        reader.problem(
            node,
            keys,
            f"auto needs an accuracy budget to meet: set one of {names} "
            f"under budgets -> {variant.name} (or '*')",
        )
        return variant
    searched = replace(
        keep,
        goals=goals,
        evaluate=evaluate.data if evaluate is not None else None,
        samples=evaluate.samples if evaluate is not None else None,
    )
    return replace(variant, options=replace(variant.options, keep_float=searched))
