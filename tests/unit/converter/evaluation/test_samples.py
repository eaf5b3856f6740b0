"""Seeded samples of each input's kind, and one signature's share of the evaluate data (no TF)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from converter.evaluation.samples import (
    GENERATED_SAMPLES,
    INTEGER_BOUND,
    SEED,
    MissingData,
    for_signature,
    generated,
)


def _detail(dtype: Any, shape: list[int], scale: float = 0.0) -> dict[str, Any]:
    """An input as the interpreter describes it (the fields sampling reads)."""
    return {"dtype": dtype, "shape_signature": np.array(shape), "quantization": (scale, 0)}


def test_real_inputs_draw_what_they_always_drew() -> None:
    """A float model's samples are the bytes they were before integer inputs had their own."""
    details = [_detail(np.float32, [-1, 8, 8, 1]), _detail(np.int8, [1, 5], scale=0.05)]
    arrays, origin = generated(["img", "meta"], details)
    rng = np.random.default_rng(SEED)
    before = [rng.random((GENERATED_SAMPLES, *s), dtype=np.float32) for s in ([8, 8, 1], [5])]
    assert arrays["img"].tobytes() == before[0].tobytes()
    assert (
        arrays["meta"].tobytes() == before[1].tobytes()
    )  # quantized: real values, quantized later
    assert origin == "no evaluate data: 64 seeded samples in [0, 1)"


def test_integers_and_booleans_are_sampled_where_any_model_accepts_them() -> None:
    details = [
        _detail(np.int32, [-1, 6]),
        _detail(np.bool_, [-1, 6]),
        _detail(np.float32, [-1, 3]),
        _detail(np.int64, [-1]),
    ]
    arrays, origin = generated(["ids", "mask", "x", "position"], details)
    ids, mask, position = arrays["ids"], arrays["mask"], arrays["position"]
    assert ids.dtype == np.int32 and ids.shape == (GENERATED_SAMPLES, 6)
    assert position.dtype == np.int64 and position.shape == (GENERATED_SAMPLES,)
    for values in (ids, position):
        assert set(np.unique(values).tolist()) == set(range(INTEGER_BOUND))  # every id, none past
    assert mask.dtype == np.bool_ and 0 < mask.mean() < 1
    assert arrays["x"].dtype == np.float32 and arrays["x"].min() >= 0 and arrays["x"].max() < 1
    assert origin == (
        "no evaluate data: 64 seeded samples: integers in [0, 2) for ids, position (ids every "
        "lookup table of two rows or more holds; evaluate data gives real ones); true or false "
        "for mask; in [0, 1) for x"
    )


def test_no_sample_stands_in_for_a_string() -> None:
    with pytest.raises(MissingData) as raised:
        generated(["ids", "text"], [_detail(np.int32, [-1, 4]), _detail(np.bytes_, [-1])])
    assert str(raised.value) == (
        "input 'text' takes strings, which no generated sample can stand in for: give it "
        "evaluate data (evaluate: {data: file.npz} with an array named 'text')"
    )


def test_each_signature_takes_its_own_arrays_by_name() -> None:
    x, own_x, labels, own_labels = (np.full(3, v) for v in (1, 2, 3, 4))
    data = {"x": x, "embed/x": own_x, "labels": labels, "predict/labels": own_labels}
    embed = for_signature(data, "embed", ["x"], primary=True)
    assert embed.keys() == {"x", "labels"} and embed["x"] is own_x and embed["labels"] is labels
    predict = for_signature(data, "predict", ["x"], primary=False)
    assert predict["x"] is x and predict["labels"] is own_labels
    other = for_signature({"x": x, "labels": labels}, "other", ["x"], primary=False)
    assert other.keys() == {"x"}  # plain labels are the primary signature's
    with pytest.raises(MissingData, match="no array for input 'y' of signature 'embed': name it "):
        for_signature(data, "embed", ["x", "y"], primary=True)
