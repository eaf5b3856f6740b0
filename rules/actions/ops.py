"""The ops task: the fleet's op inventory (``ops.json``) and a selective runtime's registration source.

Reads the artifacts the convert task left (never TensorFlow: a flatbuffer read
each, milliseconds), and writes a file only when its text changed, so a job
that sees nothing new leaves both untouched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from doit.exceptions import TaskFailed

from converter.files import write_atomic
from rules.build import Build

INVENTORY = "ops.json"
REGISTRATION = "register_ops.cc"


def ops(artifacts: dict[str, str], build: Build) -> TaskFailed | None:
    """``artifacts``: model/variant -> its .tflite path."""
    from rules.inventory import Fleet, VariantOps
    from rules.registration import registration_source

    project = build.project
    missing = [name for name, path in artifacts.items() if not Path(path).is_file()]
    if missing:
        return TaskFailed(
            f"no artifact for {', '.join(missing)}: run doit convert first "
            "(a sharded build converts only its shard)"
        )
    fleet = Fleet.of(
        VariantOps.read(name, Path(path).read_bytes()) for name, path in artifacts.items()
    )
    inventory = json.dumps(fleet.to_dict(), indent=2, sort_keys=True) + "\n"
    source = registration_source(fleet.ops(), list(fleet.variants))
    build_dir = project.build_dir
    for name, text in ((INVENTORY, inventory), (REGISTRATION, source)):
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
        f"see {project.display(build_dir / INVENTORY)} and {project.display(build_dir / REGISTRATION)}",
        file=sys.stderr,
    )
    return None


def _write_if_changed(path: Path, text: str) -> None:
    data = text.encode()
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    write_atomic(path, data)
