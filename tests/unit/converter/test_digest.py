"""Digests of files and folders, and the canonical JSON every key is made of."""

from __future__ import annotations

from pathlib import Path

from converter.digest import canonical_json, path_digest


def test_directory_digest_ignores_location_and_mtime(tmp_path: Path) -> None:
    for root in ("a", "b"):
        (tmp_path / root / "variables").mkdir(parents=True)
        (tmp_path / root / "saved_model.pb").write_bytes(b"graph")
        (tmp_path / root / "variables" / "data").write_bytes(b"weights")
    assert path_digest(tmp_path / "a") == path_digest(tmp_path / "b")
    (tmp_path / "b" / "variables" / "data").write_bytes(b"weights!")
    assert path_digest(tmp_path / "a") != path_digest(tmp_path / "b")
    assert canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
