"""``doit daemon_status`` and ``doit daemon_stop``: look at, or stop, this environment's warm service.

Neither starts a service: they ask the one that runs, if any, and say plainly
when none does. They work whatever the ``daemon`` setting says, so a service
left from an interactive build can be stopped from a shell where it is off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from doit.exceptions import TaskFailed

from rules.build.context import service_config
from rules.project.settings import Settings

if TYPE_CHECKING:
    from converter.service.client import ServiceConfig
    from converter.service.server import Status


def daemon_tasks(settings: Settings) -> Iterator[dict[str, Any]]:
    """The two tasks; the service's folder comes from the settings (its variable, or the default)."""
    yield {
        "basename": "daemon_status",
        "doc": "Show this environment's conversion service: pid, uptime, workers, memory",
        "actions": [(daemon_status, [settings])],
        "uptodate": [False],
        "verbosity": 2,
    }
    yield {
        "basename": "daemon_stop",
        "doc": "Stop this environment's conversion service, if one runs",
        "actions": [(daemon_stop, [settings])],
        "uptodate": [False],
        "verbosity": 2,
    }


def daemon_status(settings: Settings) -> TaskFailed | None:
    from converter.service import client  # here: loading the tasks stays quick
    from converter.service.rendezvous import ServiceError

    config = service_config(settings)
    try:
        found = client.status(config)
    except ServiceError as e:
        return TaskFailed(str(e))
    if found is None:
        print(f"no conversion service runs for this environment (folder {_folder(config)})")
    else:
        print(describe(found))
    return None


def daemon_stop(settings: Settings) -> TaskFailed | None:
    """Stop this environment's service, and any older one (another version of the code)."""
    from converter.service import client
    from converter.service.rendezvous import ServiceError

    config = service_config(settings)
    try:
        pid = client.stop(config)
        older = client.retire_others(config.place())
    except ServiceError as e:
        return TaskFailed(str(e))
    if pid is None:
        print(f"no conversion service was running for this environment (folder {_folder(config)})")
    else:
        print(f"stopped the conversion service (pid {pid})")
    if older:
        pids = ", ".join(str(p) for p in older)
        print(
            f"asked {len(older)} older conversion service(s) of this environment to stop ({pids})"
        )
    return None


def describe(status: Status) -> str:
    """The status as lines a person reads: the service, then one line per worker."""
    lines = [
        f"conversion service: pid {status.pid}, up {_duration(status.uptime)}, "
        f"exits after {_duration(status.idle_timeout)} idle",
        f"  socket: {status.socket}",
        f"  served: {status.requests_served} requests, {status.conversions_served} conversions",
        f"  memory: {status.memory_mb:.0f} MB in all (the service itself {status.rss_mb:.0f} MB)",
        f"  workers: {len(status.workers)}",
    ]
    for worker in status.workers:
        pid = f"pid {worker.pid}" if worker.pid is not None else "not running"
        lines.append(
            f"    {worker.kind} worker, {pid}: {worker.requests_served} served "
            f"({worker.conversions_served} conversions), {worker.rss_mb:.0f} MB"
        )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _folder(config: ServiceConfig) -> str:
    from converter.service.rendezvous import default_directory

    return str(config.directory or default_directory())
