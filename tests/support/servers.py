"""Real cache servers on loopback for the tests: nginx with WebDAV, and moto's S3 server.

Each is started by a fixture and stopped (by its own pid) when the fixture ends. Beside
them: a proxy that fails requests on purpose, a port that accepts and never answers.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import shutil
import socket
import subprocess
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import REPO, require

NGINX_CONFIG = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
{user}
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        client_max_body_size 0;
        location /cache/ {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:rw all:r;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def nginx_webdav(directory: Path) -> Iterator[tuple[str, Path]]:
    """nginx serving a WebDAV store; yields (base URL, the directory behind it)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        require("nginx is not installed (.ci/run installs Debian's nginx package)")
    prefix, root = directory / "nginx", directory / "www"
    (root / "cache").mkdir(parents=True)
    prefix.mkdir()
    port = free_port()
    config = NGINX_CONFIG.format(
        prefix=prefix,
        root=root,
        port=port,
        user="user root;" if os.geteuid() == 0 else "",
    )
    (prefix / "nginx.conf").write_text(textwrap.dedent(config))
    process = subprocess.Popen(
        [
            nginx,
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-e",
            str(prefix / "error.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/cache", root / "cache"
    finally:
        process.terminate()
        process.wait(timeout=10)


BUILDGRID_CONFIG = """\
server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
storages:
  - !disk-storage &cas
    path: {cas}
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 10000
    allow-updates: true
instances:
  - name: "{instance}"
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"""


def buildgrid_server() -> Path:
    """BuildGrid's ``bgd``: its own environment (.ci/run makes it), away from TensorFlow's pins."""
    found = os.environ.get("TFLITE_BUILD_TEST_BGD") or str(REPO / ".venv-buildgrid/bin/bgd")
    if not Path(found).is_file():
        require(
            f"BuildGrid is not installed at {found} (.ci/run installs it: python3 -m venv "
            ".venv-buildgrid && .venv-buildgrid/bin/pip install buildgrid)"
        )
    return Path(found)


@contextmanager
def buildgrid(directory: Path, instance: str = "") -> Iterator[tuple[str, Path]]:
    """BuildGrid serving REAPI's ActionCache, CAS and ByteStream from a folder on loopback.

    Yields (grpc:// URL, the folder of its CAS blobs: ``<hash[:2]>/<hash[2:]>``).
    """
    cas = directory / "cas"
    cas.mkdir(parents=True)
    port = free_port()
    config = directory / "buildgrid.yml"
    config.write_text(BUILDGRID_CONFIG.format(port=port, cas=cas, instance=instance))
    with (directory / "buildgrid.log").open("wb") as log:
        process = subprocess.Popen(
            [str(buildgrid_server()), "server", "start", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=60)
        yield f"grpc://127.0.0.1:{port}" + (f"/{instance}" if instance else ""), cas / "cas/objects"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def moto_s3(bucket: str) -> Iterator[str]:
    """moto's S3-compatible server on loopback with one bucket; yields its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port)
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()


@dataclass
class SilentServer:
    port: int
    connections: int = 0  # accepted so far: one per attempt of a client that gives up on it


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    """A port that accepts connections and never answers: the 'slow remote'."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = SilentServer(listener.getsockname()[1])
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                held.append(connection)
                server.connections += 1
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@dataclass
class FailingProxy:
    """What a ``failing_proxy`` saw: every request's method and path, and its client's port."""

    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    client_ports: list[int] = field(default_factory=list)
    failing: int = 0  # requests still to answer with 503; -1: every one


@contextmanager
def failing_proxy(upstream: str, failing: int) -> Iterator[FailingProxy]:
    """An HTTP server on loopback that answers the first ``failing`` requests (-1: all) with
    503 Service Unavailable and forwards the others to ``upstream`` (``http://host:port``).

    It keeps connections alive (HTTP/1.1), so ``client_ports`` shows whether a client
    reuses them. Every request is counted on this side: the number of attempts a
    client made is ``len(proxy.requests)``.
    """
    target = urllib.parse.urlsplit(upstream)
    proxy = FailingProxy("", failing=failing)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test reads proxy.requests instead

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                proxy.requests.append((self.command, self.path))
                proxy.client_ports.append(self.client_address[1])
                fail = proxy.failing != 0
                if proxy.failing > 0:
                    proxy.failing -= 1
            if fail:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream_connection = http.client.HTTPConnection(
                target.hostname or "127.0.0.1", target.port, timeout=30
            )
            try:
                upstream_connection.request(self.command, self.path, body, headers)
                response = upstream_connection.getresponse()
                data = response.read()
            finally:
                upstream_connection.close()
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            length = response.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
}


# Installed on cluster workers through PYTHONPATH when a test asks: records every file
# Python opens under a folder, and can make the worker claim another version of us.
SITECUSTOMIZE = """
import os, sys

watched = os.environ.get("TFLITE_TEST_WATCH")
if watched:
    log = open(os.environ["TFLITE_TEST_WATCH_LOG"], "a", buffering=1)

    def _hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if os.path.abspath(path).startswith(watched):
                log.write(os.path.abspath(path) + "\\n")

    sys.addaudithook(_hook)

claimed = os.environ.get("TFLITE_TEST_CLAIM_VERSION")
if claimed:
    # Real package metadata of another version, first on the path: what an install of
    # that version would leave for every reader of versions.
    import tempfile

    _folder = tempfile.mkdtemp(prefix="claimed-")
    _info = os.path.join(_folder, f"tflite_build-{claimed}.dist-info")
    os.mkdir(_info)
    with open(os.path.join(_info, "METADATA"), "w") as _f:
        _f.write(f"Metadata-Version: 2.1\\nName: tflite-build\\nVersion: {claimed}\\n")
    sys.path.insert(0, _folder)
"""


@dataclass
class DaskCluster:
    address: str  # tcp://127.0.0.1:PORT
    workers: list[subprocess.Popen[bytes]]
    folders: list[Path]

    @property
    def url(self) -> str:
        return "dask://" + self.address.removeprefix("tcp://")


@contextmanager
def dask_cluster(
    directory: Path, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[DaskCluster]:
    """A ``dask scheduler`` and ``dask worker`` processes on loopback, each worker in an empty folder."""
    import sys

    dask = str(Path(sys.executable).parent / "dask")
    hooks = directory / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    base_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hooks), str(REPO)])}
    base_env.pop("TFLITE_BUILD_CACHE", None)  # the workers get the build's settings with each task
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        (directory / "scheduler").mkdir()
        log = (directory / "scheduler.log").open("wb")
        logs.append(log)
        started.append(
            subprocess.Popen(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                cwd=directory / "scheduler",
                stdout=log,
                stderr=subprocess.STDOUT,
                env=base_env,
            )
        )
        wait_for_port(port, timeout=60)
        folders = []
        for k in range(workers):
            folder = directory / f"worker{k}"
            folder.mkdir()
            folders.append(folder)
            log = (directory / f"worker{k}.log").open("wb")
            logs.append(log)
            started.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        f"tcp://127.0.0.1:{port}",
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--local-directory",
                        str(folder),
                        "--name",
                        f"w{k}",
                    ],
                    cwd=folder,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**base_env, **(env or {})},
                )
            )
        _wait_for_workers(f"tcp://127.0.0.1:{port}", workers)
        yield DaskCluster(f"tcp://127.0.0.1:{port}", started[1:], folders)
    finally:
        # Asked through the scheduler, the workers leave in a second or two; a SIGTERM makes
        # each nanny wait out its own timeouts (8 s here). SIGTERM is for what does not leave.
        if started:
            _shutdown(f"tcp://127.0.0.1:{port}")
        deadline = time.monotonic() + 15
        for process in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in reversed(started):
            if process.poll() is None:
                process.terminate()
        for process in reversed(started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


def _shutdown(address: str) -> None:
    """Ask the scheduler at ``address`` to stop, and its workers with it (no error if it is gone)."""
    from distributed import Client

    with (
        contextlib.suppress(OSError, TimeoutError),
        Client(address, timeout=10, set_as_default=False) as client,  # type: ignore[no-untyped-call]
    ):
        client.shutdown()


def _wait_for_workers(address: str, count: int, timeout: float = 90.0) -> None:
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        client.wait_for_workers(count, timeout=timeout)
