"""A build's side of the warm conversion service: find it or start it, send requests, ask status, stop it.

``ServiceClient`` is an ``Executor``: the engine hands it requests as it would
to a local worker, and gets the same outcomes and the same errors (log tail
included) back. The first client that finds no service of its identity starts
one, detached, under a lock so that two builds starting at once end with one
service; it also asks this interpreter's services of other identities (an
older version of the code) to stop. Anything that keeps the service from
answering raises ``ExecutorUnavailable``, and the engine converts locally.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from converter.errors import from_wire
from converter.execution.executor import ExecutorUnavailable
from converter.execution.worker import DEFAULT_TIMEOUT
from converter.protocol import AnyOutcome, AnyRequest, LayersOutcome, Outcome, Request, RunOutcome
from converter.service import rendezvous
from converter.service.rendezvous import Place, ServiceError
from converter.service.server import Status
from converter.versions import PACKAGE_ROOT

DEFAULT_IDLE_TIMEOUT = 900.0
START_TIMEOUT = 60.0  # the service listens before its workers import TensorFlow
STOP_TIMEOUT = 60.0
POLL_SECONDS = 0.05
LOG_LIMIT = 1 << 20  # the service log is emptied when a new service starts past this size


@dataclass(frozen=True)
class ServiceConfig:
    """Where the service lives and how a client starts it (a running service keeps its own)."""

    directory: Path | None = None  # default: rendezvous.default_directory()
    workers: int | None = None  # warm Keras 3 workers; default: the number of cores
    legacy_workers: int = 1  # tf_keras workers, started only when a legacy model comes
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT  # seconds without a request before it exits
    identity: str | None = None  # default: rendezvous.identity() (tests pin another)
    warm: bool = True  # start the workers with the service, not on their first request

    def place(self) -> Place:
        """The service's files; raises ServiceError when the folder is not private."""
        place = Place(
            rendezvous.private_directory(self.directory), self.identity or rendezvous.identity()
        )
        place.check_length()
        return place

    def arguments(self, place: Place) -> list[str]:
        """The command-line arguments of ``python -m converter.service.server`` for this config."""
        args = ["--dir", str(place.directory), "--identity", place.identity]
        args += ["--legacy-workers", str(self.legacy_workers)]
        args += ["--idle-timeout", f"{self.idle_timeout:g}"]
        if self.workers is not None:
            args += ["--workers", str(self.workers)]
        if not self.warm:
            args.append("--no-warm")
        return args


class ServiceClient:
    """Sends requests to this environment's warm service over one connection (an ``Executor``)."""

    def __init__(
        self,
        config: ServiceConfig | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit_mb: float | None = None,
    ) -> None:
        self.config = config or ServiceConfig()
        self.timeout = timeout
        self.memory_limit_mb = memory_limit_mb
        self.requests_served = 0
        self.conversions_served = 0
        self.processes_started = 0  # services this client started
        self._conn: Connection | None = None
        self._owner = os.getpid()  # a forked doit worker opens its own connection

    def convert(
        self, request: AnyRequest, log_path: Path, toolchain: tuple[str, str] | None = None
    ) -> AnyOutcome:
        """``toolchain``: (kind, interpreter) of the toolchain worker the request needs (its
        environment made already), for a source TensorFlow's workers do not convert."""
        conn = self.connect()
        message = (
            "convert",
            request,
            str(log_path),
            os.getcwd(),
            self.timeout,
            self.memory_limit_mb,
            toolchain,
        )
        try:
            conn.send(message)
            status, payload, answered = conn.recv()
        except (EOFError, OSError) as e:
            self.close()
            raise ExecutorUnavailable(
                f"the conversion service went away during a request ({_reason(e)})"
            ) from None
        except BaseException:  # Ctrl-C mid-request: the answer would come out of step
            self.close()
            raise
        if answered:
            self.requests_served += 1
            self.conversions_served += isinstance(request, Request)
        if status == "ok":
            assert isinstance(payload, (Outcome, RunOutcome, LayersOutcome))
            return payload
        raise from_wire(payload)

    def connect(self) -> Connection:
        """This client's connection, made now if needed (starting the service if none runs).

        A build may call it early, so the workers warm up while it loads its tasks.
        Raises ExecutorUnavailable.
        """
        if self._conn is not None and self._owner == os.getpid():
            if not self._conn.poll(0):
                return self._conn
            # The service never speaks first: readable means it closed the connection
            # while we were idle (it idled out or was stopped). Find or start another.
            self._conn.close()
        self._conn, self._owner = None, os.getpid()
        try:
            self._conn, started = open_connection(self.config, start=True)
        except ServiceError as e:
            raise ExecutorUnavailable(str(e)) from None
        except OSError as e:
            raise ExecutorUnavailable(f"the conversion service cannot be reached: {e}") from None
        self.processes_started += started
        assert self._conn is not None
        return self._conn

    def close(self) -> None:
        """Close this client's connection; the service stays up for the next build."""
        if self._conn is not None and self._owner == os.getpid():
            self._conn.close()
        self._conn = None


def open_connection(config: ServiceConfig, *, start: bool) -> tuple[Connection | None, bool]:
    """A connection to the service of this identity, and whether we started it.

    Without ``start``, None when no service runs. Raises ServiceError.
    """
    place = config.place()
    conn = rendezvous.connect(place.socket)
    if conn is not None or not start:
        return conn, False
    with rendezvous.locked(place.lock):
        conn = rendezvous.connect(place.socket)  # another client started it meanwhile
        if conn is not None:
            return conn, False
        retire_others(place)
        place.socket.unlink(missing_ok=True)  # a dead service's socket
        pid = _spawn(config, place)
        return _wait_for(place, pid), True


def retire_others(place: Place) -> list[int]:
    """Ask this interpreter's services of other identities to stop; their pids.

    They finish the requests they are running, then exit. A socket nobody
    listens on any more is removed.
    """
    stopped = []
    for path in place.others():
        try:
            conn = rendezvous.connect(path)
        except ServiceError:
            continue
        if conn is None:
            path.unlink(missing_ok=True)
            continue
        with conn, contextlib.suppress(EOFError, OSError):
            conn.send(("stop",))
            if conn.poll(rendezvous.CONNECT_TIMEOUT):
                stopped.append(conn.recv()[1])
    return stopped


def _spawn(config: ServiceConfig, place: Place) -> int:
    """Start a detached service (its own session); its pid."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    if place.log.exists() and place.log.stat().st_size > LOG_LIMIT:
        place.log.unlink()
    fd = os.open(place.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        starter = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "converter.service.server",
                "--detach",
                *config.arguments(place),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=fd,
            env=env,
            cwd=place.directory,  # never pin the caller's folder
            start_new_session=True,
        )
    finally:
        os.close(fd)
    assert starter.stdout is not None
    line = starter.stdout.readline()
    starter.stdout.close()
    starter.wait()
    if not line.strip().isdigit():
        raise ServiceError(_could_not_start(place, "it exited at once"))
    return int(line)


def _wait_for(place: Place, pid: int) -> Connection:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        conn = rendezvous.connect(place.socket)
        if conn is not None:
            return conn
        if process_gone(pid):
            raise ServiceError(_could_not_start(place, "it exited while starting"))
        time.sleep(POLL_SECONDS)
    raise ServiceError(_could_not_start(place, f"it did not listen within {START_TIMEOUT:g} s"))


def _could_not_start(place: Place, what: str) -> str:
    tail = ""
    with contextlib.suppress(OSError):
        lines = place.log.read_text(errors="replace").strip().splitlines()
        if lines:
            tail = f"; its log {place.log} ends with: {lines[-1]}"
    return f"the conversion service could not start: {what}{tail}"


def _reason(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "the connection closed"
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def process_gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def _ask(config: ServiceConfig, message: tuple[str, ...]) -> Any:
    """Send one control message to a running service; None when none runs."""
    conn, _ = open_connection(config, start=False)
    if conn is None:
        return None
    with conn:
        try:
            conn.send(message)
            status, payload, _answered = conn.recv()
        except (EOFError, OSError) as e:
            raise ServiceError(f"the conversion service did not answer: {_reason(e)}") from None
    if status != "ok":
        raise payload
    return payload


def status(config: ServiceConfig | None = None) -> Status | None:
    """The running service's pid, uptime, workers, counters and memory; None when none runs.

    Starts nothing.
    """
    found = _ask(config or ServiceConfig(), ("status",))
    assert found is None or isinstance(found, Status)
    return found


def stop(config: ServiceConfig | None = None) -> int | None:
    """Stop the running service and wait until it has exited; its pid (None: none ran).

    It finishes the requests it is running first; builds connected to it
    convert their next requests elsewhere.
    """
    pid = _ask(config or ServiceConfig(), ("stop",))
    if pid is None:
        return None
    deadline = time.monotonic() + STOP_TIMEOUT
    while not process_gone(pid):
        if time.monotonic() > deadline:
            raise ServiceError(
                f"the conversion service (pid {pid}) did not exit within {STOP_TIMEOUT:g} s"
            )
        time.sleep(POLL_SECONDS)
    return int(pid)
