"""Artifacts, keys and a cache that keeps its warnings, for the cache's tests (no TF)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rules.cache.artifacts import ArtifactCache
from rules.cache.settings import CacheSettings

KEY = "a" * 64


OTHER = "b" * 64


def artifact(seed: int, size: int = 4096) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32)


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def make_cache(
    tmp_path: Path, remote: str | None = None, **kwargs: object
) -> tuple[ArtifactCache, Warnings]:
    warnings = Warnings()
    settings = CacheSettings(tmp_path / "local", remote, **kwargs)  # type: ignore[arg-type]
    return ArtifactCache(settings, warn=warnings), warnings
