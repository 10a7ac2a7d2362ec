"""sd_notify: the datagrams systemd's Type=notify waits for, from the module and the server."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conduwuit import sd_notify
from tests.kit.server import ServerProcess


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    # A short directory: unix socket paths are limited to about 108 bytes.
    with tempfile.TemporaryDirectory(prefix="sdn") as directory:
        path = str(Path(directory) / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(20)
        try:
            yield sock, path
        finally:
            sock.close()


def test_notify_sends_one_datagram(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    assert sd_notify.notify("READY=1", {"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1"


def test_abstract_namespace_socket() -> None:
    name = f"conduwuit-test-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert sd_notify.notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"STOPPING=1"


@pytest.mark.parametrize("value", [None, "", "relative/path", "/nonexistent/notify"])
def test_without_a_service_manager_nothing_happens(value: str | None) -> None:
    environ = {} if value is None else {"NOTIFY_SOCKET": value}
    assert sd_notify.notify("READY=1", environ) is False


def test_server_reports_ready_then_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    server = ServerProcess(tmp_path / "hs", env={"NOTIFY_SOCKET": path})
    try:
        server.start()
        # READY=1 is sent once every listener is up, so /versions already answers.
        assert sock.recv(4096).split(b"\n")[0] == b"READY=1"
        assert server.stop() == 0
        assert sock.recv(4096) == b"STOPPING=1"
    finally:
        server.stop()
