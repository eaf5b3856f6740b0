"""One codec for the records the project keeps as JSON: reports, their sections, summaries, verdicts.

A record is a frozen dataclass that subclasses ``Record``. ``to_dict`` writes
each field under its own name: a record inside as its own dict, tuples as
lists, mappings as objects. A field made with ``omitted_when_none()`` is left
out while it is None, so a report only has the keys that say something.

``from_dict`` reads one back, typed by the field annotations: records inside
(``X | None``, ``tuple[X, ...]``, ``Mapping[str, X]``) are rebuilt with their
own ``from_dict``, and lists become tuples where the field is a tuple. A key
that is missing takes the field's default (a field a later format added); a
field without a default, or made with ``format_number()``, must be there (KeyError otherwise, which ``from_json``
turns into "not a report", say). Keys the record does not know are ignored.

A record whose JSON is not just its fields (a derived key, a "skipped" form, a
number JSON cannot hold) overrides the two methods and calls these for the rest.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

R = TypeVar("R", bound="Record")
T = TypeVar("T")
_OMIT = "omitted when None"
_REQUIRED = "required in JSON"


def omitted_when_none() -> Any:
    """A field that defaults to None and is left out of the JSON while it is None."""
    return dataclasses.field(default=None, metadata={_OMIT: True})


def format_number(current: int) -> Any:
    """The ``format`` field of a record's JSON: code that makes a record gets ``current``;
    a file must say its own (a file without one is not a record of any format)."""
    return dataclasses.field(default=current, metadata={_REQUIRED: True})


class Record:
    """The base of a frozen dataclass kept as JSON; see the module docstring."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        return from_dict(cls, data)


def to_dict(record: Any) -> dict[str, Any]:
    """The fields of a dataclass ``record`` as plain JSON data."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if value is None and f.metadata.get(_OMIT):
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
    """A ``cls`` from what ``to_dict`` wrote; KeyError when a field without a default is missing."""
    values = {}
    for name, (read, required) in _readers(cls).items():
        if name in data:
            values[name] = read(data[name])
        elif required:
            raise KeyError(name)
    return cls(**values)


def from_json(read: Callable[[Mapping[str, Any]], T], text: str | bytes, what: str) -> T:
    """``read`` (a ``from_dict``) of JSON text; ValueError saying it is not ``what`` if it is not one.

    A file that is not what it should be (hand-edited, truncated, from another
    version) is then one error for the caller to report, not a traceback.
    """
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"not {what} (not JSON: {e})") from e
    try:
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}")
        return read(data)
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"not {what} ({type(e).__name__}: {e})") from e


Reader = Callable[[Any], Any]


_READERS: dict[type[Any], dict[str, tuple[Reader, bool]]] = {}


def _readers(cls: type[Any]) -> dict[str, tuple[Reader, bool]]:
    """Field name -> (how to read its JSON value, whether the key must be there); once per class."""
    readers = _READERS.get(cls)
    if readers is None:
        hints = typing.get_type_hints(cls)
        readers = {}
        for f in dataclasses.fields(cls):
            no_default = (
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            )
            required = no_default or bool(f.metadata.get(_REQUIRED))
            readers[f.name] = (_reader(hints[f.name]), required)
        _READERS[cls] = readers
    return readers


def _same(value: Any) -> Any:
    return value


def _reader(hint: Any) -> Reader:
    """How to rebuild a value annotated ``hint`` from its JSON form."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict
    if origin is tuple:
        item = _reader(args[0]) if args else _same
        return lambda value: tuple(item(v) for v in value)
    if origin in (Mapping, dict, typing.Mapping) or hint is dict:
        item = _reader(args[1]) if len(args) == 2 else _same
        return lambda value: {k: item(v) for k, v in value.items()}
    if origin in (types.UnionType, typing.Union):
        return _union_reader([a for a in args if a is not type(None)])
    return _same


def _union_reader(choices: list[Any]) -> Reader:
    """``X | None`` reads as X (None stays None); in a wider union a list is the tuple
    choice and an object the record choice, and anything else is kept as it is."""
    if len(choices) == 1:
        only = _reader(choices[0])
        return lambda value: None if value is None else only(value)
    as_list = next((_reader(c) for c in choices if typing.get_origin(c) is tuple), _same)
    as_object = next(
        (_reader(c) for c in choices if isinstance(c, type) and issubclass(c, Record)), _same
    )

    def read(value: Any) -> Any:
        if isinstance(value, list):
            return as_list(value)
        if isinstance(value, dict):
            return as_object(value)
        return value

    return read
