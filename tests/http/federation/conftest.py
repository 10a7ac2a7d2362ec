"""Fixtures of the serving-side federation tests: a homeserver that can reach
loopback servers through the test CA, and remote servers (tests/kit/remote.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.kit.remote import RemoteServer, federating_homeserver, remote_server, write_ca


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def fed_hs(start: StartHomeserver, ca: trustme.CA, tmp_path: Path) -> Homeserver:
    return await federating_homeserver(start, write_ca(ca, tmp_path))


@pytest.fixture
async def remote(ca: trustme.CA, fed_hs: Homeserver) -> AsyncIterator[RemoteServer]:
    async with remote_server(ca, 2, fed_hs.clock) as server:
        yield server


@pytest.fixture
async def other(ca: trustme.CA, fed_hs: Homeserver) -> AsyncIterator[RemoteServer]:
    """A second remote server, on 127.0.0.3."""
    async with remote_server(ca, 3, fed_hs.clock) as server:
        yield server
