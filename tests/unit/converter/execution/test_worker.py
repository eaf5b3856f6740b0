"""When a worker retires its process: the thresholds, without starting one; what an error
carries back."""

from __future__ import annotations


def test_a_worker_retires_past_its_memory_threshold() -> None:
    from converter.execution.worker import Worker

    worker = Worker(recycle_mb=1500, memory_limit_mb=10000)
    assert not worker._worn_out(1400) and worker._worn_out(1600)
    assert Worker(memory_limit_mb=1000)._worn_out(800)  # 75% of the ceiling, as before


def test_an_error_crosses_the_pipe_without_the_exception_it_came_from() -> None:
    """TF's tblib pickling would send the chain, and its exception class would import TF here."""
    import pickle

    from converter.errors import ConversionError, to_wire

    class Foreign(Exception):
        pass

    try:
        try:
            raise Foreign("TF's own")
        except Foreign:
            raise ConversionError("the model failed to convert") from None
    except ConversionError as e:
        error = e
    assert isinstance(error.__context__, Foreign)  # `from None` keeps it, only hidden
    sent = pickle.dumps(to_wire(error))
    assert b"Foreign" not in sent and b"the model failed to convert" in sent
