"""Where a build and the warm conversion service meet: identity, private folder, socket, peers.

A service runs the user's code (Python entry points), so only its owner may
reach it: its socket lives in a folder that no one else can enter, and the
service checks every peer's uid (``SO_PEERCRED``). A service belongs to one
environment: its socket is named by a digest of the interpreter, the versions
of this project, TensorFlow and Keras, and this package's own source, so a
build never talks to a service that would convert with other code.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import socket
import stat
import struct
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from converter.errors import ConverterError
from converter.versions import PROJECT, tensorflow_version, version

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the checkout: converter/<room>/this.py
SOURCE_PACKAGES = ("converter", "rules")
CONNECT_TIMEOUT = 5.0
# sockaddr_un.sun_path holds 108 bytes on Linux, the terminating NUL included.
MAX_SOCKET_PATH = 107


class ServiceError(ConverterError):
    """The conversion service cannot be used here (its folder is unsafe, it cannot start...)."""


@dataclass(frozen=True)
class PeerCredentials:
    """Who is at the other end of a Unix socket, as the kernel says."""

    pid: int
    uid: int
    gid: int


def interpreter() -> str:
    """The interpreter and its environment: two virtualenvs of one Python are two environments."""
    return f"{os.path.realpath(sys.executable)} ({os.path.realpath(sys.prefix)})"


@functools.cache
def identity() -> str:
    """This environment's service identity: interpreter, versions and our source, digested."""
    described = {
        "python": interpreter(),
        "versions": {name: version(name) for name in (PROJECT, "keras", "tf-keras")}
        | {"tensorflow": tensorflow_version()},
        "source": source_digest(),
    }
    text = json.dumps(described, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def source_digest() -> str:
    """A digest of this package's own Python files: editing the tool replaces its service."""
    digest = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        root = PACKAGE_ROOT / package
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def default_directory() -> Path:
    """``$XDG_RUNTIME_DIR/tflite-build``, else a folder in the temp dir named with our uid."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "tflite-build"
    return Path(tempfile.gettempdir()) / f"tflite-build-{os.getuid()}"


def private_directory(path: Path | None = None) -> Path:
    """The service folder, created mode 0700 if missing; refused unless it is ours and closed."""
    path = path if path is not None else default_directory()
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise ServiceError(
            f"cannot create the conversion service folder {path}: {e.strerror or e}"
        ) from None
    else:
        os.chmod(path, 0o700)  # the umask may have taken bits mkdir was given
    check_private(path, os.lstat(path), os.getuid())
    return path


def check_private(path: Path, status: os.stat_result, uid: int) -> None:
    """Raise ServiceError unless ``path`` (as ``status`` says) is a folder of ``uid``'s that no one else can enter."""
    if not stat.S_ISDIR(status.st_mode):
        raise ServiceError(
            f"the conversion service folder {path} is not a folder (a link or a file); "
            "remove it or choose another folder"
        )
    if status.st_uid != uid:
        raise ServiceError(
            f"the conversion service folder {path} belongs to uid {status.st_uid}, not to you "
            f"(uid {uid}); it is not safe to use"
        )
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        raise ServiceError(
            f"the conversion service folder {path} is open to other users (mode {mode:o}); "
            f"make it private with 'chmod 700 {path}'"
        )


@dataclass(frozen=True)
class Place:
    """The files of one service in the private folder."""

    directory: Path
    identity: str

    @property
    def prefix(self) -> str:
        """Names every service of this interpreter, whatever its identity."""
        return hashlib.sha256(interpreter().encode()).hexdigest()[:8]

    @property
    def socket(self) -> Path:
        return self.directory / f"{self.prefix}-{self.identity}.sock"

    @property
    def lock(self) -> Path:
        return self.directory / f"{self.prefix}.lock"

    @property
    def log(self) -> Path:
        return self.directory / f"{self.prefix}.log"

    def others(self) -> list[Path]:
        """Sockets of this interpreter's services with another identity (an older version)."""
        return sorted(p for p in self.directory.glob(f"{self.prefix}-*.sock") if p != self.socket)

    def check_length(self) -> None:
        if len(os.fsencode(self.socket)) > MAX_SOCKET_PATH:
            raise ServiceError(
                f"the conversion service socket path {self.socket} is longer than a Unix "
                f"socket allows ({MAX_SOCKET_PATH} bytes); choose a shorter folder"
            )


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The pid, uid and gid of the process at the other end (Linux ``SO_PEERCRED``)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        raise ServiceError("this platform cannot tell who is at the other end of a Unix socket")
    raw = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return PeerCredentials(pid, uid, gid)


def refusal(peer: PeerCredentials, uid: int) -> str | None:
    """Why a peer may not use a service owned by ``uid`` (None: it may)."""
    if peer.uid != uid:
        return f"refused a connection from uid {peer.uid} (pid {peer.pid}): the service serves uid {uid} only"
    return None


def connect(path: Path) -> Connection | None:
    """A connection to the service listening at ``path``; None when none listens there.

    The service's uid is checked too: only we can create a socket in our
    private folder, but the check costs nothing.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(os.fspath(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except OSError as e:
        sock.close()
        raise ServiceError(
            f"cannot connect to the conversion service at {path}: {e.strerror or e}"
        ) from None
    peer = peer_credentials(sock)
    if peer.uid != os.getuid():
        sock.close()
        raise ServiceError(
            f"the conversion service at {path} runs as uid {peer.uid}, not as you "
            f"(uid {os.getuid()}); it is not used"
        )
    sock.settimeout(None)
    return Connection(sock.detach())


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``: one client at a time starts a service."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
