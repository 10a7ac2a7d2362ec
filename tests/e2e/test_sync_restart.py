"""A sync token survives a restart: changes made before and after it are delivered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.kit.server import OPEN_REGISTRATION, ServerProcess


async def _call(
    session: aiohttp.ClientSession, server: ServerProcess, method: str, path: str, **kw: Any
) -> Any:
    async with session.request(method, f"{server.base_url}/_matrix/client/v3{path}", **kw) as r:
        body = await r.json()
        assert r.status == 200, body
        return body


async def test_token_from_before_a_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION).start()
    try:
        async with aiohttp.ClientSession() as session:
            reg = await _call(
                session,
                server,
                "POST",
                "/register",
                json={
                    "username": "ann",
                    "password": "a long password",
                    "auth": {"type": "m.login.dummy"},
                },
            )
            auth = {"Authorization": f"Bearer {reg['access_token']}"}
            room = (await _call(session, server, "POST", "/createRoom", json={}, headers=auth))[
                "room_id"
            ]
            quiet = (await _call(session, server, "POST", "/createRoom", json={}, headers=auth))[
                "room_id"
            ]
            since = (await _call(session, server, "GET", "/sync", headers=auth))["next_batch"]

            async def send(text: str, txn: str) -> None:
                await _call(
                    session,
                    server,
                    "PUT",
                    f"/rooms/{room}/send/m.room.message/{txn}",
                    json={"msgtype": "m.text", "body": text},
                    headers=auth,
                )

            await send("before restart", "1")
            server.stop()
            server.start()
            await send("after restart", "2")
            body = await _call(
                session, server, "GET", "/sync", params={"since": since}, headers=auth
            )
            events = body["rooms"]["join"][room]["timeline"]["events"]
            assert [e["content"]["body"] for e in events] == ["before restart", "after restart"]
            assert quiet not in body["rooms"]["join"]
            # from a token issued after the restart, quiet rooms are skipped and a new
            # message is still found
            since = body["next_batch"]
            await send("later", "3")
            body = await _call(
                session, server, "GET", "/sync", params={"since": since}, headers=auth
            )
            assert list(body["rooms"]["join"]) == [room]
            events = body["rooms"]["join"][room]["timeline"]["events"]
            assert [e["content"]["body"] for e in events] == ["later"]
    finally:
        server.stop()
