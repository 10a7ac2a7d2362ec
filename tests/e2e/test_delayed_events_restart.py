"""Delayed events (MSC4140) survive a restart of a real server process: one that fell
due while the server was down is sent at start, one still pending is sent by the
restarted timer when due, and a far one stays scheduled."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.kit.server import OPEN_REGISTRATION, ServerProcess

TYPE = "com.example.test"
DELAYED = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"


async def _call(
    session: aiohttp.ClientSession, server: ServerProcess, method: str, path: str, **kw: Any
) -> tuple[int, Any]:
    url = path if path.startswith("/_") else f"/_matrix/client/v3{path}"
    async with session.request(method, f"{server.base_url}{url}", **kw) as r:
        return r.status, await r.json()


async def _ok(
    session: aiohttp.ClientSession, server: ServerProcess, method: str, path: str, **kw: Any
) -> Any:
    status, body = await _call(session, server, method, path, **kw)
    assert status == 200, body
    return body


async def test_delayed_events_are_kept_and_sent_across_a_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION).start()
    try:
        async with aiohttp.ClientSession() as session:
            reg = await _ok(
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
            body = {"power_level_content_override": {"events": {TYPE: 0}}}
            room = (await _ok(session, server, "POST", "/createRoom", json=body, headers=auth))[
                "room_id"
            ]

            async def schedule(key: str, ms: int) -> str:
                path = f"/rooms/{room}/state/{TYPE}/{key}"
                params = {"org.matrix.msc4140.delay": str(ms)}
                reply = await _ok(
                    session, server, "PUT", path, json={"k": key}, headers=auth, params=params
                )
                return str(reply["delay_id"])

            async def state(key: str) -> tuple[int, Any]:
                path = f"/rooms/{room}/state/{TYPE}/{key}"
                return await _call(session, server, "GET", path, headers=auth)

            async def wait_for(key: str, seconds: float) -> None:
                deadline = time.monotonic() + seconds
                while (await state(key))[0] != 200:
                    assert time.monotonic() < deadline, f"{key} was not sent in {seconds} s"
                    await asyncio.sleep(0.1)

            scheduled_at = time.monotonic()
            await schedule("overdue", 1000)
            await schedule("pending", 7000)
            far = await schedule("far", 600_000)
            server.stop()
            await asyncio.sleep(max(0.0, scheduled_at + 1.2 - time.monotonic()))
            server.start()
            await wait_for("overdue", 10)
            assert await state("overdue") == (200, {"k": "overdue"})
            # Still pending after the restart (it took well under 7 s here) ...
            remaining = 7 - (time.monotonic() - scheduled_at)
            if remaining > 0.5:
                assert (await state("pending"))[0] == 404
            # ... and sent by the restarted timer once due.
            await wait_for("pending", remaining + 10)
            listed = (await _ok(session, server, "GET", DELAYED, headers=auth))["delayed_events"]
            assert [e["delay_id"] for e in listed] == [far]
    finally:
        server.stop()
