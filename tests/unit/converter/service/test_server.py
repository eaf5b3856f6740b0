"""The service's connection handling, in this process: it checks each peer's uid before reading a word."""

from __future__ import annotations

import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from converter.service.rendezvous import Place
from converter.service.server import Pool, Service


def _service_in_process(folder: Path, uid: int) -> Service:
    runner = ThreadPoolExecutor(max_workers=1)
    pool = Pool({False: 1, True: 1}, runner, lambda legacy: pytest.fail("no worker is needed"))
    return Service(Place(folder, "test"), pool, uid=uid)


@pytest.mark.parametrize("owner", ["another uid", "this uid"])
def test_the_service_checks_each_peer(folder: Path, owner: str) -> None:
    """The real connection path, with the service believing it belongs to another uid."""
    from multiprocessing.connection import Connection

    uid = os.getuid() + 1 if owner == "another uid" else os.getuid()
    service = _service_in_process(folder, uid)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    thread = threading.Thread(target=service.handle, args=(theirs,))
    thread.start()
    with Connection(ours.detach()) as conn:
        if owner == "another uid":
            with pytest.raises(EOFError):
                conn.recv()  # closed before anything was read or answered
        else:
            conn.send(("status",))
            status, payload, _ = conn.recv()
            assert (status, payload.pid) == ("ok", os.getpid())
    thread.join(timeout=30)
    assert not thread.is_alive()
