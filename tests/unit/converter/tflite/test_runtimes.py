"""The runtime-version table and what a model needs from a runtime; TF's own metadata as oracle."""

from __future__ import annotations

import json

import flatbuffers
import pytest
from ai_edge_litert import schema_py_generated as schema

from converter.tflite import modelinfo, runtimes
from converter.tflite.runtimes import Need, loads_on, needs, parse_version, show_version

# --- versions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("2", (2, 0, 0)), ("2.14", (2, 14, 0)), ("2.14.0", (2, 14, 0)), ("1.13.1", (1, 13, 1))],
)
def test_parse_version(text: str, parsed: tuple[int, int, int]) -> None:
    assert parse_version(text) == parsed


@pytest.mark.parametrize("text", ["", "2.", "v2.14", "2.14.0.1", "2.x", " 2.14", "2.14-rc0"])
def test_parse_version_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not of the form 2, 2\.14 or 2\.14\.0"):
        parse_version(text)


def test_a_yaml_number_is_not_a_version() -> None:
    with pytest.raises(ValueError, match=r"runtime version 2\.1 is not a string: write it quoted"):
        parse_version(2.1)  # type: ignore[arg-type]  # what YAML makes of 2.10


def test_show_version_drops_only_a_zero_patch() -> None:
    assert show_version((2, 17, 0)) == "2.17"
    assert show_version((2, 0, 0)) == "2.0"
    assert show_version((1, 13, 1)) == "1.13.1"
    assert show_version("2.14.4") == "2.14.4"
    assert show_version("2") == "2.0"


def test_versions_order_by_number_not_text() -> None:
    assert parse_version("2.9") < parse_version("2.14")
    assert parse_version("2.14") < parse_version("2.14.4") < parse_version("2.15")
    ordered = sorted(["2.14", "1.15.0", "2.9", "2.3.1", "2"], key=parse_version)
    assert ordered == ["1.15.0", "2", "2.3.1", "2.9", "2.14"]


# --- the table -----------------------------------------------------------------------------


def test_every_op_in_the_table_is_a_builtin_of_the_schema() -> None:
    names = {n for n in vars(schema.BuiltinOperator) if not n.startswith("_")}
    assert set(runtimes.FIRST_RUNTIME) <= names, set(runtimes.FIRST_RUNTIME) - names
    assert "CUSTOM" not in runtimes.FIRST_RUNTIME


def test_table_entries_are_full_versions_and_never_go_back() -> None:
    """A later op version never runs on an older runtime than an earlier one."""
    for op, versions in runtimes.FIRST_RUNTIME.items():
        assert versions, op
        assert all(text.count(".") == 2 for text in versions.values()), op
        in_order = [parse_version(versions[v]) for v in sorted(versions)]
        assert in_order == sorted(in_order), op


def test_first_runtime_lookups() -> None:
    assert runtimes.first_runtime("FULLY_CONNECTED", 12) == "2.17.0"
    assert runtimes.first_runtime("FULLY_CONNECTED", 1) == "1.5.0"
    assert runtimes.first_runtime("UNIDIRECTIONAL_SEQUENCE_LSTM", 1) == "1.13.1"
    assert runtimes.first_runtime("TRANSPOSE", 7) == "2.14.4"
    # Version 1 of BROADCAST_TO was rolled back upstream; the table starts at 2.
    assert runtimes.first_runtime("BROADCAST_TO", 1) is None
    assert runtimes.first_runtime("BROADCAST_TO", 2) == "2.5.0"
    assert runtimes.first_runtime("FULLY_CONNECTED", 99) is None
    assert runtimes.first_runtime("CUSTOM:MyOp", 1) is None
    assert runtimes.first_runtime("FLEX:Erf", 1) is None


# --- needs ---------------------------------------------------------------------------------


def test_the_highest_op_version_sets_the_need() -> None:
    ops = {
        "CONV_2D": (1, 3),
        "FULLY_CONNECTED": (9, 12),
        "RESHAPE": (1,),
        "CUSTOM:MyOp": (1,),
        "FLEX:Erf": (1,),
    }
    assert needs(ops) == Need("2.17.0", "FULLY_CONNECTED v12", ())
    assert needs({"RESHAPE": (1,), "UNIDIRECTIONAL_SEQUENCE_LSTM": (1,)}) == Need(
        "1.13.1", "UNIDIRECTIONAL_SEQUENCE_LSTM v1", ()
    )


def test_a_tie_names_the_first_op_version_and_beats_the_metadata() -> None:
    # CONV_2D v8 and GATHER v7 both first run on 2.15.0.
    assert needs({"GATHER": (7,), "CONV_2D": (8,)}) == Need("2.15.0", "CONV_2D v8", ())
    assert needs({"GATHER": (7,)}, metadata="2.15.0").because == "GATHER v7"
    assert needs({"GATHER": (7,)}, metadata="2.15").because == "GATHER v7"


def test_metadata_higher_than_every_op_sets_the_need() -> None:
    assert needs({"CONV_2D": (1,)}, metadata="2.20.0") == Need("2.20.0", None, ())
    assert needs({}, metadata="2.3.0") == Need("2.3.0", None, ())
    assert needs({"CUSTOM:MyOp": (1,)}) == Need("", None, ())
    assert needs({"CONV_2D": (6,)}, metadata="2.3.0") == Need("2.9.0", "CONV_2D v6", ())


def test_versions_the_table_does_not_know_are_listed() -> None:
    need = needs({"ADD": (1, 99), "DELEGATE": (1,), "BUILTIN_999": (2,), "CUSTOM:Foo": (7,)})
    assert need == Need("1.5.0", "ADD v1", ("ADD v99", "BUILTIN_999 v2", "DELEGATE v1"))


def test_loads_on() -> None:
    need = Need("2.17.0", "FULLY_CONNECTED v12", ())
    assert loads_on(need, "2.16") is False
    assert loads_on(need, "2.17") is True
    assert loads_on(need, "2.18.1") is True
    assert loads_on(Need("2.14.4", "TRANSPOSE v7", ()), "2.14") is False
    assert loads_on(Need("", None, ()), "1.5") is True
    # The known part passes, but nothing vouches for FOO v9.
    assert loads_on(Need("2.3.0", "ADD v3", ("FOO v9",)), "2.17") is None
    assert loads_on(Need("", None, ("FOO v9",)), "2.17") is None
    assert loads_on(Need("2.17.0", "FULLY_CONNECTED v12", ("FOO v9",)), "2.16") is False
    for nothing_known in (need, Need("", None, ())):
        with pytest.raises(ValueError, match="runtime version 'latest'"):
            loads_on(nothing_known, "latest")


def test_need_round_trips_through_json() -> None:
    for need in (Need("2.17.0", "FULLY_CONNECTED v12", ("FOO v9",)), Need("", None, ())):
        text = json.dumps(need.to_dict())
        assert Need.from_dict(json.loads(text)) == need
    assert Need("2.3.0", None, ("A v1",)).to_dict() == {
        "version": "2.3.0",
        "because": None,
        "unknown": ["A v1"],
    }


def _model_with(ops: dict[str, int], runtime: bytes | None) -> bytes:
    """A flatbuffer using each builtin op at one version, with TF's metadata entry if given."""
    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT()]
    model.operatorCodes = []
    subgraph = schema.SubGraphT()
    subgraph.operators = []
    for index, (name, version) in enumerate(ops.items()):
        code = schema.OperatorCodeT()
        code.builtinCode = getattr(schema.BuiltinOperator, name)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        code.version = version
        model.operatorCodes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex = index
        subgraph.operators.append(op)
    model.subgraphs = [subgraph]
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    data = bytes(builder.Output())
    if runtime is not None:  # TF writes a 16-byte, zero-padded entry
        data = modelinfo.stamp_metadata(data, "min_runtime_version", runtime.ljust(16, b"\0"))
    return data


def test_need_of_reads_op_versions_and_metadata_from_the_bytes() -> None:
    data = _model_with({"FULLY_CONNECTED": 12, "RESHAPE": 1}, b"2.17.0")
    assert runtimes.need_of(data) == Need("2.17.0", "FULLY_CONNECTED v12", ())
    data = _model_with({"RESHAPE": 1}, b"2.20.0")
    assert runtimes.need_of(data) == Need("2.20.0", None, ())
    data = _model_with({"RESHAPE": 1, "FULLY_CONNECTED": 99}, None)
    assert runtimes.need_of(data) == Need("1.5.0", "RESHAPE v1", ("FULLY_CONNECTED v99",))


# --- TensorFlow's own metadata as the oracle ----------------------------------------------
