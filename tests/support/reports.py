"""Typed reports for the tests, with the shape a real build writes (no TF)."""

from __future__ import annotations

from converter.tflite.gpu import GpuVerdict
from rules.report.device import DeviceSection
from rules.report.sections import AccuracySection, Host, LatencySection, OutputErrors, SizeSection
from rules.report.variant import Check, Report

HOST = Host("Test CPU", 2, "ai-edge-litert 2.3.0")


def size_section(size: int, vs_float32: float | None = None) -> SizeSection:
    return SizeSection(
        size=size,
        parameters=1000,
        constant_bytes={"FLOAT32": size // 2},
        ops={"FULLY_CONNECTED": 1, "SOFTMAX": 1},
        select_tf_ops=0,
        custom_ops=0,
        subgraphs=({"name": "main", "operators": 2, "tensors": 5},),
        signatures=(
            {
                "key": "serving_default",
                "inputs": [{"name": "x", "shape": [-1, 4], "dtype": "FLOAT32"}],
                "outputs": [{"name": "y", "shape": [-1, 3], "dtype": "FLOAT32"}],
            },
        ),
        min_runtime_version="1.14.0",
        conversion={"tensorflow_version": "2.21.0", "optimization_modes": []},
        source_bytes=8 * size,
        vs_source=0.125,
        vs_float32=vs_float32,
    )


def errors(top1: float | None = 0.97, max_abs_error: float = 0.01) -> OutputErrors:
    return OutputErrors(max_abs_error, 0.001, 0.002, 0.9999, "inf", top1)


def accuracy_section(
    accuracy: float | None = None, top1: float | None = 0.97, max_abs_error: float = 0.01
) -> AccuracySection:
    """Compared with the reference; with labels when ``accuracy`` is given."""
    labelled = accuracy is not None
    return AccuracySection(
        reference="the source model, run in TensorFlow",
        data="test.npz, 30 samples"
        if labelled
        else "no evaluate data: 64 seeded samples in [0, 1)",
        outputs_matched_by="name",
        primary_output="y",
        outputs={"y": errors(top1, max_abs_error)},
        max_abs_error=max_abs_error,
        accuracy=accuracy,
        reference_accuracy=0.9 if labelled else None,
        accuracy_drop=None if accuracy is None else round(0.9 - accuracy, 6),
    )


def latency_section(
    median_ms: float | None = 0.5, host: Host = HOST, this_host: bool | None = True
) -> LatencySection:
    if median_ms is None:
        return LatencySection(host, error="Select TF ops", this_host=this_host)
    return LatencySection(
        host,
        median_ms=median_ms,
        p90_ms=median_ms * 1.1,
        batch=1,
        threads=1,
        runs=30,
        note="host CPU of the machine that built the report, not the target device",
        this_host=this_host,
    )


def report(
    model: str,
    variant: str,
    size: int,
    checks: tuple[Check, ...] = (),
    accuracy: AccuracySection | None = None,
    latency: LatencySection | None = None,
    vs_float32: float | None = None,
    device: DeviceSection | None = None,
) -> Report:
    return Report(
        model,
        variant,
        f"{variant}.tflite",
        size_section(size, vs_float32),
        latency if latency is not None else latency_section(),
        accuracy if accuracy is not None else AccuracySection(skipped="no reference"),
        device if device is not None else device_section(),
        checks,
    )


def device_section(
    ops: dict[str, tuple[int, ...]] | None = None,
    runtime: str = "1.14.0",
    because: str | None = "FULLY_CONNECTED v4",
    gpu_rejected: dict[str, int] | None = None,
) -> DeviceSection:
    """A device section as the flatbuffer reader would write it (GPU reasons filled in)."""
    rejected = gpu_rejected or {}
    return DeviceSection(
        ops=ops if ops is not None else {"FULLY_CONNECTED": (4,), "SOFTMAX": (2,)},
        runtime=runtime,
        runtime_because=because,
        unknown_ops=(),
        gpu=GpuVerdict(rejected, {op: "not supported" for op in rejected}, 5),
    )
