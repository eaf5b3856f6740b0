"""Reports as typed data, and every budget checked through the one table (no TF)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from converter.tflite.modelinfo import ModelInfo
from rules.manifest import budgets
from rules.manifest.budgets import BUDGETS, BY_NAME, SIZE_GROWTH, Budget
from rules.manifest.types import budget_for
from rules.report.sections import AccuracySection, Host, LatencySection, SizeSection
from rules.report.variant import Check, Report, check, headline
from tests.support import REPO
from tests.support.reports import HOST, accuracy_section, latency_section, report

RULES = REPO / "rules"
NAME = "m/int8"

# The figures of the report below, and for each budget a limit it passes, one it fails and the
# sentence of the failure (worked out by hand: the golden texts a user reads).
SIZE, ACCURACY, TOP1, MAX_ABS_ERROR, MEDIAN_MS = 1200, 0.875, 0.97, 0.01, 0.5
CASES: dict[str, tuple[float, float, str]] = {
    "max_size": (1500, 1000, "max_size is 1,000 bytes, measured 1,200 bytes"),
    "min_accuracy": (0.8, 0.9, "min_accuracy is 0.9, measured 0.875"),
    "max_accuracy_drop": (0.05, 0.02, "max_accuracy_drop is 0.02, measured 0.025"),
    "min_top1_agreement": (0.95, 0.99, "min_top1_agreement is 0.99, measured 0.97"),
    "max_error": (0.01, 0.005, "max_error is 0.005, measured 0.01"),
    "max_latency_ms": (1.0, 0.25, "max_latency_ms is 0.25, measured 0.5"),
}


def _measured(
    accuracy: AccuracySection | None = None,
    latency: LatencySection | None = None,
    size: SizeSection | None = None,
) -> Report:
    made = report(
        "m",
        "int8",
        SIZE,
        accuracy=accuracy or accuracy_section(ACCURACY, TOP1, MAX_ABS_ERROR),
        latency=latency or latency_section(MEDIAN_MS),
    )
    return made if size is None else dataclasses.replace(made, size=size)


def _checked(made: Report, **limits: float) -> Report:
    return dataclasses.replace(made, budgets=check(NAME, Budget(**limits), made))  # type: ignore[arg-type]


def test_the_cases_cover_every_budget_a_report_checks() -> None:
    """The limits on numbers; the device gates have their cases in test_device.py."""
    assert set(CASES) == {kind.name for kind in BUDGETS if not kind.by_summary and not kind.gate}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_budget_passes_and_fails_by_its_row(name: str) -> None:
    kind = BY_NAME[name]
    passing, failing, sentence = CASES[name]
    made = _measured()
    figure = made.figure(kind)
    assert figure is not None
    (passed,) = check(NAME, Budget(**{name: passing}), made)  # type: ignore[arg-type]
    assert passed == Check(name, passing, figure, True)
    assert passed.to_dict() == {
        "budget": name,
        "limit": passing,
        "measured": figure,
        "passed": True,
    }
    (failed,) = check(NAME, Budget(**{name: failing}), made)  # type: ignore[arg-type]
    assert (failed.passed, failed.measured, failed.why) == (False, figure, None)
    assert failed.sentence == f"{NAME}: over budget: {sentence}"
    assert failed.to_dict()["sentence"] == failed.sentence
    # Exactly at the limit passes, whichever way the row compares.
    (edge,) = check(NAME, Budget(**{name: figure}), made)  # type: ignore[arg-type]
    assert edge.passed is True


def test_checks_follow_the_tables_order_and_the_variant_budget_overrides_the_general() -> None:
    merged = budget_for(
        {"*": Budget(max_size=1000, max_latency_ms=1.0), "int8": Budget(max_size=1500)}, "int8"
    )
    assert merged == Budget(max_size=1500, max_latency_ms=1.0)
    made = _checked(_measured(), max_latency_ms=0.25, max_size=1000, min_accuracy=0.8)
    assert [c.budget for c in made.budgets] == ["max_size", "min_accuracy", "max_latency_ms"]
    assert [c.passed for c in made.budgets] == [False, True, False]


def test_unmeasured_budgets_say_why() -> None:
    unlabelled = accuracy_section(None, top1=None)
    cases = [
        (_measured(accuracy=unlabelled), "min_accuracy", "the evaluate data has no labels "
         "(no evaluate data: 64 seeded samples in [0, 1))"),
        (_measured(accuracy=unlabelled), "max_accuracy_drop", "the evaluate data has no labels "
         "(no evaluate data: 64 seeded samples in [0, 1))"),
        (_measured(accuracy=unlabelled), "min_top1_agreement",
         "output 'y' has no class axis to take a top-1 from"),
        (_measured(accuracy=AccuracySection(skipped="no reference: the source is gone")),
         "max_error", "there is no accuracy section (no reference: the source is gone)"),
        (_measured(latency=latency_section(None)), "max_latency_ms",
         "the stock interpreter cannot run this model (Select TF ops)"),
    ]  # fmt: skip
    for made, name, why in cases:
        (unmeasured,) = check(NAME, Budget(**{name: 0.5}), made)  # type: ignore[arg-type]
        assert (unmeasured.passed, unmeasured.measured, unmeasured.why) == (None, None, why)
        assert unmeasured.sentence is None and "sentence" not in unmeasured.to_dict()


def test_another_hosts_latency_limits_nothing_here() -> None:
    elsewhere = latency_section(0.5, Host("Another CPU", 8, HOST.runtime), this_host=False)
    (latency,) = check(NAME, Budget(max_latency_ms=0.25), _measured(latency=elsewhere))
    assert latency.passed is None and latency.measured is None
    assert BY_NAME["max_latency_ms"].per_host and not BY_NAME["max_size"].per_host


def test_the_growth_budget_is_left_to_the_summary() -> None:
    (growth,) = check(NAME, Budget(max_size_growth=0.02), _measured())
    assert growth == Check(SIZE_GROWTH.name, 0.02, None, None)  # no reason: not the report's
    assert growth.to_dict() == {
        "budget": "max_size_growth",
        "limit": 0.02,
        "measured": None,
        "passed": None,
    }
    failed = Check.of(NAME, SIZE_GROWTH, 0.02, 0.05, None)
    assert failed.sentence == f"{NAME}: over budget: max_size_growth is +2.00%, measured +5.00%"


def test_values_read_as_their_rows_say() -> None:
    assert BY_NAME["max_size"].show(2_000_000) == "2,000,000 bytes"
    assert BY_NAME["max_size_growth"].show(-0.015) == "-1.50%"
    assert BY_NAME["max_error"].show(1e-06) == "1e-06"
    assert BY_NAME["min_accuracy"].show(None) == "not measured"


def _two_signatures(primary: AccuracySection) -> AccuracySection:
    """A model with signatures embed (its default) and predict, each measured on its own."""
    return AccuracySection.per_signature({"embed": primary, "predict": accuracy_section(0.9)})


def _shapes() -> list[Report]:
    """A report of each shape a build writes: labelled or not, skipped, unrunnable, elsewhere,
    several signatures (the primary one measured or not), without its float32 artifact."""
    elsewhere = latency_section(0.5, Host("Another CPU", 8, HOST.runtime), this_host=False)
    no_float32 = dataclasses.replace(_measured().size, vs_float32_skipped="no float32 artifact")
    return [
        _checked(_measured(), max_size=1000, min_accuracy=0.8, max_size_growth=0.02),
        _checked(_measured(accuracy=accuracy_section(None, top1=None)), min_top1_agreement=0.9),
        _measured(accuracy=AccuracySection(skipped="no reference"), latency=latency_section(None)),
        _measured(latency=elsewhere, size=dataclasses.replace(_measured().size, vs_float32=0.3)),
        _checked(
            _measured(
                accuracy=_two_signatures(accuracy_section(None)),
                latency=dataclasses.replace(latency_section(0.5), signature="embed"),
            ),
            max_error=0.1,
        ),
        _measured(accuracy=_two_signatures(AccuracySection(skipped="input 'text' takes strings"))),
        _measured(size=no_float32),
    ]


SHAPES = ["checked", "unlabelled", "skipped", "elsewhere", "signatures", "signature_skipped",
          "no_float32"]  # fmt: skip


@pytest.mark.parametrize("made", _shapes(), ids=SHAPES)
def test_round_trip(made: Report) -> None:
    assert Report.from_dict(made.to_dict()) == made
    text = made.to_json()
    assert Report.from_json(text) == made and Report.from_json(text).to_json() == text
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_what_a_report_writes() -> None:
    made = _checked(_measured(latency=latency_section(None)), max_size=1000, max_latency_ms=1.0)
    data = json.loads(made.to_json())
    assert set(data) == {"format", "model", "variant", "artifact", "size", "latency", "accuracy",
                         "device", "budgets"}  # fmt: skip
    assert data["latency"] == {"error": "Select TF ops", "host": HOST.to_dict(), "this_host": True}
    assert data["accuracy"]["output"] == data["accuracy"]["outputs"]["y"]
    assert "vs_float32" not in data["size"] and data["size"]["vs_source"] == 0.125
    assert data["budgets"] == [
        {
            "budget": "max_size",
            "limit": 1000,
            "measured": 1200,
            "passed": False,
            "sentence": "m/int8: over budget: max_size is 1,000 bytes, measured 1,200 bytes",
        },
        {
            "budget": "max_latency_ms",
            "limit": 1.0,
            "measured": None,
            "passed": None,
            "why": "the stock interpreter cannot run this model (Select TF ops)",
        },
    ]
    assert AccuracySection.from_dict({"skipped": "why"}).to_dict() == {"skipped": "why"}


def test_not_a_report_is_one_error() -> None:
    good = _measured().to_dict()
    broken = [{**good, "size": "tampered"}, {k: v for k, v in good.items() if k != "latency"},
              {**good, "budgets": [{"budget": "max_weight", "limit": 1, "measured": 1,
                                    "passed": True}]}]  # fmt: skip
    for data in broken:
        with pytest.raises(ValueError, match=r"^not a report \("):
            Report.from_json(json.dumps(data))
    with pytest.raises(ValueError, match=r"^not a report \(not JSON"):
        Report.from_json("{")


def test_the_size_section_keeps_all_that_modelinfo_describes() -> None:
    described = {f.name for f in dataclasses.fields(ModelInfo)} | {"select_tf_ops", "custom_ops"}
    kept = {f.name for f in dataclasses.fields(SizeSection)}
    assert described - {"provenance"} <= kept


def test_only_the_table_spells_a_budgets_name() -> None:
    """Other modules go through the table (its rows, or ``SIZE_GROWTH``), never a quoted name.

    A name compared with, or looked up in the table by, is what this catches
    (some names are also words of the report's data: ``runtime``, ``select_tf_ops``).
    """
    names = "|".join(budgets.NAMES)
    quoted = re.compile(
        f"(==|!=|\\bin|BY_NAME\\[)\\s*[\"']({names})[\"']|Budget\\([^)]*\\b({names})="
    )
    spelled = [
        f"{path.relative_to(RULES)}:{n}"
        for path in sorted(RULES.rglob("*.py"))
        if path.name != "budgets.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if quoted.search(line)
    ]
    assert spelled == []


def test_the_text_line_says_what_was_measured_or_why_not() -> None:
    classes = headline(report("m", "int8", 1000, accuracy=accuracy_section(top1=0.97)))
    assert "top-1 agreement 0.9700" in classes and "max error" not in classes
    regression = accuracy_section(top1=None, max_abs_error=0.0123)
    assert "max error 0.0123" in headline(report("m", "int8", 1000, accuracy=regression))
    skipped = headline(report("m", "embed", 1000))
    assert "no accuracy section (no reference)" in skipped and "max error" not in skipped


def test_a_layers_section_is_strict_json_even_for_an_op_without_a_scale() -> None:
    import math

    from rules.report.sections import LayersSection, OpError

    section = LayersSection(
        data="the calibration samples, 10 of them",
        kept_float=("stem",),
        ops=(
            OpError("head", "FULLY_CONNECTED", "m/head/MatMul", math.inf, 3.0, 0.0),
            OpError("body", "CONV_2D", "m/body/Conv2D", 0.31, 0.02, 0.01),
            OpError("tail", "SOFTMAX", "out:0", math.nan, 0.0, 0.0039),
        ),
    )
    text = json.dumps(section.to_dict(), allow_nan=False)  # raises on Infinity or NaN
    back = LayersSection.from_dict(json.loads(text))
    assert back.ops[0].rmse_scale == math.inf and math.isnan(back.ops[2].rmse_scale)
    assert back.ops[1] == section.ops[1] and back.kept_float == ("stem",)
    assert back.worst() == ["head", "body", "tail"]


def test_several_signatures_keep_the_primary_ones_fields_and_each_ones_section() -> None:
    """A one-signature report writes what it always did; several add two keys, and budgets
    check the primary signature's figures."""
    one = json.loads(_measured().to_json())["accuracy"]
    assert "signature" not in one and "signatures" not in one
    primary = accuracy_section(None, max_abs_error=0.02)
    made = _checked(_measured(accuracy=_two_signatures(primary)), max_error=0.01)
    data = json.loads(made.to_json())["accuracy"]
    assert set(data) == set(one) - {"accuracy", "reference_accuracy", "accuracy_drop"} | {
        "signature",
        "signatures",
    }
    assert data["signature"] == "embed" and list(data["signatures"]) == ["embed", "predict"]
    assert data["signatures"]["embed"] == json.loads(json.dumps(primary.to_dict()))
    assert data["signatures"]["predict"]["accuracy"] == 0.9
    (error,) = made.budgets
    assert error.measured == 0.02 and error.passed is False
    # A primary signature that could not be measured keeps the others' sections.
    skipped = _two_signatures(AccuracySection(skipped="input 'text' takes strings")).to_dict()
    assert skipped["skipped"] == "input 'text' takes strings" and skipped["signature"] == "embed"
    assert skipped["signatures"]["predict"]["accuracy"] == 0.9
    assert AccuracySection.per_signature({"": primary}) is primary


def test_the_line_names_what_a_variant_with_select_tf_ops_cannot_do_here() -> None:
    why = (
        "it uses Select TF ops (FLEX:Cumprod), which run only where the Flex delegate is linked in"
    )
    flex = report(
        "m",
        "flex",
        1000,
        accuracy=AccuracySection(skipped=why),
        latency=LatencySection(HOST, error=why, this_host=True),
    )
    line = headline(flex)
    assert f"no accuracy or latency here: {why}" in line and line.count(why) == 1
    two = headline(
        report(
            "m",
            "float32",
            1000,
            accuracy=_two_signatures(accuracy_section(None)),
            latency=dataclasses.replace(latency_section(0.5), signature="embed"),
        )
    )
    assert "2 signatures compared, figures for embed" in two
    assert "(host CPU, signature embed)" in two
