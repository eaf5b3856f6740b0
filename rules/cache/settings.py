"""Where a build's cache is: the ``cache`` setting read into plain data, before any store is opened."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from rules.cache.stores.base import TIMEOUT, Access, redact
from rules.project.root import Project

OFF = ("off", "none", "false", "0")


@dataclass(frozen=True)
class CacheSettings:
    """Where the cache is, from the project's settings (``settings_for``).

    Plain data: doit -n sends it to worker processes. The defaults are those of
    a bare cache (no remote, no size limit), not the project's: see ``rules.project.settings``.
    """

    local: Path | None
    remote: str | None = None
    read_only: bool = False
    max_size: int | None = None
    timeout: float = TIMEOUT
    access: Access = field(default_factory=Access, repr=False, hash=False)

    def describe(self) -> str:
        parts = [str(self.local) if self.local else "no local cache"]
        if self.remote:
            parts.append(
                f"remote {redact(self.remote)}" + (" (read-only)" if self.read_only else "")
            )
        return ", ".join(parts)


def _is_url(text: str) -> bool:
    scheme = urllib.parse.urlsplit(text).scheme
    return len(scheme) > 1  # "C:\\..." is a path


def settings_for(project: Project) -> CacheSettings:
    """The ``cache`` setting is a directory, a URL, or 'off'; a relative path is from the root."""
    settings = project.settings
    value = settings.cache.strip()
    if value.lower() in OFF:
        return CacheSettings(None)
    read_only, max_size = settings.cache_read_only, settings.cache_max_size
    if _is_url(value) and not value.startswith("file://"):
        local = project.root / Path(settings.local_cache).expanduser()
        access = Access(
            settings.cache_user,
            settings.cache_password,
            settings.cache_token,
            settings.cache_options,
        )
        return CacheSettings(local, value, read_only, max_size, access=access)
    path = Path(value.removeprefix("file://")).expanduser()
    return CacheSettings(project.root / path, None, read_only, max_size)
