"""A history purge survives the server being killed (SIGKILL) while it runs: its
intent was written before the admin API answered, so it resumes at the next start
and the room's history ends where a purge that ran through leaves it."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp

from tests.e2e.test_room_purge_kill import ADMIN, CLIENT, _Client
from tests.kit.server import OPEN_REGISTRATION, ServerProcess

#: Messages sent; the purge keeps the last ``KEPT`` (three batches go before them).
SENT = 300
KEPT = 50


async def test_a_history_purge_killed_midway_completes_after_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION).start()
    try:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = _Client(session, server)
            admin = await client.register("operator")  # the first user is an admin
            ann = await client.register("ann")
            room = (await client.call("POST", f"{CLIENT}/createRoom", ann, {"name": "Old"}))[
                "room_id"
            ]
            sent = []
            for n in range(SENT):
                path = f"{CLIENT}/rooms/{room}/send/m.room.message/t{n}"
                reply = await client.call("PUT", path, ann, {"msgtype": "m.text", "body": f"m{n}"})
                sent.append(reply["event_id"])
            cut = sent[SENT - KEPT]
            # Remote senders' messages go; these are local: delete them too.
            body = {"delete_local_events": True}
            started = await client.call(
                "POST", f"{ADMIN}/v1/purge_history/{room}/{cut}", admin, body
            )
            server.stop(signal.SIGKILL)
            server.start()

            # Resumed at start under its purge_id, unless it finished before the kill
            # (then the status, kept in memory, is gone: 404).
            status_path = f"{ADMIN}/v1/purge_history_status/{started['purge_id']}"
            headers = {"Authorization": f"Bearer {admin}"}
            for _ in range(500):
                async with session.get(f"{server.base_url}{status_path}", headers=headers) as r:
                    status = await r.json()
                if r.status == 404 or status["status"] == "complete":
                    break
                assert status == {"status": "active"}, status
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the purge did not complete: {status}")

            # Pagination: the cut and what follows, newest first, then the end.
            seen: list[str] = []
            query = "dir=b&limit=40"
            for _ in range(10):
                page = await client.call("GET", f"{CLIENT}/rooms/{room}/messages?{query}", ann)
                seen += [e["event_id"] for e in page["chunk"]]
                if "end" not in page:
                    break
                query = f"dir=b&limit=40&from={page['end']}"
            assert seen == sent[SENT - KEPT :][::-1]
            # The purged messages are gone; the room goes on.
            for event_id in (sent[0], sent[SENT - KEPT - 1]):
                path = f"{CLIENT}/rooms/{room}/event/{event_id}"
                await client.call("GET", path, ann, status=404)
            path = f"{CLIENT}/rooms/{room}/send/m.room.message/after"
            await client.call("PUT", path, ann, {"msgtype": "m.text", "body": "after"})
    finally:
        server.stop()
