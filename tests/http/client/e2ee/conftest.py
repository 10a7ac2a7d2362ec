"""The e2ee endpoints alone on a real aiohttp server, with fake accounts and rooms.

Access tokens are ``"<user_id>|<device_id>"``; the fake authenticator trusts them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from conduwuit.api.client import keys, room_keys, to_device
from conduwuit.api.router import Auth
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.db import Database, DatabaseOptions
from conduwuit.http.app import make_app
from conduwuit.service.e2ee import E2ee
from tests.http.conftest import make_config
from tests.service.e2ee.conftest import SERVER, FakeDevices, FakeRooms, Woken


@dataclass(frozen=True)
class Who:
    user_id: str
    device_id: str


WHO = web.RequestKey("test_who", Who)


class FakeAuthenticator:
    async def authenticate(
        self, request: web.Request, scheme: Auth, *, allow_guests: bool = False
    ) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise MatrixError(ErrCode.MISSING_TOKEN, "Missing access token.")
        user_id, _, device_id = header.removeprefix("Bearer ").partition("|")
        request[WHO] = Who(user_id, device_id)


def requester(request: web.Request) -> Who:
    return request[WHO]


async def uia(auth: dict[str, Any] | None, user_id: str) -> None:
    if auth is None or auth.get("type") != "m.login.dummy":
        raise MatrixError(
            ErrCode.UNAUTHORIZED,
            "UIA required",
            status=401,
            flows=[{"stages": ["m.login.dummy"]}],
            session="s",
        )


@dataclass
class Api:
    client: TestClient[Any, Any]
    e2ee: E2ee
    devices: FakeDevices
    rooms: FakeRooms
    db: Database

    async def call(
        self, method: str, path: str, who: str | None, body: Any = None, **params: str
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {who}"} if who else {}
        url = f"/_matrix/client/v3{path}"
        response = await self.client.request(
            method, url, json=body, headers=headers, params=params or None
        )
        return response.status, await response.json()

    def join(self, user_id: str, room_id: str) -> None:
        self.rooms.rooms.setdefault(room_id, set()).add(user_id)
        self.e2ee.device_lists.membership_changed(user_id, room_id, joined=True)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    db = Database.open(DatabaseOptions(path=tmp_path / "db"))
    devices, rooms = FakeDevices(), FakeRooms()
    e2ee = E2ee(db, SERVER, devices, rooms, wake=Woken())
    routes = [
        *keys.routes(e2ee, requester=requester, uia=uia),
        *to_device.routes(e2ee.to_device, requester=requester),
        *room_keys.routes(e2ee.key_backups, requester=requester),
    ]
    app = make_app(make_config(server_name=SERVER), routes, FakeAuthenticator())
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    yield Api(client, e2ee, devices, rooms, db)
    await client.close()
    db.close()
