"""Validated manifests as JSON and back, exactly: the parse cache's format (never pickle).

Frozen dataclasses become ``{"$": "ClassName", field: value, ...}``, paths
``{"$p": "..."}``, tuples ``{"$t": [...]}`` and mappings ``{"$m": {...}}``, so
decoding gives back equal objects, tuples and all. Only the classes listed here
can be built: a row from other code is refused, never executed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from converter.spec import (
    FrozenGraphSource,
    Goal,
    KeepFloat,
    KerasSource,
    Options,
    PythonSource,
    Representative,
    SavedModelSource,
    TF1SavedModelSource,
)
from rules.manifest.types import Budget, Evaluate, Manifest, Variant

CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Manifest,
        Variant,
        Budget,
        Evaluate,
        Options,
        Representative,
        KeepFloat,
        Goal,
        SavedModelSource,
        TF1SavedModelSource,
        KerasSource,
        FrozenGraphSource,
        PythonSource,
    )
}


class DecodeError(ValueError):
    """The text is not what ``encode`` writes (another version's row, or damage)."""


def plain(value: Any) -> Any:
    """``value`` as plain JSON data (what ``encode`` writes, before the text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"$": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = plain(getattr(value, f.name))
        return out
    if isinstance(value, Path):
        return {"$p": str(value)}
    if isinstance(value, tuple):
        return {"$t": [plain(v) for v in value]}
    if isinstance(value, Mapping):
        return {"$m": {str(k): plain(v) for k, v in value.items()}}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def encode(value: Any) -> str:
    return json.dumps(plain(value), separators=(",", ":"))


def _hook(obj: dict[str, Any]) -> Any:
    if "$" in obj:
        name = obj.pop("$")
        cls = CLASSES.get(name)
        if cls is None:
            raise DecodeError(f"unknown class {name!r}")
        return cls(**obj)
    if "$p" in obj:
        return Path(obj["$p"])
    if "$t" in obj:
        return tuple(obj["$t"])
    if "$m" in obj:
        return dict(obj["$m"])
    return obj


def decode(text: str) -> Any:
    try:
        return json.loads(text, object_hook=_hook)
    except (ValueError, TypeError) as e:
        raise DecodeError(str(e)) from None
