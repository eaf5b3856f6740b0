"""Every budget a manifest can set, stated once.

The manifest parser reads a budget's value by its ``value`` kind (whose ``SYNTAX``
the JSON Schema publishes too), and a report checks it by ``comparison`` against
the figure named by ``measured``, writing its sentences with ``shown`` and
``unmeasured``. A new budget is one new field of ``Budget`` here, its row in
the field's metadata (and the figure it limits, in the report).

Two families: limits on a number (size, accuracy, latency), compared "at
most" or "at least"; and device gates (runtime version, GPU delegate, allowed
ops, Select TF ops), whose limit is a version, a flag or a list, judged by the
report's device section (``rules.report.device``), which also writes their sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from rules.quantities import (
    PERCENT_PATTERN,
    SHARE_PATTERN,
    SIZE_PATTERN,
    parse_fraction,
    parse_size,
)

# How a manifest states a limit:
#   size      2MB, 500KiB or a byte count
#   fraction  0.02 or 2%, not negative
#   share     0 to 1, or a percentage up to 100%
#   number    a number, not negative
#   flag      true or false
#   version   a runtime version in quotes: "2.14" (YAML reads a bare 2.10 as 2.1)
#   ops       a list of ops: CONV_2D, FULLY_CONNECTED v1-4, CUSTOM:MyOp, FLEX:Erf
ValueKind = Literal["size", "fraction", "share", "number", "flag", "version", "ops"]
# A limit as read: bytes or a number, a flag, a version string, or the allowed ops.
Limit = float | bool | str | tuple[str, ...]


@dataclass(frozen=True)
class Syntax:
    """How one kind of limit is written: a plain number, or text of a pattern."""

    expected: str  # what a value looks like, for messages
    number: Literal["integer", "number"]  # the plain numbers it takes (from 0)
    maximum: float | None = None  # the largest plain number
    text: re.Pattern[str] | None = None  # the text it takes; None: numbers only


SYNTAX: dict[str, Syntax] = {
    "size": Syntax("a size like 2MB, 500KiB or 123456", "integer", text=SIZE_PATTERN),
    "fraction": Syntax("a fraction like 0.02 or 2%", "number", text=PERCENT_PATTERN),
    "share": Syntax(
        "a number from 0 to 1 (or a percentage)", "number", maximum=1, text=SHARE_PATTERN
    ),
    "number": Syntax("a number", "number"),
}


VERSION_PATTERN = re.compile(r"^\d+(\.\d+){0,2}$")
# An allowed op: a builtin by its schema name, CUSTOM:name or FLEX:name (a Select TF op),
# with the versions a runtime registers for it: "v3" (1 to 3) or "v2-5"; none: every version.
OP_PATTERN = re.compile(
    r"^(?P<name>[A-Z][A-Z0-9_]*|(?:CUSTOM|FLEX):\S+)(?: v(?P<low>\d+)(?:-(?P<high>\d+))?)?$"
)
EXPECTED = {
    "flag": "true or false",
    "version": 'a runtime version in quotes, like "2.14"',
    "ops": "a list of ops like [CONV_2D, FULLY_CONNECTED v1-4, CUSTOM:MyOp, FLEX:Erf]",
}


def expected(kind: ValueKind) -> str:
    """What a value of ``kind`` looks like, for messages."""
    return EXPECTED[kind] if kind in EXPECTED else SYNTAX[kind].expected


def read(kind: ValueKind, raw: object) -> Limit | None:
    """A limit as written -> bytes, a number, a flag, a version or ops; None when it breaks its kind's syntax."""
    if kind == "flag":
        return raw if isinstance(raw, bool) else None
    if kind == "version":
        return raw if isinstance(raw, str) and VERSION_PATTERN.match(raw) else None
    if kind == "ops":
        ok = isinstance(raw, list) and all(
            isinstance(op, str) and OP_PATTERN.match(op) for op in raw
        )
        return tuple(raw) if ok and isinstance(raw, list) else None
    syntax = SYNTAX[kind]
    if isinstance(raw, str):
        if syntax.text is None or not syntax.text.match(raw):
            return None
        return parse_size(raw) if kind == "size" else parse_fraction(raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    if syntax.number == "integer" and not isinstance(raw, int):
        return None
    if raw < 0 or (syntax.maximum is not None and raw > syntax.maximum):
        return None
    return raw if syntax.number == "integer" else float(raw)


def number(limit: Limit) -> float:
    """A limit on a number as a float (a device gate's limit is a flag, a version or ops)."""
    if isinstance(limit, (str, tuple)):
        raise TypeError(f"not a limit on a number: {limit!r}")
    return float(limit)


@dataclass(frozen=True)
class BudgetKind:
    """One budget: its manifest key, unit, how it is stated, measured and compared."""

    name: str
    unit: str  # for people: "bytes", "ms", "" for a plain ratio
    value: ValueKind
    measured: str  # the report figure it limits, as ``section.field``
    comparison: Literal["at most", "at least", "gate"]  # gate: the section judges it
    description: str
    needs_labels: bool = False  # measured against the evaluate data's labels
    by_summary: bool = False  # checked by the summary against its baseline, not by a report
    shown: str = "{:.4g}"  # how a limit or a figure reads in a sentence
    # Why the figure can be missing, as a clause; {names} are filled in by its report section.
    unmeasured: str = "it was not measured for this variant"
    free: Limit | None = None  # the value that asks for nothing (gpu_compatible: false)

    @property
    def section(self) -> str:
        """The report section that holds the figure: ``size``, ``latency``, ``accuracy``..."""
        return self.measured.partition(".")[0]

    @property
    def figure(self) -> str:
        """The figure's name in its section."""
        return self.measured.partition(".")[2]

    @property
    def per_host(self) -> bool:
        """Its figure belongs to the machine that measured it: another host's is no measure here."""
        return self.section == "latency"

    @property
    def gate(self) -> bool:
        """A device gate: its limit is a flag, a version or ops, judged by ``rules.report.device``."""
        return self.comparison == "gate"

    def passes(self, measured: float, limit: float) -> bool:
        return measured <= limit if self.comparison == "at most" else measured >= limit

    def show(self, value: Limit | None) -> str:
        """A limit or a figure as a sentence states it: ``2,000,000 bytes``, ``+2.00%``, ``0.95``."""
        if value is None:
            return "not measured"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple):
            return f"[{', '.join(value)}]"
        if isinstance(value, str):
            return value
        return self.shown.format(int(value) if self.value == "size" else value)


_NO_LABELS = "the evaluate data has no labels ({data})"


def _row(*args: Any, **kwargs: Any) -> Any:
    """A budget's field: no limit unless set; its row of the table (a ``BudgetKind``) as metadata."""
    return field(default=None, metadata={"row": BudgetKind("", *args, **kwargs)})


@dataclass(frozen=True)
class Budget:
    """Limits on one variant's report; None means no limit. The table of every budget, too.

    Each field is one budget: its name is the manifest key, its type the limit as
    read, its row (``BUDGETS``) how it is stated, measured and compared. The parser,
    the JSON Schema and the report all read the rows, so a new budget is one field.
    """

    max_size: int | None = _row(
        "bytes",
        "size",
        "size.size",
        "at most",
        "the artifact's size on disk",
        shown="{:,} bytes",
    )
    max_size_growth: float | None = _row(
        "",
        "fraction",
        "baseline.size_growth",
        "at most",
        "the artifact's growth against the summary's baseline, 0.02 = +2%",
        by_summary=True,
        shown="{:+.2%}",
    )
    min_accuracy: float | None = _row(
        "",
        "share",
        "accuracy.accuracy",
        "at least",
        "top-1 accuracy on the evaluate data's labels",
        needs_labels=True,
        unmeasured=_NO_LABELS,
    )
    max_accuracy_drop: float | None = _row(
        "",
        "fraction",
        "accuracy.accuracy_drop",
        "at most",
        "the source model's accuracy minus the artifact's, on the evaluate data's labels",
        needs_labels=True,
        unmeasured=_NO_LABELS,
    )
    min_top1_agreement: float | None = _row(
        "",
        "share",
        "accuracy.top1_agreement",
        "at least",
        "the share of samples whose top-1 class matches the source model's",
        unmeasured="output {primary_output!r} has no class axis to take a top-1 from",
    )
    max_error: float | None = _row(
        "",
        "number",
        "accuracy.max_abs_error",
        "at most",
        "the largest absolute difference from the source model's outputs",
    )
    max_latency_ms: float | None = _row(
        "ms",
        "number",
        "latency.median_ms",
        "at most",
        "the median invoke time on this host's CPU",
        unmeasured="the stock interpreter cannot run this model ({error})",
    )
    runtime: str | None = _row(
        "",
        "version",
        "device.runtime_needed",
        "gate",
        "the runtime version the app ships: the variant must load on it",
    )
    gpu_compatible: bool | None = _row(
        "",
        "flag",
        "device.gpu_refused",
        "gate",
        "true: the GPU delegate must take every op",
        free=False,
    )
    allowed_ops: tuple[str, ...] | None = _row(
        "",
        "ops",
        "device.ops_not_allowed",
        "gate",
        "the ops (and versions) a selective runtime build registers",
    )
    select_tf_ops: bool | None = _row(
        "",
        "flag",
        "device.select_tf",
        "gate",
        "false: no Select TF op (the runtime has no Flex delegate)",
        free=True,
    )

    def limits(self) -> list[tuple[BudgetKind, Limit]]:
        """The limits it sets, each with its row of the budget table, in the table's order.

        A flag set to the value that asks for nothing (``gpu_compatible: false``)
        sets no limit: it only overrides a ``"*"`` budget's.
        """
        set_ = ((kind, getattr(self, kind.name)) for kind in BUDGETS)
        return [(kind, limit) for kind, limit in set_ if limit is not None and limit != kind.free]

    def numbers(self) -> list[tuple[BudgetKind, float]]:
        """The limits on a number (not the device gates)."""
        return [(k, number(limit)) for k, limit in self.limits() if not k.gate]


BUDGETS: tuple[BudgetKind, ...] = tuple(
    replace(f.metadata["row"], name=f.name) for f in fields(Budget)
)
BY_NAME = {kind.name: kind for kind in BUDGETS}
NAMES = tuple(BY_NAME)
# The one budget with behaviour of its own: the summary checks it, against its baseline.
SIZE_GROWTH = BY_NAME["max_size_growth"]
