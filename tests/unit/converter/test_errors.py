"""converter.errors: the sentences a failure ends as, and how errors cross a pipe."""

from __future__ import annotations

import pickle

import pytest

from converter.errors import (
    CheckError,
    ConversionError,
    ConverterError,
    describe,
    from_wire,
    to_wire,
    without_locations,
)

# What TF 2.21 says of a GRU with a free batch size (its locations shortened).
TENSOR_LIST_FAILURE = (
    'loc(callsite(fused["TensorListReserve:", "functional_1/gru_1/TensorArrayV2_1@'
    '__inference_function_652"] at callsite(fused["StatefulPartitionedCall:", '
    '"StatefulPartitionedCall@__inference_signature_wrapper_683"] at '
    'fused["StatefulPartitionedCall:", "StatefulPartitionedCall_1"]))): '
    "'tf.TensorListReserve' op requires element_shape to be static during TF Lite "
    'transformation pass; loc(fused["a"]): failed to legalize operation '
    "'tf.TensorListReserve' that was explicitly marked illegal"
)


def test_mlir_locations_are_left_to_the_log() -> None:
    assert without_locations(TENSOR_LIST_FAILURE) == (
        "'tf.TensorListReserve' op requires element_shape to be static during TF Lite "
        "transformation pass; failed to legalize operation 'tf.TensorListReserve' that was "
        "explicitly marked illegal"
    )
    assert without_locations("shape (1, 2) (no location)") == "shape (1, 2) (no location)"


def test_a_free_batch_recurrent_failure_names_all_three_routes() -> None:
    text = describe(RuntimeError(TENSOR_LIST_FAILURE))
    assert text.startswith("TensorFlow's converter failed: 'tf.TensorListReserve' op")
    assert "__inference" not in text
    for route in (
        "Input(batch_size=1)",
        "unroll=True",
        "supported_ops: [builtins, select_tf_ops]",
        "{_experimental_lower_tensor_list_ops: false}",
    ):
        assert route in text, route


@pytest.mark.parametrize("cls", [ConverterError, ConversionError, CheckError])
def test_an_error_crosses_a_pipe_as_plain_data(cls: type[ConverterError]) -> None:
    try:
        try:
            raise KeyError("TensorFlow's own exception, with a traceback")
        except KeyError:
            raise cls("the sentence", log="the log tail") from None
    except ConverterError as e:
        wire = to_wire(e)
    assert wire == (cls.__name__, "the sentence", "the log tail")
    # Plain strings: nothing of the context or the traceback comes along, whatever
    # pickler a library installed.
    assert pickle.loads(pickle.dumps(wire)) == wire
    back = from_wire(wire)
    assert type(back) is cls and str(back) == "the sentence" and back.log == "the log tail"


def test_an_unknown_class_arrives_as_a_converter_error() -> None:
    back = from_wire(("SomethingElse", "words", ""))
    assert type(back) is ConverterError and str(back) == "words"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (
            "Select TensorFlow op(s), included in the given model, is(are) not supported by this "
            "interpreter. Node number 3 (FlexTensorListReserve) failed to prepare.",
            "integer calibration runs the model in TensorFlow Lite's interpreter, which cannot "
            "run Select TF ops",
        ),
        (
            "Quantization to 16x8-bit not yet supported for op: 'NEG'.",
            "set float_fallback: true",
        ),
    ],
)
def test_known_failures_get_the_hint_that_fits(text: str, hint: str) -> None:
    described = describe(RuntimeError(text))
    assert hint in described, described
    assert "batch_size=1), or use unroll" not in described  # not the free-batch route
