from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.server import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server process on a free loopback port, stopped after the test."""
    process = ServerProcess(tmp_path / "hs")
    yield process
    process.stop()
