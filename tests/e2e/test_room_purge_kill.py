"""A room purge survives the server being killed (SIGKILL) while it runs: the intent
was written before the admin API answered, so the purge resumes at the next start
and the room ends up unknown, as a purge that ran through leaves it."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp

from tests.kit.server import OPEN_REGISTRATION, ServerProcess

CLIENT = "/_matrix/client/v3"
ADMIN = "/_synapse/admin"


class _Client:
    def __init__(self, session: aiohttp.ClientSession, server: ServerProcess) -> None:
        self.session = session
        self.server = server

    async def call(
        self, method: str, path: str, token: str, body: Any = None, status: int = 200
    ) -> Any:
        url = f"{self.server.base_url}{path}"
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.request(method, url, headers=headers, json=body) as reply:
            answer = await reply.json()
            assert reply.status == status, (path, answer)
            return answer

    async def register(self, name: str) -> str:
        body = {"username": name, "password": "a long password", "auth": {"type": "m.login.dummy"}}
        url = f"{self.server.base_url}{CLIENT}/register"
        async with self.session.post(url, json=body) as reply:
            token: str = (await reply.json())["access_token"]
            return token


async def test_a_purge_killed_midway_completes_after_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION).start()
    try:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = _Client(session, server)
            admin = await client.register("operator")  # the first user is an admin
            ann = await client.register("ann")
            room = (await client.call("POST", f"{CLIENT}/createRoom", ann, {"name": "Big"}))[
                "room_id"
            ]
            for n in range(60):
                path = f"{CLIENT}/rooms/{room}/send/m.room.message/t{n}"
                await client.call("PUT", path, ann, {"msgtype": "m.text", "body": f"m{n}"})
            other = (await client.call("POST", f"{CLIENT}/createRoom", ann, {"name": "Kept"}))[
                "room_id"
            ]

            deleted = await client.call("DELETE", f"{ADMIN}/v2/rooms/{room}", admin, {})
            server.stop(signal.SIGKILL)
            server.start()

            # Resumed at start (under its delete_id) unless it had finished before the
            # kill; either way it ends with the room unknown.
            status_path = f"{ADMIN}/v2/rooms/delete_status/{deleted['delete_id']}"
            for _ in range(500):
                url = f"{server.base_url}{status_path}"
                headers = {"Authorization": f"Bearer {admin}"}
                async with session.get(url, headers=headers) as reply:
                    status = await reply.json()
                if reply.status == 404 or status["status"] == "complete":
                    break
                assert status["status"] in ("shutting_down", "purging"), status
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the purge did not complete: {status}")
            await client.call("GET", f"{ADMIN}/v1/rooms/{room}", admin, status=404)
            rooms = await client.call("GET", f"{ADMIN}/v1/rooms", admin)
            assert room not in [r["room_id"] for r in rooms["rooms"]]
            assert other in [r["room_id"] for r in rooms["rooms"]]
            await client.call("GET", f"{CLIENT}/rooms/{room}/messages", ann, status=403)
            synced = await client.call("GET", f"{CLIENT}/sync", ann)
            assert room not in synced["rooms"].get("join", {})
            assert room not in synced["rooms"].get("leave", {})
            assert other in synced["rooms"]["join"]
    finally:
        server.stop()
