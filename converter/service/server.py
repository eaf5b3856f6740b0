"""The warm conversion service: one per user and environment, a pool of workers with TensorFlow imported.

Run as ``python -m converter.service.server`` (clients start it; see
``converter.service.client``). It listens on a Unix socket in the user's private
folder and serves each connection in a thread: a request takes a free worker
of its kind (Keras 3, or tf_keras for legacy models, a pool made only when
such a model comes), runs there, and its outcome or error goes back. Workers
are ``converter.execution.worker.Worker`` objects, so a crash, a timeout or a memory
breach kills only that worker's process, fails only that request, and the pool
starts a replacement. Workers retire after a number of conversions or past a
memory threshold (TensorFlow leaks on every conversion). The service exits
after an idle timeout, or when asked to stop.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from converter.errors import ConverterError, WorkerError, to_wire
from converter.execution.worker import Worker, default_memory_limit_mb, rss_mb
from converter.protocol import Request
from converter.service import rendezvous
from converter.service.rendezvous import Place, ServiceError
from converter.spec import KerasSource

DEFAULT_IDLE_TIMEOUT = 900.0
RECYCLE_AFTER = 50  # conversions per worker process
RECYCLE_MB = 2048.0  # resident memory after a request
ACCEPT_POLL = 0.5  # how often the accept loop looks at the idle clock and the stop flag
DRAIN_MARGIN = 60.0  # beyond the longest request timeout, how long a stop waits for requests
KINDS = {False: "keras", True: "legacy-keras"}


@dataclass(frozen=True)
class WorkerStatus:
    """One worker of the pool, as ``Status`` lists it."""

    kind: str
    pid: int | None  # None: not running (not started yet, or being replaced)
    requests_served: int
    conversions_served: int
    processes_started: int
    rss_mb: float


@dataclass(frozen=True)
class Status:
    """What ``converter.service.client.status`` reports."""

    pid: int
    identity: str
    socket: str
    uptime: float  # seconds
    idle_timeout: float
    requests_served: int
    conversions_served: int
    rss_mb: float  # the service process itself
    memory_mb: float  # the service and its workers together
    workers: tuple[WorkerStatus, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Closing(Exception):
    """The service is stopping: no request starts any more."""


# A pool's kinds of worker: TensorFlow's (False: Keras 3, True: legacy tf_keras), or a
# toolchain's, by (kind, interpreter): one pool per toolchain environment.
PoolKey = bool | tuple[str, str]


class Pool:
    """Workers by kind; a request takes a free one of its kind, the most recently used first.

    ``sizes`` caps each of TensorFlow's kinds; a toolchain's kind has ``toolchain_size``.
    """

    def __init__(
        self,
        sizes: dict[bool, int],
        background: ThreadPoolExecutor,
        make: Callable[[PoolKey], Worker],
        toolchain_size: int = 1,
    ) -> None:
        self.sizes = sizes
        self.toolchain_size = toolchain_size
        self._background = background  # warm starts and replacements
        self._make = make
        self._all: dict[PoolKey, list[Worker]] = {False: [], True: []}
        self._free: dict[PoolKey, list[Worker]] = {False: [], True: []}
        self._keys: dict[int, PoolKey] = {}  # id(worker) -> its kind
        self._cond = threading.Condition()
        self._closed = False

    def _size(self, key: PoolKey) -> int:
        return self.sizes[key] if isinstance(key, bool) else self.toolchain_size

    def _new(self, key: PoolKey) -> Worker:
        worker = self._make(key)
        self._all.setdefault(key, []).append(worker)
        self._free.setdefault(key, [])
        self._keys[id(worker)] = key
        return worker

    def warm(self) -> None:
        """Create the Keras 3 workers and start their processes now, in the background."""
        with self._cond:
            while len(self._all[False]) < self.sizes[False]:
                self._background.submit(self._restart, self._new(False))

    def acquire(self, key: PoolKey) -> Worker:
        """A free worker of this kind (waits for one); raises Closing when the pool closes."""
        with self._cond:
            while True:
                if self._closed:
                    raise Closing
                if self._free.get(key):
                    return self._free[key].pop()
                if len(self._all.get(key, ())) < self._size(key):
                    return self._new(key)
                self._cond.wait()

    def release(self, worker: Worker) -> None:
        """Give a worker back; one whose process died or retired is replaced first."""
        if worker.alive or self._closed:
            self._put(worker)
        else:
            self._background.submit(self._restart, worker)

    def _restart(self, worker: Worker) -> None:
        with contextlib.suppress(ConverterError):  # the next request reports it
            worker.start()
        self._put(worker)

    def _put(self, worker: Worker) -> None:
        with self._cond:
            closed = self._closed
            if not closed:
                self._free[self._keys[id(worker)]].append(worker)
                self._cond.notify_all()
        if closed:
            worker.close()

    def statuses(self) -> tuple[WorkerStatus, ...]:
        with self._cond:
            workers = [w for kind in self._all.values() for w in kind]
        return tuple(
            WorkerStatus(
                kind=KINDS[w.legacy_keras] if w.toolchain == "tensorflow" else w.toolchain,
                pid=w.pid,
                requests_served=w.requests_served,
                conversions_served=w.conversions_served,
                processes_started=w.processes_started,
                rss_mb=rss_mb(w.pid) if w.pid is not None else 0.0,
            )
            for w in workers
        )

    def close(self) -> None:
        """Stop every worker: free ones now, busy ones when their request returns."""
        with self._cond:
            self._closed = True
            free = [w for kind in self._free.values() for w in kind]
            self._cond.notify_all()
        for worker in free:
            worker.close()


class Service:
    """Accepts connections, serves each in a thread, and exits when idle or told to stop."""

    def __init__(
        self,
        place: Place,
        pool: Pool,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        uid: int | None = None,
    ) -> None:
        self.place = place
        self.pool = pool
        self.idle_timeout = idle_timeout
        self.uid = os.getuid() if uid is None else uid  # the only uid served
        self.started = time.monotonic()
        self.requests_served = 0
        self.conversions_served = 0
        self.stopping = threading.Event()
        self._lock = threading.Condition()
        self._busy = 0
        self._last_request = time.monotonic()
        self._longest_timeout = 0.0
        self._idle_connections: set[socket.socket] = set()

    def serve_forever(self, listener: socket.socket) -> None:
        listener.settimeout(ACCEPT_POLL)
        while not self.stopping.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                if self._idle_for() > self.idle_timeout:
                    log(f"no request for {self.idle_timeout:g} s: exiting")
                    break
                continue
            sock.setblocking(True)
            threading.Thread(target=self.handle, args=(sock,), daemon=True).start()

    def _idle_for(self) -> float:
        with self._lock:
            return 0.0 if self._busy else time.monotonic() - self._last_request

    def handle(self, sock: socket.socket) -> None:
        """Serve one client connection until it closes (or the service stops)."""
        with sock:
            try:
                reason = rendezvous.refusal(rendezvous.peer_credentials(sock), self.uid)
            except (OSError, ServiceError) as e:
                reason = f"refused a connection: cannot read its credentials ({e})"
            if reason is not None:
                log(reason)
                return
            with Connection(os.dup(sock.fileno())) as conn:
                self._converse(sock, conn)

    def _converse(self, sock: socket.socket, conn: Connection) -> None:
        while True:
            with self._lock:
                if self.stopping.is_set():
                    return
                self._idle_connections.add(sock)
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            finally:
                with self._lock:
                    self._idle_connections.discard(sock)
            with self._lock:
                if self.stopping.is_set():
                    return  # the client sees the connection close and converts elsewhere
                self._busy += 1
            try:
                reply = self.answer(message)
                try:
                    conn.send(reply)
                except OSError:  # the client is gone: nobody will rename what was written
                    if message[0] == "convert" and isinstance(message[1], Request):
                        message[1].output.unlink(missing_ok=True)
                    return
            except Closing:
                return  # as above: closed unanswered, the client converts elsewhere
            finally:
                with self._lock:
                    self._busy -= 1
                    if message[0] == "convert":  # asking for the status keeps nothing alive
                        self._last_request = time.monotonic()
                    self._lock.notify_all()
            if message[0] == "stop":
                self.stopping.set()
                return

    def answer(self, message: tuple[Any, ...]) -> tuple[str, Any, bool]:
        """The reply to one message: (status, payload, whether a worker answered)."""
        kind = message[0]
        if kind == "status":
            return "ok", self.status(), False
        if kind == "stop":
            log("asked to stop")
            return "ok", os.getpid(), False
        if kind != "convert":
            return (
                "error",
                ServiceError(f"the conversion service got an unknown request {kind!r}"),
                False,
            )
        _, request, log_path, cwd, timeout, memory_limit_mb, toolchain = message
        key: PoolKey = (
            (toolchain[0], toolchain[1])
            if toolchain is not None
            else isinstance(request.source, KerasSource) and request.source.legacy
        )
        with self._lock:
            self._longest_timeout = max(self._longest_timeout, timeout)
        worker = self.pool.acquire(key)  # raises Closing when the service stops
        before = worker.requests_served
        try:
            worker.timeout = timeout
            worker.memory_limit_mb = memory_limit_mb or default_memory_limit_mb()
            outcome = worker.convert(request, Path(log_path), cwd=cwd)
            reply: tuple[str, Any, bool] = ("ok", outcome, True)
        except ConverterError as e:
            reply = ("error", to_wire(e), worker.requests_served > before)
        except Exception as e:
            traceback.print_exc()
            failed = WorkerError(f"the conversion service failed: {type(e).__name__}: {e}")
            reply = ("error", to_wire(failed), False)
        finally:
            self.pool.release(worker)
        if reply[2]:
            with self._lock:
                self.requests_served += 1
                self.conversions_served += isinstance(request, Request)
        return reply

    def status(self) -> Status:
        workers = self.pool.statuses()
        own = rss_mb(os.getpid())
        with self._lock:
            requests, conversions = self.requests_served, self.conversions_served
        return Status(
            pid=os.getpid(),
            identity=self.place.identity,
            socket=str(self.place.socket),
            uptime=time.monotonic() - self.started,
            idle_timeout=self.idle_timeout,
            requests_served=requests,
            conversions_served=conversions,
            rss_mb=own,
            memory_mb=own + sum(w.rss_mb for w in workers),
            workers=workers,
        )

    def shut_down(self) -> None:
        """Let idle clients go, finish the requests under way, then stop the workers."""
        with self._lock:
            self.stopping.set()
            idle = list(self._idle_connections)
            deadline = time.monotonic() + self._longest_timeout + DRAIN_MARGIN
        for sock in idle:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            while self._busy and time.monotonic() < deadline:
                self._lock.wait(ACCEPT_POLL)
        self.pool.close()


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} [{os.getpid()}] {message}", file=sys.stderr, flush=True)


def listen(place: Place) -> socket.socket | None:
    """Bind the service's socket; None when a live service already listens there."""
    if place.socket.exists():
        conn = rendezvous.connect(place.socket)
        if conn is not None:
            conn.close()
            return None
        place.socket.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.fspath(place.socket))
    os.chmod(place.socket, 0o600)
    listener.listen(64)
    return listener


def _detach() -> None:
    """Fork; the parent prints the child's pid and exits, the child leads its own session."""
    pid = os.fork()
    if pid:
        print(pid, flush=True)
        os._exit(0)
    os.setsid()
    os.dup2(2, 1)  # stdout to the log as well: the starter's pipe is closed


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m converter.service.server", description=__doc__)
    parser.add_argument("--dir", type=Path, help="the private folder (default: per user)")
    parser.add_argument("--identity", help="the identity to serve (default: this environment's)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--legacy-workers", type=int, default=1)
    parser.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    parser.add_argument("--recycle-after", type=int, default=RECYCLE_AFTER)
    parser.add_argument("--recycle-mb", type=float, default=RECYCLE_MB)
    parser.add_argument("--no-warm", action="store_true", help="start workers on first use")
    parser.add_argument("--detach", action="store_true", help="run in the background")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.detach:
        _detach()
    try:
        place = Place(
            rendezvous.private_directory(args.dir), args.identity or rendezvous.identity()
        )
        place.check_length()
        listener = listen(place)
    except (ServiceError, OSError) as e:
        log(f"cannot serve: {e}")
        return 1
    if listener is None:
        log(f"a service already listens at {place.socket}")
        return 0
    inode = os.stat(place.socket).st_ino
    sizes = {False: max(args.workers, 1), True: max(args.legacy_workers, 1)}
    background = ThreadPoolExecutor(max_workers=sum(sizes.values()), thread_name_prefix="warm")

    def make(key: PoolKey) -> Worker:
        if isinstance(key, bool):
            return Worker(
                legacy_keras=key, recycle_after=args.recycle_after, recycle_mb=args.recycle_mb
            )
        kind, python = key
        return Worker(
            python=python,
            toolchain=kind,
            recycle_after=args.recycle_after,
            recycle_mb=args.recycle_mb,
        )

    # A toolchain's pool is as large as Keras 3's: `doit -n N` converts N of its models at once.
    pool = Pool(sizes, background, make, toolchain_size=sizes[False])
    service = Service(place, pool, idle_timeout=args.idle_timeout)
    signal.signal(signal.SIGTERM, lambda *_: service.stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log(f"serving {place.socket} with {sizes[False]} workers (identity {place.identity})")
    if not args.no_warm:
        service.pool.warm()
    try:
        service.serve_forever(listener)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(place.socket).st_ino == inode:  # still ours, not a successor's
                place.socket.unlink()
        service.shut_down()
        log("stopped")
    # Threads still blocked on a worker must not hold the exit; the workers die with us.
    os._exit(0)


if __name__ == "__main__":
    # Run the module under its own name: what crosses the socket (Status) must
    # unpickle in a client as converter.service.server.Status, not __main__.Status.
    from converter.service import server as service

    sys.exit(service.main(sys.argv[1:]))
