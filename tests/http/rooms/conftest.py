from __future__ import annotations

from typing import Any

import pytest

from tests.kit.homeserver import Homeserver


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
