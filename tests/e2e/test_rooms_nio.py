"""matrix-nio against a real server process: two users share a room from creation
to leaving (create, invite, join, messages, pagination, redaction, reaction, leave)."""

from __future__ import annotations

import pytest
from nio import (
    AsyncClient,
    JoinedRoomsResponse,
    JoinResponse,
    MessageDirection,
    RegisterResponse,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomInviteResponse,
    RoomLeaveResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomRedactResponse,
    RoomSendResponse,
)

from tests.kit.server import ServerProcess


@pytest.fixture
def server(open_server: ServerProcess) -> ServerProcess:
    return open_server


async def registered(server: ServerProcess, name: str) -> AsyncClient:
    client = AsyncClient(server.base_url, name)
    reply = await client.register(name, f"{name} has a long password", f"{name}-device")
    assert isinstance(reply, RegisterResponse), reply
    return client


async def test_two_users_share_a_room(server: ServerProcess) -> None:
    alice = await registered(server, "alice")
    bob = await registered(server, "bob")
    try:
        created = await alice.room_create(name="Kitchen", topic="What's for dinner")
        assert isinstance(created, RoomCreateResponse), created
        room = created.room_id

        assert isinstance(await alice.room_invite(room, "@bob:localhost"), RoomInviteResponse)
        joined = await bob.join(room)
        assert isinstance(joined, JoinResponse), joined
        rooms = await bob.joined_rooms()
        assert isinstance(rooms, JoinedRoomsResponse) and rooms.rooms == [room]

        sent = []
        for i in range(12):
            sender = alice if i % 2 == 0 else bob
            reply = await sender.room_send(
                room, "m.room.message", {"msgtype": "m.text", "body": f"message {i}"}
            )
            assert isinstance(reply, RoomSendResponse), reply
            sent.append(reply.event_id)

        # Paginate back through history, five at a time, until the room's start.
        bodies: list[str] = []
        token: str | None = None
        for _ in range(10):
            page = await bob.room_messages(room, token, direction=MessageDirection.back, limit=5)
            assert isinstance(page, RoomMessagesResponse), page
            bodies += [e.body for e in page.chunk if isinstance(e, RoomMessageText)]
            if not page.end or not page.chunk:
                break
            token = page.end
        assert bodies == [f"message {i}" for i in reversed(range(12))]

        reaction = await bob.room_send(
            room,
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": sent[0], "key": "👍"}},
        )
        assert isinstance(reaction, RoomSendResponse), reaction

        redacted = await alice.room_redact(room, sent[2], reason="typo")
        assert isinstance(redacted, RoomRedactResponse), redacted
        fetched = await bob.room_get_event(room, sent[2])
        assert isinstance(fetched, RoomGetEventResponse), fetched
        assert fetched.event.source["content"] == {}
        because = fetched.event.source["unsigned"]["redacted_because"]
        assert because["content"]["reason"] == "typo"
        assert because["redacts"] == sent[2]

        left = await bob.room_leave(room)
        assert isinstance(left, RoomLeaveResponse), left
        rooms = await bob.joined_rooms()
        assert isinstance(rooms, JoinedRoomsResponse) and rooms.rooms == []
        after = await alice.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "bye"})
        assert isinstance(after, RoomSendResponse)
        hidden = await bob.room_get_event(room, after.event_id)
        assert not isinstance(hidden, RoomGetEventResponse)
    finally:
        await alice.close()
        await bob.close()
