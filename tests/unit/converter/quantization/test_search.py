"""The keep_float search and the naming of TFLite ops by layer: pure, no TensorFlow."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from converter.errors import OptionsError
from converter.protocol import LayerError
from converter.quantization.doctor import (
    layer_of,
    name_layers,
    ranked_layers,
    resolve,
    search_order,
)
from converter.quantization.search import Found, bound, search
from converter.spec import Goal

DROP = Goal("max_accuracy_drop", "accuracy_drop", "at most", 0.02)
AGREEMENT = Goal("min_top1_agreement", "top1_agreement", "at least", 0.95)


Trial = Callable[[tuple[str, ...]], dict[str, float | None]]


def needs(*guilty: str, bad: float = 0.5) -> tuple[list[tuple[str, ...]], Trial]:
    """A trial that meets DROP when every guilty layer is kept in float; it records its calls."""
    calls: list[tuple[str, ...]] = []

    def trial(kept: tuple[str, ...]) -> dict[str, float | None]:
        calls.append(kept)
        missing = [g for g in guilty if g not in kept]
        return {"accuracy_drop": bad * len(missing) / max(len(guilty), 1)}

    return calls, trial


def conversions(found: Found) -> int:
    return 1 + len(found.trials)  # the ranking, then each trial


def test_int8_that_meets_the_budget_keeps_nothing_in_float() -> None:
    calls, trial = needs()
    found = search(["a", "b", "c"], [DROP], trial)
    assert found.chosen == () and calls == [()]


def test_the_worst_ranked_layer_alone() -> None:
    layers = [f"l{i}" for i in range(8)]
    calls, trial = needs("l0")
    found = search(layers, [DROP], trial)
    assert found.chosen == ("l0",)
    assert conversions(found) <= bound(8, 1)
    assert len(calls) == len(set(calls))  # no set tried twice


def test_guilty_layers_ranked_first_within_the_bound() -> None:
    layers = [f"l{i}" for i in range(13)]
    for k in range(1, 6):
        _, trial = needs(*layers[:k])
        found = search(layers, [DROP], trial)
        assert found.chosen == tuple(layers[:k])
        assert conversions(found) <= bound(len(layers), k), k


def test_an_innocent_layer_ranked_first_is_put_back() -> None:
    _, trial = needs("c", "e")
    found = search(["a", "b", "c", "d", "e", "f"], [DROP], trial)
    assert found.chosen == ("c", "e")


def test_every_layer_needed() -> None:
    layers = ["a", "b", "c", "d", "e"]
    _, trial = needs(*layers)
    found = search(layers, [DROP], trial)
    assert found.chosen == tuple(layers)


@pytest.mark.parametrize("seed", range(20))
def test_random_monotone_problems_find_exactly_the_guilty(seed: int) -> None:
    rng = random.Random(seed)
    layers = [f"l{i}" for i in range(rng.randint(1, 16))]
    guilty = set(rng.sample(layers, rng.randint(0, len(layers))))
    _, trial = needs(*sorted(guilty))
    found = search(layers, [DROP], trial)
    assert found.chosen is not None and set(found.chosen) == guilty


def test_no_set_meets_the_budget() -> None:
    def trial(kept: tuple[str, ...]) -> dict[str, float | None]:
        return {"accuracy_drop": 0.2 - 0.01 * len(kept)}

    found = search(["a", "b", "c", "d"], [DROP], trial)
    assert found.chosen is None and not found.met
    assert found.missed == DROP
    best = found.best
    assert best is not None and best.layers == ("a", "b", "c", "d")
    assert best.figures["accuracy_drop"] == pytest.approx(0.16)


def test_every_goal_must_be_met() -> None:
    def trial(kept: tuple[str, ...]) -> dict[str, float | None]:
        return {"accuracy_drop": 0.0, "top1_agreement": 0.9 + 0.05 * ("b" in kept)}

    found = search(["a", "b", "c"], [DROP, AGREEMENT], trial)
    assert found.chosen == ("b",)


def test_an_unmeasured_figure_never_meets() -> None:
    found = search(["a"], [DROP], lambda kept: {"accuracy_drop": None})
    assert found.chosen is None and found.missed == DROP


@pytest.mark.parametrize(
    ("goal", "value", "met"),
    [(DROP, 0.02, True), (DROP, 0.0201, False), (AGREEMENT, 0.95, True), (AGREEMENT, 0.9, False)],
)
def test_goals_compare_as_the_budget_table_says(goal: Goal, value: float, met: bool) -> None:
    assert goal.met_by(value) is met


def test_bound() -> None:
    assert [bound(n, 1) for n in (1, 2, 3, 4, 5, 8, 9)] == [3, 4, 5, 5, 6, 6, 7]


# --- naming ops by layer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tensor", "known", "layer"),
    [
        ("functional_1/wide_1/MatMul;functional_1/wide_1/BiasAdd", {"wide", "probs"}, "wide"),
        ("model/dense_1/MatMul", {"dense_1", "dense"}, "dense_1"),  # an exact name wins
        ("model/backbone_1/conv_1/Conv2D", {"backbone", "conv"}, "conv"),  # the innermost
        ("conv1/Conv2D;conv1/BiasAdd", set(), "conv1"),
        ("a/b/c/Relu", set(), "c"),
        ("StatefulPartitionedCall:0", {"probs"}, None),
        ("Identity", set(), None),
    ],
)
def test_layer_of(tensor: str, known: set[str], layer: str | None) -> None:
    assert layer_of(tensor, known) == layer


def test_an_unscoped_op_belongs_to_the_layer_that_feeds_it() -> None:
    fc = "functional_1/probs_1/MatMul;functional_1/probs_1/BiasAdd"
    producers = {"StatefulPartitionedCall_1:0": [fc], fc: ["x", "w"], "Lonely:0": ["Input:0"]}
    named = name_layers([fc, "StatefulPartitionedCall_1:0", "Lonely:0"], {"probs"}, producers)
    assert named == {fc: "probs", "StatefulPartitionedCall_1:0": "probs", "Lonely:0": "Lonely:0"}


def test_layers_rank_by_their_worst_op() -> None:
    def op(layer: str, value: float) -> LayerError:
        return LayerError(layer, "FULLY_CONNECTED", f"{layer}/{value}", value, 0.0, 1.0)

    ops = [op("a", 0.3), op("b", 2.0), op("a", 5.0), op("c", 0.29), op("b", float("nan"))]
    assert ranked_layers(ops) == ["b", "a", "c"]  # NaN ranks as the worst: it is broken


def test_search_tries_sets_in_a_stable_order() -> None:
    layers = ["a", "b", "c", "d", "e", "f", "g"]
    runs = []
    for _ in range(2):
        calls, trial = needs("d")
        search(layers, [DROP], trial)
        runs.append(calls)
    assert runs[0] == runs[1]
    assert all(len(set(kept)) == len(kept) for kept in itertools.chain(*runs))


def test_names_resolve_exactly_or_without_the_export_suffix() -> None:
    layers = ["body_1", "features_1", "head_1", "head_2", "probs"]
    assert resolve(["features", "probs", "head_2"], layers) == ("features_1", "probs", "head_2")
    with pytest.raises(OptionsError) as raised:
        resolve(["head"], layers)  # two layers could be meant
    assert "no quantized layer is named 'head'" in str(raised.value)
    with pytest.raises(OptionsError) as raised:
        resolve(["featurs"], layers)
    assert str(raised.value) == (
        "keep_float: no quantized layer is named 'featurs'; did you mean 'features_1'? "
        "(the layers: body_1, features_1, head_1, head_2, probs)"
    )


def test_a_suspect_layer_brings_the_layers_that_feed_it() -> None:
    def op(layer: str, value: float) -> LayerError:
        return LayerError(layer, "FULLY_CONNECTED", layer, value, 0.0, 1.0)

    # "hidden" suffers from its input: "wide"'s activation range is too wide for int8.
    ops = [op("hidden", 11.6), op("features", 0.35), op("probs", 0.25), op("wide", 0.1)]
    feeds = {"hidden": ["wide"], "wide": ["features"], "probs": ["hidden"], "features": []}
    assert search_order(ops, feeds) == ["hidden", "wide", "features", "probs"]
    # Ops near rounding alone bring nothing: the order is the ranking.
    calm = [op("a", 0.5), op("b", 0.3)]
    assert search_order(calm, {"a": ["b"], "b": []}) == ["a", "b"]
