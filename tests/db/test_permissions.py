"""The database directory and files are private (0700/0600) whatever the umask:
they hold access tokens and the server's signing key."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from conduwuit.db.database import Database
from conduwuit.db.options import DatabaseOptions
from tests.kit.server import ServerProcess


def _modes(root: Path) -> dict[str, int]:
    modes = {".": stat.S_IMODE(root.stat().st_mode)}
    for child in root.rglob("*"):
        modes[str(child.relative_to(root))] = stat.S_IMODE(child.lstat().st_mode)
    return modes


def _assert_private(root: Path) -> None:
    modes = _modes(root)
    assert len(modes) > 3, modes
    for name, mode in modes.items():
        expected = 0o700 if (root / name).is_dir() else 0o600
        assert mode == expected, (name, oct(mode))


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(previous)


def test_open_makes_a_new_database_private_under_umask_0(tmp_path: Path, loose_umask: None) -> None:
    path = tmp_path / "db"
    db = Database.open(DatabaseOptions(path=path))
    db.close()
    _assert_private(path)


def test_open_fixes_an_existing_world_readable_database(tmp_path: Path) -> None:
    path = tmp_path / "db"
    Database.open(DatabaseOptions(path=path)).close()
    for child in [path, *path.rglob("*")]:
        child.chmod(0o777 if child.is_dir() else 0o666)
    Database.open(DatabaseOptions(path=path)).close()
    _assert_private(path)


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_server_process_keeps_every_file_private(tmp_path: Path, umask: int) -> None:
    """A real server process started under a loose umask: files RocksDB creates
    while serving (WAL, SSTs on shutdown flush) are private too."""
    server = ServerProcess(tmp_path / "hs")
    previous = os.umask(umask)
    try:
        server.start()
    finally:
        os.umask(previous)
    try:
        status, _ = server.get_json("/_matrix/client/versions")
        assert status == 200
    finally:
        assert server.stop() == 0
    _assert_private(tmp_path / "hs" / "db")
