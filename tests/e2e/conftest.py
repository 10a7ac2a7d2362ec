from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.server import OPEN_REGISTRATION, ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server process on a free loopback port, stopped after the test."""
    process = ServerProcess(tmp_path / "hs")
    yield process
    process.stop()


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A started server anyone can register on, without rate limits."""
    process = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION)
    process.start()
    yield process
    process.stop()
