"""converter.codec: records to JSON and back, typed by their annotations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from converter.codec import Record, format_number, from_dict, from_json, omitted_when_none

FORMAT = 3


@dataclass(frozen=True)
class Leaf(Record):
    name: str
    value: float | str | None  # a metric: "inf" stays a string


@dataclass(frozen=True)
class Tree(Record):
    leaves: tuple[Leaf, ...]
    by_name: Mapping[str, Leaf]
    versions: Mapping[str, tuple[int, ...]]
    best: Leaf | None
    limit: float | tuple[str, ...]
    note: str | None = omitted_when_none()
    later: tuple[str, ...] = ()  # a field a later format added
    extra: Mapping[str, int] = field(default_factory=dict)
    format: int = format_number(FORMAT)


def _tree(**changes: object) -> Tree:
    leaf = Leaf("a", 1.5)
    values: dict[str, object] = {
        "leaves": (leaf, Leaf("b", "inf")),
        "by_name": {"a": leaf},
        "versions": {"CONV_2D": (1, 3)},
        "best": None,
        "limit": ("ADD", "MUL"),
    }
    values.update(changes)
    return Tree(**values)  # type: ignore[arg-type]


def test_a_record_survives_json_with_its_tuples_records_and_mappings() -> None:
    tree = _tree(best=Leaf("c", None), note="kept")
    text = json.dumps(tree.to_dict())
    back = Tree.from_dict(json.loads(text))
    assert back == tree
    assert isinstance(back.leaves, tuple) and isinstance(back.leaves[0], Leaf)
    assert isinstance(back.by_name["a"], Leaf)
    assert back.versions == {"CONV_2D": (1, 3)}
    assert back.limit == ("ADD", "MUL")  # a list read back as the union's tuple


def test_the_json_is_plain_data_with_omitted_fields_left_out() -> None:
    data = _tree(limit=0.5).to_dict()
    assert data == {
        "leaves": [{"name": "a", "value": 1.5}, {"name": "b", "value": "inf"}],
        "by_name": {"a": {"name": "a", "value": 1.5}},
        "versions": {"CONV_2D": [1, 3]},
        "best": None,  # None is written unless the field says otherwise
        "limit": 0.5,
        "later": [],
        "extra": {},
        "format": FORMAT,
    }
    assert "note" not in data


def test_missing_keys_take_their_defaults_but_required_ones_raise() -> None:
    data = _tree().to_dict()
    del data["later"], data["extra"]
    data["unknown"] = "ignored"
    assert Tree.from_dict(data) == _tree()
    for required in ("leaves", "format"):
        partial = dict(data)
        del partial[required]
        with pytest.raises(KeyError, match=required):
            Tree.from_dict(partial)


def test_an_override_can_lean_on_the_generic_functions() -> None:
    @dataclass(frozen=True)
    class Doubled(Record):
        n: int

        def to_dict(self) -> dict[str, object]:
            return {"n": self.n * 2}

        @classmethod
        def from_dict(cls, data: Mapping[str, object]) -> Doubled:
            return from_dict(cls, {"n": int(str(data["n"])) // 2})

    assert Doubled.from_dict(Doubled(4).to_dict()) == Doubled(4)
    assert Doubled(4).to_dict() == {"n": 8}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "not a tree (not JSON"),
        ("[1]", "not a tree (TypeError: a JSON list)"),
        ('{"leaves": []}', "not a tree (KeyError: 'by_name')"),
        (
            '{"leaves": 3, "by_name": {}, "versions": {}, "best": null, "limit": 1, "format": 3}',
            "not a tree (TypeError",
        ),
    ],
)
def test_from_json_says_what_the_text_is_not(text: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        from_json(Tree.from_dict, text, "a tree")
    assert str(caught.value).startswith(says)
