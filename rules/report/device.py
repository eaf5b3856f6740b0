"""A variant's device section: what it needs from the runtime on the device, and its gates.

Read from the artifact's flatbuffer alone, without TensorFlow, in milliseconds:
every op with its versions (``converter.tflite.modelinfo.op_versions``), the runtime
version it needs and the op version that sets it (``converter.tflite.runtimes``), and
the ops the GPU delegate cannot take (``converter.tflite.gpu``). The four device
budgets (``runtime``, ``gpu_compatible``, ``allowed_ops``, ``select_tf_ops``) are
judged here, each breach as one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from converter.codec import Record
from converter.tflite.gpu import GpuVerdict
from converter.tflite.runtimes import parse_version, show_version
from rules.fleet.inventory import BY_METADATA, op_versions
from rules.manifest.budgets import OP_PATTERN, Limit


@dataclass(frozen=True)
class Verdict:
    """One device gate against the section: ``passed`` None when it cannot be judged."""

    measured: float | str | None
    passed: bool | None
    detail: str  # the breach (or why it cannot be judged), after "<variant>: over budget: "


def allows(entries: tuple[str, ...], op: str, version: int) -> bool:
    """Whether an ``allowed_ops`` list registers ``op`` at ``version``."""
    for entry in entries:
        match = OP_PATTERN.match(entry)
        if match is None or match.group("name") != op:
            continue
        low, high = match.group("low"), match.group("high")
        if low is None:
            return True
        first, last = (1, int(low)) if high is None else (int(low), int(high))
        if first <= version <= last:
            return True
    return False


@dataclass(frozen=True)
class DeviceSection(Record):
    """What the variant needs on the device, read from its flatbuffer; judges the device gates."""

    ops: Mapping[str, tuple[int, ...]]  # CONV_2D, CUSTOM:name, FLEX:name -> versions used
    runtime: str  # the oldest runtime that loads it, "2.17.0"; "" when nothing says
    runtime_because: str | None  # the op version that sets it; None: the artifact's metadata
    unknown_ops: tuple[str, ...]  # op versions the runtime table does not know
    gpu: GpuVerdict  # the ops the GPU delegate cannot take, how many nodes, and why

    @classmethod
    def measure(cls, data: bytes) -> DeviceSection:
        from converter.tflite import (
            gpu,  # the flatbuffer schema: numpy
            modelinfo,
            runtimes,
        )

        need = runtimes.need_of(data)
        return cls(
            ops=modelinfo.op_versions(data),
            runtime=need.version,
            runtime_because=need.because,
            unknown_ops=need.unknown,
            gpu=gpu.gpu_compatibility(data),
        )

    @property
    def select_tf_ops(self) -> list[str]:
        return [op for op in self.ops if op.startswith("FLEX:")]

    @property
    def custom_ops(self) -> list[str]:
        return [op for op in self.ops if op.startswith("CUSTOM:")]

    def needs(self) -> str:
        """``2.17 (FULLY_CONNECTED v12)``: the runtime it needs, and why."""
        why = self.runtime_because or BY_METADATA
        return f"{show_version(self.runtime)} ({why})"

    def judge(self, figure: str, limit: Limit) -> Verdict:
        """The device budget whose ``rules.manifest.budgets`` row names ``figure``, at ``limit``."""
        if figure == "runtime_needed":
            return self._runtime(str(limit))
        if figure == "gpu_refused":
            count = sum(self.gpu.rejected.values())
            return Verdict(count, count == 0, f"gpu_compatible is true, {self.gpu.sentence()}")
        if figure == "select_tf":
            flex = self.select_tf_ops
            names = ", ".join(op.partition(":")[2] for op in flex)
            return Verdict(len(flex), not flex, f"select_tf_ops is false, the variant uses {names}")
        if figure == "ops_not_allowed":
            assert isinstance(limit, tuple)
            missing = [
                name
                for op, versions in self.ops.items()
                for v, name in zip(versions, op_versions({op: versions}), strict=True)
                if not allows(limit, op, v)
            ]
            return Verdict(
                len(missing), not missing, f"allowed_ops leaves out {', '.join(missing)}"
            )
        raise ValueError(f"no device figure named {figure!r}")

    def _runtime(self, limit: str) -> Verdict:
        if not self.runtime:
            return Verdict(None, None, "the artifact states no minimum runtime version")
        measured = show_version(self.runtime)
        if parse_version(self.runtime) > parse_version(limit):
            return Verdict(measured, False, f"runtime is {limit}, the variant needs {self.needs()}")
        if self.unknown_ops:
            unknown = ", ".join(self.unknown_ops)
            why = f"the runtime table has no entry for {unknown}"
            return Verdict(measured, None, why)
        return Verdict(measured, True, "")
