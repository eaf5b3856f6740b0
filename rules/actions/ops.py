"""The ops task: the fleet's op inventory (``ops.json``) and a selective runtime's registration source.

Reads the artifacts the convert task left (never TensorFlow: a flatbuffer read
each, milliseconds), and writes a file only when its text changed, so a job
that sees nothing new leaves both untouched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from doit.exceptions import TaskFailed

from converter.files import write_atomic
from rules.build import layout
from rules.build.context import Build

if TYPE_CHECKING:
    from rules.fleet.inventory import Fleet

# The build state's memo of the last inventory: artifact sha256 -> its ops and runtime. An
# artifact's bytes decide both, and the no-op convert before this task has its digest at
# hand, so a rerun reads no flatbuffer (nor imports the schema, nor numpy).
MEMO = "ops-inventory"


def ops(artifacts: dict[str, str], build: Build) -> TaskFailed | None:
    """``artifacts``: model/variant -> its .tflite path."""
    from rules.fleet.registration import registration_source

    project = build.project
    missing = [name for name, path in artifacts.items() if not Path(path).is_file()]
    if missing:
        return TaskFailed(
            f"no artifact for {', '.join(missing)}: run doit convert first "
            "(a sharded build converts only its shard)"
        )
    fleet = _inventory(artifacts, build)
    inventory = json.dumps(fleet.to_dict(), indent=2, sort_keys=True) + "\n"
    source = registration_source(fleet.ops(), list(fleet.variants))
    build_dir = project.build_dir
    for name, text in ((layout.INVENTORY, inventory), (layout.REGISTRATION, source)):
        _write_if_changed(build_dir / name, text)
    table = fleet.ops()
    kinds = {
        "builtin": sum(1 for op in table if ":" not in op),
        "custom": sum(1 for op in table if op.startswith("CUSTOM:")),
        "Select TF": sum(1 for op in table if op.startswith("FLEX:")),
    }
    counts = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    print(
        f"    ops: {len(fleet.variants)} variants, {counts} ops; {fleet.runtime_sentence()}; "
        f"see {project.display(build_dir / layout.INVENTORY)} and {project.display(build_dir / layout.REGISTRATION)}",
        file=sys.stderr,
    )
    return None


def _inventory(artifacts: dict[str, str], build: Build) -> Fleet:
    """Every artifact's ops: from the memo when its bytes are the last run's, else read."""
    from rules.fleet.inventory import Fleet, VariantOps

    state = build.state
    memo = json.loads(state.meta(MEMO) or "{}")
    kept: dict[str, dict[str, object]] = {}
    variants = []
    for name, path in artifacts.items():
        sha256 = state.digest(path)
        entry = memo.get(sha256)
        if entry is None:
            entry = VariantOps.read(name, Path(path).read_bytes()).to_dict()
        kept[sha256] = entry
        variants.append(VariantOps.from_dict(name, entry))
    state.set_meta(MEMO, json.dumps(kept, sort_keys=True))
    return Fleet.of(variants)


def _write_if_changed(path: Path, text: str) -> None:
    data = text.encode()
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    write_atomic(path, data)
