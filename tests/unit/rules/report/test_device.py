"""Device gates both ways: the runtime, GPU and op budgets a report checks (no TF)."""

from __future__ import annotations

import dataclasses

import pytest

from rules.manifest.budgets import BUDGETS, BY_NAME, Budget, Limit
from rules.report.device import DeviceSection, allows
from rules.report.variant import Report, check, headline
from tests.support.reports import device_section, report

NAME = "m/int8"
# An int8 MLP whose dynamic-range sibling needs FULLY_CONNECTED v12 (runtime 2.17), and a
# model with a Select TF op and an op the GPU delegate refuses.
NEW = device_section({"FULLY_CONNECTED": (12,), "SOFTMAX": (1,)}, "2.17.0", "FULLY_CONNECTED v12")
FLEX = device_section(
    {"CUMSUM": (1,), "FLEX:Erf": (1,), "SOFTMAX": (1,)},
    "1.14.0",
    "CUMSUM v1",
    gpu_rejected={"CUMSUM": 2, "FLEX:Erf": 1},
)

# For each gate: the section, a limit it passes, one it fails, and the failure's sentence.
CASES: dict[str, tuple[DeviceSection, Limit, Limit, str]] = {
    "runtime": (
        NEW,
        "2.17",
        "2.14",
        "runtime is 2.14, the variant needs 2.17 (FULLY_CONNECTED v12)",
    ),
    "gpu_compatible": (
        FLEX,
        False,  # asks for nothing: no check at all
        True,
        "gpu_compatible is true, 3 of 5 ops cannot run on the GPU delegate: "
        "CUMSUM (2, not supported), FLEX:Erf (1, not supported)",
    ),
    "allowed_ops": (
        NEW,
        ("FULLY_CONNECTED", "SOFTMAX v1"),
        ("FULLY_CONNECTED v1-11", "SOFTMAX v1", "CONV_2D"),
        "allowed_ops leaves out FULLY_CONNECTED v12",
    ),
    "select_tf_ops": (
        FLEX,
        True,  # allowed: no check at all
        False,
        "select_tf_ops is false, the variant uses Erf",
    ),
}


def _with(device: DeviceSection) -> Report:
    return dataclasses.replace(report("m", "int8", 1000), device=device)


def test_the_cases_cover_every_gate() -> None:
    assert set(CASES) == {kind.name for kind in BUDGETS if kind.gate}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_gate_passes_and_fails(name: str) -> None:
    device, passing, failing, sentence = CASES[name]
    made = _with(device)
    passed = check(NAME, Budget(**{name: passing}), made)  # type: ignore[arg-type]
    if passing == BY_NAME[name].free:
        assert passed == ()  # the flag's free value sets no limit
    else:
        assert [(c.budget, c.passed, c.sentence) for c in passed] == [(name, True, None)]
    (failed,) = check(NAME, Budget(**{name: failing}), made)  # type: ignore[arg-type]
    assert (failed.passed, failed.sentence) == (False, f"{NAME}: over budget: {sentence}")
    # A report's JSON keeps the limit as written, and reads it back the same.
    back = Report.from_json(dataclasses.replace(made, budgets=(failed,)).to_json())
    assert back.budgets == (failed,)


def test_a_variant_can_lift_a_general_gate() -> None:
    from rules.manifest.types import budget_for

    merged = budget_for(
        {"*": Budget(gpu_compatible=True), "int8": Budget(gpu_compatible=False)}, "int8"
    )
    assert merged is not None and check(NAME, merged, _with(FLEX)) == ()


def test_runtime_gate_cannot_vouch_for_an_op_version_the_table_does_not_know() -> None:
    unknown = dataclasses.replace(NEW, runtime="2.3.0", runtime_because="SOFTMAX v3",
                                  unknown_ops=("FOO v9",))  # fmt: skip
    (judged,) = check(NAME, Budget(runtime="2.14"), _with(unknown))
    assert (judged.passed, judged.why) == (None, "the runtime table has no entry for FOO v9")
    # ...but a known op version over the limit still fails it.
    (failed,) = check(NAME, Budget(runtime="2.2"), _with(unknown))
    assert failed.passed is False


def test_versions_compare_as_numbers_not_text() -> None:
    old = dataclasses.replace(NEW, runtime="2.9.0", runtime_because="CONV_2D v6")
    (passed,) = check(NAME, Budget(runtime="2.14"), _with(old))
    assert passed.passed is True


@pytest.mark.parametrize(
    ("entries", "op", "version", "allowed"),
    [
        (("CONV_2D",), "CONV_2D", 7, True),
        (("CONV_2D v3",), "CONV_2D", 3, True),
        (("CONV_2D v3",), "CONV_2D", 4, False),
        (("CONV_2D v2-3",), "CONV_2D", 1, False),
        (("CONV_2D v1", "CONV_2D v3-5"), "CONV_2D", 4, True),
        (("CUSTOM:MyOp",), "CUSTOM:MyOp", 1, True),
        (("FLEX:Erf",), "FLEX:Cumprod", 1, False),
    ],
)
def test_allowed_ops_entries(
    entries: tuple[str, ...], op: str, version: int, allowed: bool
) -> None:
    assert allows(entries, op, version) is allowed


def test_the_text_line_names_the_runtime_and_the_gpu_refusals() -> None:
    line = headline(_with(FLEX))
    assert "needs runtime 1.14 (CUMSUM v1)" in line
    assert "3 of 5 ops cannot run on the GPU delegate" in line
    assert "GPU" not in headline(_with(NEW))
