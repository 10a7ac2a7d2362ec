"""An in-process homeserver on a temp database, with helpers for HTTP tests.

``Homeserver`` builds the real services (composition root) and app on a real
RocksDB in a temp directory, with cheap argon2 and rate limits off unless the
test turns them on, and a clock the test can move.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from conduwuit.admin import AdminBot
from conduwuit.config import GlobalConfig, load_config
from conduwuit.server import Server, build
from conduwuit.service.services import Services
from tests.kit.server import RATE_LIMITS_OFF

PASSWORD = "correct horse battery staple"


@dataclass
class FakeClock:
    now: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def homeserver_config(database_path: Path, **options: Any) -> GlobalConfig:
    env = {
        "CONDUWUIT_SERVER_NAME": "test.example",
        "CONDUWUIT_DATABASE_PATH": str(database_path),
        "CONDUWUIT_ALLOW_REGISTRATION": "true",
        "CONDUWUIT_YES_I_AM_VERY_VERY_SURE_I_WANT_AN_OPEN_REGISTRATION_SERVER_PRONE_TO_ABUSE": (
            "true"
        ),
        "CONDUWUIT_ARGON2_TIME_COST": "1",
        "CONDUWUIT_ARGON2_MEMORY_COST": "64",
        **RATE_LIMITS_OFF,
    }
    for name, value in options.items():
        key = f"CONDUWUIT_{name.upper()}"
        if value is None:
            env.pop(key, None)
        elif isinstance(value, bool):
            env[key] = "true" if value else "false"
        elif isinstance(value, str):
            env[key] = f'"{value}"' if value and not value.startswith(("[", '"')) else value
        else:
            env[key] = str(value)
    return load_config(None, env).config


@dataclass
class Homeserver:
    services: Services
    client: TestClient[Any, Any]
    clock: FakeClock
    admin: AdminBot
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> GlobalConfig:
        return self.services.config

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """``path`` without the /_matrix/client/v3 prefix unless it starts with /_."""
        url = path if path.startswith("/_") else f"/_matrix/client/v3{path}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = {"headers": headers, "params": params}
        if body is not None:
            kwargs["json"] = body
        async with self.client.request(method, url, **kwargs) as response:
            return response.status, await response.json()

    async def register(
        self, username: str, password: str = PASSWORD, **extra: Any
    ) -> dict[str, Any]:
        body = {"username": username, "password": password, "auth": {"type": "m.login.dummy"}}
        status, reply = await self.request("POST", "/register", {**body, **extra})
        assert status == 200, reply
        if "access_token" in reply:
            self.tokens[reply["user_id"]] = reply["access_token"]
        result: dict[str, Any] = reply
        return result

    async def login(self, user: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        }
        status, reply = await self.request("POST", "/login", {**body, **extra})
        assert status == 200, reply
        result: dict[str, Any] = reply
        return result

    async def close(self) -> None:
        await self.client.close()
        await self.admin.stop()
        await self.services.admin_api.deletions.stop()
        await self.services.admin_api.history.stop()
        await self.services.appservice_sender.stop()
        await self.services.federation.client.close()
        await self.services.federation.resolver.close()
        await self.services.previewer.close()
        await self.services.thumbnailer.close()
        self.services.close()


async def start_homeserver(database_path: Path, **options: Any) -> Homeserver:
    clock = FakeClock()
    server: Server = build(homeserver_config(database_path, **options), clock)
    client: TestClient[Any, Any] = TestClient(TestServer(server.app))
    await client.start_server()
    return Homeserver(server.services, client, clock, server.admin)


#: The ``start`` fixture: ``hs = await start(allow_registration=False)``.
StartHomeserver = Callable[..., Awaitable[Homeserver]]
