"""Where the warm service and its clients meet: a private folder, the peer's uid, the environment's identity (no process)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

import converter
from converter.execution.executor import ExecutorUnavailable
from converter.protocol import Request
from converter.service import client, rendezvous
from converter.service.client import ServiceConfig
from converter.service.rendezvous import PeerCredentials, ServiceError
from converter.spec import Options


def test_the_folder_is_created_private_whatever_the_umask(folder: Path) -> None:
    target = folder / "service"
    old = os.umask(0)
    try:
        assert rendezvous.private_directory(target) == target
    finally:
        os.umask(old)
    status = os.lstat(target)
    assert stat.S_IMODE(status.st_mode) == 0o700
    assert status.st_uid == os.getuid()


def test_a_folder_others_can_enter_is_refused(folder: Path) -> None:
    loose = folder / "loose"
    loose.mkdir()
    loose.chmod(0o755)
    with pytest.raises(ServiceError) as info:
        rendezvous.private_directory(loose)
    assert str(info.value) == (
        f"the conversion service folder {loose} is open to other users (mode 755); "
        f"make it private with 'chmod 700 {loose}'"
    )
    # A build does not fail for it: the service is unavailable, the engine converts locally.
    service = client.ServiceClient(ServiceConfig(directory=loose))
    with pytest.raises(ExecutorUnavailable, match="open to other users"):
        service.convert(
            Request(converter.SavedModelSource(folder), Options(), folder / "x"), folder / "log"
        )


def test_a_folder_of_another_owner_or_a_link_is_refused(folder: Path) -> None:
    status = os.lstat(folder)
    with pytest.raises(ServiceError, match=f"belongs to uid {status.st_uid}, not to you"):
        rendezvous.check_private(folder, status, os.getuid() + 1)
    link = folder / "link"
    (folder / "real").mkdir(mode=0o700)
    link.symlink_to(folder / "real")
    with pytest.raises(ServiceError, match="is not a folder"):
        rendezvous.private_directory(link)


def test_the_default_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    assert rendezvous.default_directory() == folder / "tflite-build"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    assert rendezvous.default_directory() == folder / f"tflite-build-{os.getuid()}"


def test_the_uid_check_refuses_another_uid() -> None:
    me = os.getuid()
    assert rendezvous.refusal(PeerCredentials(pid=1, uid=me, gid=0), me) is None
    reason = rendezvous.refusal(PeerCredentials(pid=42, uid=me + 1, gid=0), me)
    assert (
        reason
        == f"refused a connection from uid {me + 1} (pid 42): the service serves uid {me} only"
    )


def test_identity_names_the_environment(folder: Path) -> None:
    place = ServiceConfig(directory=folder).place()
    assert place.identity == rendezvous.identity()
    assert place.socket.name == f"{place.prefix}-{place.identity}.sock"
    assert len(rendezvous.source_digest()) == 64
