"""Tasks that look after the project rather than build it: cache_stats, cache_prune, check."""

from __future__ import annotations

from doit.exceptions import TaskFailed

from rules.cache.settings import CacheSettings
from rules.cache.stores.base import redact


def cache_stats(settings: CacheSettings) -> TaskFailed | None:
    if settings.local is None:
        return TaskFailed("the cache is off (cache = 'off')")
    from rules.cache.stores.local import LocalStore  # here: loading the tasks never needs it

    usage = LocalStore(settings.local).usage()
    limit = f" of {settings.max_size / 1e9:.1f} GB" if settings.max_size else ""
    print(
        f"{settings.local}: {usage.entries} entries, {usage.blobs} artifacts, "
        f"{usage.bytes / 1e6:.1f} MB{limit}"
    )
    if settings.remote:
        print(f"remote: {redact(settings.remote)}" + (" (read-only)" if settings.read_only else ""))
    return None


def cache_prune(settings: CacheSettings) -> TaskFailed | None:
    if settings.local is None or settings.max_size is None:
        return TaskFailed("nothing to prune: no local cache or no cache_max_size")
    from rules.cache.stores.local import LocalStore

    removed = LocalStore(settings.local).prune(settings.max_size)
    print(
        f"removed {removed.entries} entries and {removed.blobs} artifacts "
        f"({removed.bytes / 1e6:.1f} MB); limit {settings.max_size / 1e9:.1f} GB"
    )
    return None


def report_check(manifests: int, variants: int) -> None:
    print(f"{manifests} manifest(s), {variants} variant(s): all valid")
