"""The persistent conversion worker: a child process imports TensorFlow once and serves many requests.

Like Bazel's persistent workers. The parent never imports TensorFlow; it sends
``convert.Request`` objects over a socket and gets ``convert.Outcome`` or a
``ConverterError`` back. Everything the child prints (TF's C++ logs, Keras'
"Saved artifact at ..." lines) goes to a per-request log file, never to the
user's terminal. A crash, a timeout or a run over the memory ceiling fails that
one request with the exit signal and the log's tail; the next request starts a
fresh child. Each request runs from the caller's working directory, and what
user code leaves behind is undone before the next (``converter.execution.isolation``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

from converter.errors import (
    ConversionError,
    ConverterError,
    WorkerError,
    from_wire,
    to_wire,
)
from converter.execution import isolation
from converter.protocol import (
    AnyOutcome,
    AnyRequest,
    LayersOutcome,
    LayersRequest,
    Outcome,
    Request,
    RunOutcome,
    RunRequest,
)
from converter.versions import PACKAGE_ROOT

POLL_SECONDS = 0.05
STARTUP_TIMEOUT = 300.0
DEFAULT_TIMEOUT = 600.0  # seconds one conversion may take, unless the caller says otherwise
LOG_TAIL_LINES = 30
# After a request, a child above this share of the ceiling is retired while idle,
# so the next (possibly bigger) conversion starts from a fresh process.
RECYCLE_SHARE = 0.75
# Garbage collection after a conversion costs about 0.2 s: a worker runs it when no
# request has come for this long, and at the latest after this many requests. A request
# that comes during a collection waits for it, so "idle" must mean a real pause: requests
# from a cluster or a parallel build come a few hundred milliseconds apart.
IDLE_BEFORE_COLLECT = 1.0
COLLECT_EVERY = 8


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def default_memory_limit_mb() -> float:
    """80% of physical memory: a ceiling for runaways, not a limit on big models."""
    try:
        return 0.8 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (ValueError, OSError, AttributeError):
        return 16384.0


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


_spawners: dict[int, ThreadPoolExecutor] = {}


def _spawner() -> ThreadPoolExecutor:
    """This process's one long-lived thread that starts every worker process.

    Linux's parent-death signal (``_die_with_parent``) fires when the *thread*
    that started a child exits, not the process: a worker started from a
    short-lived thread (a build's task thread, a service connection) would die
    with that thread. Keyed by pid: a forked process has the executor, not its thread.
    """
    pid = os.getpid()
    if pid not in _spawners:
        _spawners[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="worker-spawner")
    return _spawners[pid]


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"died from signal {signal.Signals(-code).name}"
        except ValueError:
            return f"died from signal {-code}"
    return f"exited with status {code}"


class Worker:
    """One worker process (started on first use, restarted after a failure): an ``Executor``.

    ``recycle_after`` (requests) and ``recycle_mb`` (resident memory after a
    request) retire a process while it is idle, so a long-lived worker does not
    grow with TensorFlow's per-conversion leaks; the next request starts a fresh one.
    """

    def __init__(
        self,
        *,
        legacy_keras: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit_mb: float | None = None,
        python: str = sys.executable,
        recycle_after: int | None = None,
        recycle_mb: float | None = None,
        toolchain: str = "tensorflow",
    ) -> None:
        self.legacy_keras = legacy_keras
        # Whose handlers the child serves: TensorFlow's, or a toolchain's run by ``python``.
        self.toolchain = toolchain
        self.timeout = timeout
        self.memory_limit_mb = memory_limit_mb or default_memory_limit_mb()
        self.python = python
        self.recycle_after = recycle_after
        self.recycle_mb = recycle_mb
        self.processes_started = 0
        self.requests_served = 0
        self.conversions_served = 0  # of those, conversions (the rest: reference runs)
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._served_by_process = 0
        self._dir = Path(tempfile.mkdtemp(prefix="tflite-build-worker-"))

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        """Whether a child process is running (started, and neither crashed nor retired)."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the child now, if none runs, rather than on the first request (a warm pool)."""
        if not self.alive:
            self._kill()
            self._start()

    def _start(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._served_by_process = 0
        parent_sock, child_sock = socket.socketpair()
        startup_log = self._dir / f"startup-{self.processes_started}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        if self.legacy_keras:
            env["TF_USE_LEGACY_KERAS"] = "1"
        env[TOOLCHAIN_VARIABLE] = self.toolchain
        with open(startup_log, "wb") as log:
            self._proc = (
                _spawner()
                .submit(
                    subprocess.Popen,
                    [
                        self.python,
                        "-m",
                        "converter.execution.worker",
                        str(child_sock.fileno()),
                        str(os.getpid()),
                    ],
                    pass_fds=(child_sock.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=env,
                    start_new_session=True,  # Ctrl-C reaches the parent, which shuts us down
                )
                .result()
            )
        child_sock.close()
        self._conn = Connection(parent_sock.detach())
        self.processes_started += 1
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._conn.poll(POLL_SECONDS):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._failed_start(startup_log)
        try:
            self._conn.recv()  # "ready"
        except (EOFError, OSError):  # it died before saying so: readable means closed
            self._proc.wait(timeout=STARTUP_TIMEOUT)
            self._failed_start(startup_log)

    def _failed_start(self, startup_log: Path) -> NoReturn:
        assert self._proc is not None
        code = self._proc.poll()
        self._kill()
        what = "TensorFlow" if self.toolchain == "tensorflow" else f"the {self.toolchain} toolchain"
        raise WorkerError(
            f"the conversion worker could not start: it {_describe_exit(code)} while "
            f"importing {what} ({self.python})",
            log=log_tail(startup_log),
        )

    def convert(self, request: AnyRequest, log_path: Path, *, cwd: str | None = None) -> AnyOutcome:
        """Run one request (a conversion, or a reference run of a source model).

        TF's output goes to ``log_path``. Relative paths in the request are
        relative to ``cwd`` (default: this process's working directory). Raises
        ConverterError.
        """
        self.start()
        assert self._proc is not None and self._conn is not None
        self._conn.send((request, str(log_path), cwd if cwd is not None else os.getcwd()))
        deadline = time.monotonic() + self.timeout
        while True:
            if self._conn.poll(POLL_SECONDS):
                try:
                    status, payload, child_rss = self._conn.recv()
                except (EOFError, OSError):
                    break  # died while answering: handled as a crash below
                self.requests_served += 1
                self.conversions_served += isinstance(request, Request)
                self._served_by_process += 1
                if self._worn_out(child_rss):
                    self._stop()
                if status == "ok":
                    assert isinstance(payload, (Outcome, RunOutcome, LayersOutcome))
                    return payload
                error = from_wire(payload)
                error.log = log_tail(log_path)
                raise error
            if self._proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                self._kill()
                raise WorkerError(
                    f"the conversion took longer than the {self.timeout:g} s timeout; "
                    "the worker was stopped",
                    log=log_tail(log_path),
                )
            rss = rss_mb(self._proc.pid)
            if self.memory_limit_mb and rss > self.memory_limit_mb:
                self._kill()
                raise WorkerError(
                    f"the conversion went over the worker's memory ceiling "
                    f"({rss:.0f} MB > {self.memory_limit_mb:g} MB); the worker was stopped",
                    log=log_tail(log_path),
                )
        code = self._proc.wait()
        self._kill()
        raise WorkerError(
            f"the conversion worker {_describe_exit(code)} during the conversion "
            "(a crash inside TensorFlow); the next conversion starts a fresh worker",
            log=log_tail(log_path),
        )

    def _worn_out(self, rss: float) -> bool:
        """Whether to retire the child now, while idle, after a request that left it at ``rss`` MB."""
        if self.memory_limit_mb and rss > self.memory_limit_mb * RECYCLE_SHARE:
            return True
        if self.recycle_mb and rss > self.recycle_mb:
            return True
        return bool(self.recycle_after and self._served_by_process >= self.recycle_after)

    def _kill(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
            self._proc.wait()
            self._proc = None

    def _stop(self) -> None:
        """Ask the child to exit (it finishes nothing new), then make sure it has."""
        if self._proc is not None and self._conn is not None and self._proc.poll() is None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        self._kill()

    def close(self) -> None:
        """Stop the child and remove this worker's scratch folder."""
        self._stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._kill()


# --- the child ------------------------------------------------------------------------------


@contextlib.contextmanager
def _output_to(path: str) -> Iterator[None]:
    """Point file descriptors 1 and 2 (Python and C++ alike) at ``path`` for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    saved = os.dup(1), os.dup(2)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


TOOLCHAIN_VARIABLE = "TFLITE_BUILD_WORKER_TOOLCHAIN"  # set for the child by its parent


def _handlers(toolchain: str) -> dict[type, Callable[[Any], object]]:
    """What a worker of ``toolchain`` answers: TensorFlow's requests, or a toolchain's."""
    if toolchain == "pytorch":  # torch and litert-torch, no TensorFlow in this environment
        from converter.execution import torchrun

        return {Request: torchrun.run, RunRequest: torchrun.reference}
    import tensorflow  # noqa: F401  (imported once, here, for every request to come)

    from converter.evaluation import reference
    from converter.execution import convert as conversion
    from converter.quantization import keepfloat

    return {
        Request: conversion.run,
        RunRequest: reference.run,
        LayersRequest: keepfloat.measure_layers,
    }


def serve(conn: Connection) -> None:
    """The child's loop: answer requests until told to stop or the parent goes away."""
    handlers = _handlers(os.environ.get(TOOLCHAIN_VARIABLE, "tensorflow"))

    base = isolation.baseline()
    conn.send("ready")
    uncollected = 0  # requests since the last garbage collection
    while True:
        # Collect garbage while nothing waits (a request that comes meanwhile waits for
        # at most one collection), and under a steady stream every few requests.
        if uncollected and (uncollected >= COLLECT_EVERY or not conn.poll(IDLE_BEFORE_COLLECT)):
            isolation.collect_garbage()
            uncollected = 0
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        request, log_path, cwd = message
        with _output_to(log_path), isolation.request_scope(cwd):
            try:
                handler = handlers.get(type(request))
                if handler is None:
                    raise ConversionError(
                        f"a {type(request).__name__} cannot run in this toolchain's worker, yet"
                    )
                reply: tuple[str, object] = ("ok", handler(request))
            except ConverterError as e:
                reply = ("error", to_wire(e))
            except Exception as e:
                traceback.print_exc()
                unexpected = ConversionError(
                    f"unexpected {type(e).__name__} in the conversion worker: {e} "
                    "(the traceback is in the conversion log)"
                )
                reply = ("error", to_wire(unexpected))
        try:
            conn.send((*reply, rss_mb(os.getpid())))
        except OSError:  # the caller is gone: nobody will rename what we wrote
            Path(request.output).unlink(missing_ok=True)
            return
        isolation.clean_up(base)  # while the caller reads the answer
        uncollected += 1


def _die_with_parent(parent: int) -> None:
    """Linux: be killed when the parent dies (a kill -9 of the build), not linger converting."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # elsewhere: we exit at the next request when the pipe is closed
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list[str]) -> int:
    conn = Connection(int(argv[1]))
    _die_with_parent(int(argv[2]))
    # The parent handles Ctrl-C; a stray SIGINT must not kill us mid-write.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(conn)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
