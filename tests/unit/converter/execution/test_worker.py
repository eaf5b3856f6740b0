"""When a worker retires its process: the thresholds, without starting one."""

from __future__ import annotations


def test_a_worker_retires_past_its_memory_threshold() -> None:
    from converter.execution.worker import Worker

    worker = Worker(recycle_mb=1500, memory_limit_mb=10000)
    assert not worker._worn_out(1400) and worker._worn_out(1600)
    assert Worker(memory_limit_mb=1000)._worn_out(800)  # 75% of the ceiling, as before
