from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.kit.homeserver import Homeserver, start_homeserver

StartHomeserver = Callable[..., Awaitable[Homeserver]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[StartHomeserver]:
    """Start a homeserver with config overrides: ``hs = await start(allow_registration=False)``."""
    servers: list[Homeserver] = []

    async def factory(**options: Any) -> Homeserver:
        server = await start_homeserver(tmp_path / f"db{len(servers)}", **options)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        await server.close()


@pytest.fixture
async def hs(start: StartHomeserver) -> Homeserver:
    return await start()
