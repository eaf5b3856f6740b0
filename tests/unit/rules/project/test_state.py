"""The build state: digests hashed once per content, listings by folder mtimes, records, read-only asking."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from converter.spec import (
    FrozenGraphSource,
    KerasSource,
    Options,
    PythonSource,
    Representative,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)
from rules.manifest import catalog
from rules.manifest.budgets import Budget
from rules.manifest.types import Evaluate, Manifest, Variant
from rules.project.state import BuildState, Record
from tests.support.project import write_files


def _model(root: Path) -> Path:
    write_files(root, {"sm/saved_model.pb": b"graph", "sm/variables/v.data": b"weights"})
    (root / "sm/assets").mkdir()
    return root / "sm"


def _state(folder: Path) -> BuildState:
    """A state as a run sees it (writes reach the database)."""
    state = BuildState(folder)
    state.begin_run()
    return state


def test_touched_files_are_hashed_once(tmp_path: Path) -> None:
    sm = _model(tmp_path)
    first = _state(tmp_path / "state")
    digests = dict(first.tree(str(sm)))
    assert first.hashed == 2
    later = time.time() + 10
    for path in (sm / "saved_model.pb", sm / "variables/v.data"):
        os.utime(path, (later, later))
    second = _state(tmp_path / "state")  # a new build: a new process
    assert dict(second.tree(str(sm))) == digests and second.hashed == 2
    third = _state(tmp_path / "state")
    assert dict(third.tree(str(sm))) == digests and third.hashed == 0


def test_listing_notices_files_added_or_removed_anywhere(tmp_path: Path) -> None:
    sm = _model(tmp_path)
    list(_state(tmp_path / "state").tree(str(sm)))
    (sm / "assets/vocab.txt").write_text("new")  # in a folder that was empty
    names = [Path(p).name for p, _ in _state(tmp_path / "state").tree(str(sm))]
    assert names == ["vocab.txt", "saved_model.pb", "v.data"]  # by relative path
    (sm / "variables/v.data").unlink()
    names = [Path(p).name for p, _ in _state(tmp_path / "state").tree(str(sm))]
    assert names == ["vocab.txt", "saved_model.pb"]


def test_changed_bytes_change_the_digest(tmp_path: Path) -> None:
    sm = _model(tmp_path)
    before = dict(_state(tmp_path / "state").tree(str(sm)))
    (sm / "variables/v.data").write_bytes(b"other weights")
    after = dict(_state(tmp_path / "state").tree(str(sm)))
    assert before[str(sm / "saved_model.pb")] == after[str(sm / "saved_model.pb")]
    assert before[str(sm / "variables/v.data")] != after[str(sm / "variables/v.data")]


def test_a_learned_digest_is_not_read_again(tmp_path: Path) -> None:
    artifact = tmp_path / "model.tflite"
    artifact.write_bytes(b"converted bytes")
    state = _state(tmp_path / "state")
    state.learn(artifact, "d" * 64)  # what the engine computed while writing it
    assert state.digest(artifact) == "d" * 64 and state.hashed == 0
    artifact.write_bytes(b"edited by hand!")
    assert state.digest(artifact) != "d" * 64 and state.hashed == 1


def test_records_are_kept_at_once_and_read_by_the_next_process(tmp_path: Path) -> None:
    record = Record("d" * 64, "k" * 64, "s" * 64, "1:2:3", ("helper.py", "data/w.npz"))
    _state(tmp_path / "state").remember("convert:m/v", record)
    assert _state(tmp_path / "state").record("convert:m/v") == record
    assert _state(tmp_path / "state").record("convert:m/other") is None


def test_asking_writes_nothing_until_a_run_begins(tmp_path: Path) -> None:
    sm = _model(tmp_path)
    folder = tmp_path / "state"
    _state(folder).remember("convert:m/v", Record("a", "b", "c"))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    asking = BuildState(folder)  # doit list, doit info: no run begins
    list(asking.tree(str(sm)))
    asking.remember("convert:m/v", Record("x", "y", "z"))
    asking.set_meta("found manifests", "[]")
    assert asking.record("convert:m/v") == Record("x", "y", "z")  # it answers from memory
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert BuildState(folder).record("convert:m/v") == Record("a", "b", "c")
    asking.begin_run()  # what it learned is committed now, in one transaction
    fresh = BuildState(folder)
    assert fresh.record("convert:m/v") == Record("x", "y", "z")
    assert dict(fresh.tree(str(sm))) and fresh.hashed == 0


def test_a_state_from_another_schema_is_a_fresh_start(tmp_path: Path) -> None:
    import sqlite3

    folder = tmp_path / "state"
    _state(folder).remember("convert:m/v", Record("a", "b", "c"))
    with sqlite3.connect(folder / "state.sqlite") as db:
        db.execute("PRAGMA user_version = 1")
    assert BuildState(folder).record("convert:m/v") is None
    _state(folder).remember("convert:m/w", Record("a", "b", "c"))
    assert BuildState(folder).record("convert:m/w") == Record("a", "b", "c")


def _manifest(root: Path) -> Manifest:
    rep = Representative(data=root / "calib.npz", samples=10, base_dir=root)
    variants = (
        Variant("float32", Options(), 3),
        Variant(
            "int8",
            Options(
                quantize="int8",
                representative=rep,
                input_type="int8",
                supported_ops=("builtins",),
                quantized_input_stats={"img": (0.0, 255.0)},
                default_ranges=(0.0, 6.0),
                converter={"experimental_new_quantizer": True, "nested": {"a": [1, 2]}},
            ),
            4,
            ("serve",),
        ),
    )
    return Manifest(
        root / "model.yaml",
        "m",
        SavedModelSource(root / "export", ("serving_default",), ("serve",)),
        "train",
        (root / "train.py",),
        variants,
        Evaluate(root / "test.npz", 5),
        {"*": Budget(max_size=100), "int8": Budget(min_accuracy=0.9)},
    )


@pytest.mark.parametrize(
    "source",
    [
        SavedModelSource(Path("/p/sm"), ("a", "b"), ("serve",)),
        TF1SavedModelSource(Path("/p/sm"), "k", ("serve",), ("x",), ("y",), {"x": (1, 2)}),
        KerasSource(Path("/p/m.keras"), legacy=True),
        FrozenGraphSource(Path("/p/g.pb"), ("x",), ("y",), {"x": (1, 28, 28, 1)}),
        PythonSource("pkg.mod:make", Path("/p")),
    ],
)
def test_manifests_round_trip_through_json_exactly(tmp_path: Path, source: Source) -> None:
    manifest = _manifest(tmp_path)
    from dataclasses import replace

    manifest = replace(manifest, source=source)
    text = catalog.encode(manifest)
    decoded = catalog.decode(text)
    assert decoded == manifest
    assert isinstance(decoded.variants, tuple) and isinstance(decoded.deps, tuple)
    assert decoded.variants[1].options.default_ranges == (0.0, 6.0)


def test_the_parse_cache_builds_only_known_classes(tmp_path: Path) -> None:
    with pytest.raises(catalog.DecodeError):
        catalog.decode('{"$": "Popen", "args": ["rm", "-rf", "/"]}')
    with pytest.raises(catalog.DecodeError):
        catalog.decode("not json")
