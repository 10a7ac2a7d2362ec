"""A sliding sync ``pos`` survives a server restart: the client goes on incrementally
(no ``M_UNKNOWN_POS``, no ``initial`` rooms), with what came before and after it."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import aiohttp

from tests.kit.server import OPEN_REGISTRATION, ServerProcess

SLIDING = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
LISTS = {
    "all": {
        "ranges": [[0, 19]],
        "required_state": [["m.room.name", ""]],
        "timeline_limit": 10,
    }
}


class _Client:
    def __init__(self, session: aiohttp.ClientSession, server: ServerProcess) -> None:
        self.session = session
        self.server = server
        self.auth: dict[str, str] = {}

    async def call(self, method: str, path: str, *, status: int = 200, **kw: Any) -> Any:
        url = f"{self.server.base_url}{path}"
        async with self.session.request(method, url, headers=self.auth, **kw) as reply:
            body = await reply.json()
            assert reply.status == status, body
            return body

    async def send(self, room: str, text: str, txn: str) -> None:
        path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"
        await self.call("PUT", path, json={"msgtype": "m.text", "body": text})

    async def sliding(self, pos: str | None = None, *, status: int = 200) -> Any:
        params = {"timeout": "0"} if pos is None else {"pos": pos, "timeout": "0"}
        body = {"conn_id": "room-list", "lists": LISTS}
        return await self.call("POST", SLIDING, json=body, params=params, status=status)


def _bodies(room: dict[str, Any]) -> list[str]:
    return [e["content"]["body"] for e in room["timeline"] if e["type"] == "m.room.message"]


async def test_a_pos_from_before_a_restart_goes_on_incrementally(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION).start()
    try:
        # A new TCP connection per request: the server goes away between them.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = _Client(session, server)
            reg = await client.call(
                "POST",
                "/_matrix/client/v3/register",
                json={
                    "username": "ann",
                    "password": "a long password",
                    "auth": {"type": "m.login.dummy"},
                },
            )
            client.auth = {"Authorization": f"Bearer {reg['access_token']}"}
            create = "/_matrix/client/v3/createRoom"
            room = (await client.call("POST", create, json={"name": "Busy"}))["room_id"]
            quiet = (await client.call("POST", create, json={"name": "Quiet"}))["room_id"]
            first = await client.sliding()
            assert {room, quiet} <= set(first["rooms"])
            await client.send(room, "before restart", "1")
            second = await client.sliding(first["pos"])
            assert _bodies(second["rooms"][room]) == ["before restart"]
            await client.send(room, "while the client was away", "2")

            server.stop()
            server.start()
            await client.send(room, "after restart", "3")

            third = await client.sliding(second["pos"])
            assert list(third["rooms"]) == [room]  # the quiet room is not sent again
            busy = third["rooms"][room]
            assert "initial" not in busy and "name" not in busy
            assert _bodies(busy) == ["while the client was away", "after restart"]
            assert third["lists"]["all"]["count"] >= 2
            # The position answered from is kept too: a retry (lost response) after a
            # restart gets the same rooms again.
            server.stop()
            server.start()
            retried = await client.sliding(second["pos"])
            assert _bodies(retried["rooms"][room]) == _bodies(busy)
            # Going on from the newest position forgets the older ones, and that is
            # remembered across a crash (SIGKILL) as well.
            fourth = await client.sliding(retried["pos"])
            assert fourth["rooms"] == {}
            server.stop(signal.SIGKILL)
            server.start()
            gone = await client.sliding(second["pos"], status=400)
            assert gone["errcode"] == "M_UNKNOWN_POS"
    finally:
        server.stop()
