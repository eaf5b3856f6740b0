"""The fleet's op inventory: what a selective runtime needs, and what a change adds to it (no TF)."""

from __future__ import annotations

from rules.fleet.inventory import Fleet, VariantOps, changes
from rules.report.device import allows


def _fleet(*variants: tuple[str, dict[str, tuple[int, ...]], str, str | None]) -> Fleet:
    return Fleet.of(
        VariantOps(name, ops, runtime, because) for name, ops, runtime, because in variants
    )


BASE = _fleet(
    ("digits/int8", {"CONV_2D": (3,), "FULLY_CONNECTED": (4,)}, "1.14.0", "CONV_2D v3"),
    ("digits/dynamic", {"CONV_2D": (5,), "FULLY_CONNECTED": (1,)}, "2.4.0", "CONV_2D v5"),
)


def test_the_fleet_inventory_round_trips_and_lists_what_a_selective_runtime_needs() -> None:
    fleet = _fleet(
        *((v.name, dict(v.ops), v.runtime, v.because) for v in BASE.variants.values()),
        (
            "text/float32",
            {"CUSTOM:Tokenize": (2,), "FLEX:Erf": (1,), "SOFTMAX": (1,)},
            "1.5.0",
            None,
        ),
    )
    data = fleet.to_dict()
    assert data["fleet"]["builtin"] == {
        "CONV_2D": [3, 5],
        "FULLY_CONNECTED": [1, 4],
        "SOFTMAX": [1],
    }
    assert (data["fleet"]["custom"], data["fleet"]["select_tf"]) == ({"Tokenize": [2]}, ["Erf"])
    assert data["fleet"]["runtime"] == "2.4.0"
    assert data["fleet"]["runtime_because"] == "digits/dynamic: CONV_2D v5"
    assert data["fleet"]["allowed_ops"] == [
        "CONV_2D v3-5", "CUSTOM:Tokenize", "FLEX:Erf", "FULLY_CONNECTED v4", "SOFTMAX v1",
    ]  # fmt: skip
    assert data["fleet"]["used_by"]["CONV_2D"] == ["digits/dynamic", "digits/int8"]
    assert data["variants"]["text/float32"]["custom"] == {"Tokenize": [2]}
    assert Fleet.from_dict(data) == fleet
    # The fleet's own list passes the allowed_ops gate of each of its variants.
    for variant in fleet.variants.values():
        for op, versions in variant.ops.items():
            assert all(allows(tuple(data["fleet"]["allowed_ops"]), op, v) for v in versions)
    assert fleet.runtime_sentence() == "the fleet needs runtime 2.4 (digits/dynamic: CONV_2D v5)"


def test_what_a_change_adds_to_the_fleet() -> None:
    assert changes(BASE, BASE) == []
    after = _fleet(
        ("digits/int8", {"CONV_2D": (3,), "FULLY_CONNECTED": (4,), "TRANSPOSE_CONV": (3,)},
         "2.3.0", "TRANSPOSE_CONV v3"),
        ("digits/dynamic", {"CONV_2D": (5,), "FULLY_CONNECTED": (1,)}, "2.4.0", "CONV_2D v5"),
        ("mobilenet/dynamic", {"FULLY_CONNECTED": (12,), "CONV_2D": (5,)}, "2.17.0",
         "FULLY_CONNECTED v12"),
    )  # fmt: skip
    assert changes(BASE, after) == [
        "digits/int8 adds TRANSPOSE_CONV v3",
        "mobilenet/dynamic adds FULLY_CONNECTED v12",
        "the fleet now needs runtime 2.17 (mobilenet/dynamic: FULLY_CONNECTED v12, was 2.4)",
    ]
    # Removing a variant adds nothing; an op version another variant already used is not new.
    assert changes(after, BASE) == []
