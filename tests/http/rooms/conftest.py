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


class Users:
    """Registered users of a homeserver with a shortcut for their requests."""

    def __init__(self, hs: Homeserver) -> None:
        self.hs = hs

    async def add(self, name: str) -> str:
        reply = await self.hs.register(name)
        return str(reply["user_id"])

    async def call(
        self, user: str, method: str, path: str, body: Any = None, **params: str
    ) -> tuple[int, Any]:
        return await self.hs.request(
            method, path, body, token=self.hs.tokens[user], params=params or None
        )

    async def ok(self, user: str, method: str, path: str, body: Any = None, **params: str) -> Any:
        status, reply = await self.call(user, method, path, body, **params)
        assert status == 200, (status, reply)
        return reply


@pytest.fixture
def users(hs: Homeserver) -> Users:
    return Users(hs)
