"""matrix-nio's sync loop against a real server process: invites, room state and
messages arrive through /sync, and a long-polling sync wakes on a new message."""

from __future__ import annotations

import asyncio
import time

import pytest
from nio import AsyncClient, InviteMemberEvent, RoomMessageText, SyncResponse

from tests.e2e.test_rooms_nio import registered
from tests.kit.server import ServerProcess


@pytest.fixture
def server(open_server: ServerProcess) -> ServerProcess:
    return open_server


async def _sync(client: AsyncClient, poll_ms: int = 0) -> SyncResponse:
    reply = await client.sync(timeout=poll_ms)
    assert isinstance(reply, SyncResponse), reply
    return reply


async def test_conversation_through_sync(server: ServerProcess) -> None:
    alice = await registered(server, "alice")
    bob = await registered(server, "bob")
    try:
        await _sync(alice)
        await _sync(bob)
        created = await alice.room_create(name="Porch", invite=["@bob:localhost"])
        room = created.room_id  # type: ignore[union-attr]

        reply = await _sync(bob)
        assert room in reply.rooms.invite
        assert any(isinstance(e, InviteMemberEvent) for e in reply.rooms.invite[room].invite_state)
        await bob.join(room)
        reply = await _sync(bob)
        assert room in reply.rooms.join
        await _sync(alice)
        assert alice.rooms[room].name == "Porch"
        assert "@bob:localhost" in alice.rooms[room].users

        # bob long-polls; alice's message wakes him well before the timeout
        waiting = asyncio.ensure_future(_sync(bob, poll_ms=30_000))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await alice.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "dinner!"})
        reply = await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - started < 2
        bodies = [
            e.body for e in reply.rooms.join[room].timeline.events if isinstance(e, RoomMessageText)
        ]
        assert bodies == ["dinner!"]
    finally:
        await alice.close()
        await bob.close()
