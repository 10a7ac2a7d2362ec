"""The one event path with events from another server: accepted, soft-failed,
and forks whose state is resolved against the current state."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.auth_rules import auth_types_for_event
from conduwuit.core.errors import AuthError
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.events import Event
from conduwuit.core.ids import RoomId
from conduwuit.core.room_versions import V10
from conduwuit.core.signing import Keypair
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.pipeline import MissingEventsError

from .conftest import ALICE, CAROL, Stack

REMOTE = "remote.example"
DAVE = f"@dave:{REMOTE}"
REMOTE_KEY = Keypair.generate("remote")


def remote_event(
    stack: Stack,
    room: RoomId,
    prev: str,
    event_type: str,
    content: dict[str, Any],
    state_key: str | None = None,
    sender: str = DAVE,
) -> dict[str, Any]:
    """A PDU another server would send, built on ``prev`` with auth events from the
    state after ``prev``."""
    state = stack.storage.state
    before = state.hash_before(prev) or 0
    after_ids = state.state_ids(before)
    prev_pdu = stack.storage.timeline.get(prev)
    assert prev_pdu is not None
    if "state_key" in prev_pdu:
        after_ids[(prev_pdu["type"], prev_pdu["state_key"])] = prev
    pdu: dict[str, Any] = {
        "type": event_type,
        "content": content,
        "sender": sender,
        "room_id": str(room),
        "origin_server_ts": stack.clock(),
        "depth": int(prev_pdu["depth"]) + 1,
        "prev_events": [prev],
    }
    if state_key is not None:
        pdu["state_key"] = state_key
    pdu["auth_events"] = [after_ids[k] for k in auth_types_for_event(pdu, V10) if k in after_ids]
    return hash_and_sign_event(pdu, REMOTE, REMOTE_KEY, V10)


def no_verify(pdu: dict[str, Any]) -> None:
    pass


def latest(stack: Stack, room: RoomId) -> str:
    shortroomid = stack.storage.short.room(str(room))
    assert shortroomid is not None
    leaves = stack.storage.extremities.get(shortroomid)
    assert len(leaves) == 1
    return leaves[0]


async def public_room_with_dave(stack: Stack) -> RoomId:
    room = RoomId.parse(
        await stack.actions.create_room(
            ALICE,
            CreateRoom(
                preset="public_chat",
                room_version="10",
                power_level_content_override={"users": {str(ALICE): 100, DAVE: 50}},
            ),
        )
    )
    join = remote_event(
        stack, room, latest(stack, room), "m.room.member", {"membership": "join"}, DAVE
    )
    await stack.storage.pipeline.receive(join, V10, no_verify)
    return room


async def test_remote_join_enters_through_the_same_path(stack: Stack) -> None:
    room = await public_room_with_dave(stack)
    assert stack.storage.member_index.membership(DAVE, str(room)) == "join"
    assert stack.storage.member_index.count(str(room), "join") == 2
    # A local event now builds on the remote one.
    event_id = await stack.actions.send(ALICE, room, "m.room.message", {"body": "welcome"})
    pdu = stack.storage.timeline.get(event_id)
    assert pdu is not None and len(pdu["prev_events"]) == 1


async def test_event_citing_unknown_events_asks_for_them(stack: Stack) -> None:
    room = await public_room_with_dave(stack)
    pdu = remote_event(stack, room, latest(stack, room), "m.room.message", {"body": "x"})
    pdu["prev_events"] = ["$unknown"]
    pdu = hash_and_sign_event(
        {k: v for k, v in pdu.items() if k not in ("hashes", "signatures")}, REMOTE, REMOTE_KEY, V10
    )
    with pytest.raises(MissingEventsError) as missing:
        await stack.storage.pipeline.receive(pdu, V10, no_verify)
    assert missing.value.event_ids == ["$unknown"]


async def test_rejected_remote_event_changes_nothing(stack: Stack) -> None:
    room = await public_room_with_dave(stack)
    # Dave (50) may not change power levels (100).
    pl = remote_event(
        stack, room, latest(stack, room), "m.room.power_levels", {"users": {DAVE: 100}}, ""
    )
    current = stack.storage.state.current_hash(str(room))
    with pytest.raises(AuthError):
        await stack.storage.pipeline.receive(pl, V10, no_verify)
    # Kept as rejected only: not in the timeline, no state, no new stream position.
    pl_id = Event(pl, V10).event_id
    assert stack.storage.timeline.is_rejected(pl_id)
    assert stack.storage.timeline.get_timeline(pl_id) is None
    assert stack.storage.state.current_hash(str(room)) == current
    chunk = stack.history.messages(ALICE, room, limit=50)["chunk"]
    assert pl_id not in [e["event_id"] for e in chunk]
    # Received again: rejected again.
    with pytest.raises(AuthError):
        await stack.storage.pipeline.receive(pl, V10, no_verify)
    assert stack.storage.timeline.get_timeline(pl_id) is None


async def test_rejected_events_reject_what_they_authorise_not_what_follows(
    stack: Stack,
) -> None:
    room = await public_room_with_dave(stack)
    pl = remote_event(
        stack, room, latest(stack, room), "m.room.power_levels", {"users": {DAVE: 100}}, ""
    )
    with pytest.raises(AuthError):
        await stack.storage.pipeline.receive(pl, V10, no_verify)
    pl_id = Event(pl, V10).event_id
    # Citing the rejected event as an auth event: rejected too.
    cites = remote_event(stack, room, latest(stack, room), "m.room.message", {"body": "a"})
    cites["auth_events"] = [*cites["auth_events"], pl_id]
    with pytest.raises(AuthError, match="was rejected"):
        await stack.storage.pipeline.receive(cites, V10, no_verify)
    # After it (as a prev event): placed on the state before it, which it did not change.
    follows = remote_event(stack, room, latest(stack, room), "m.room.message", {"body": "b"})
    follows["prev_events"] = [pl_id]
    await stack.storage.pipeline.receive(follows, V10, no_verify)
    follows_id = Event(follows, V10).event_id
    assert stack.storage.timeline.get_timeline(follows_id) is not None
    state = stack.storage.state
    before = state.hash_before(follows_id)
    assert before is not None
    levels = state.content_at(before, "m.room.power_levels") or {}
    assert levels["users"].get(DAVE) == 50
    chunk = stack.history.messages(ALICE, room, limit=50)["chunk"]
    assert chunk[0]["event_id"] == follows_id
    assert all(e["event_id"] not in (pl_id, Event(cites, V10).event_id) for e in chunk)


async def test_ban_racing_a_demotion_is_soft_failed(stack: Stack) -> None:
    room = await public_room_with_dave(stack)
    await stack.membership.join(CAROL, str(room))
    fork_point = latest(stack, room)
    # Alice demotes Dave; concurrently Dave, not having seen it, bans Carol.
    await stack.actions.send(ALICE, room, "m.room.power_levels", {"users": {str(ALICE): 100}}, "")
    ban = remote_event(stack, room, fork_point, "m.room.member", {"membership": "ban"}, str(CAROL))
    await stack.storage.pipeline.receive(ban, V10, no_verify)
    ban_id = Event(ban, V10).event_id
    assert stack.storage.timeline.is_soft_failed(ban_id)
    assert stack.storage.member_index.membership(str(CAROL), str(room)) == "join"
    bodies = [e["event_id"] for e in stack.history.messages(ALICE, room, limit=50)["chunk"]]
    assert ban_id not in bodies


async def test_concurrent_state_is_resolved_into_current_state(stack: Stack) -> None:
    room = await public_room_with_dave(stack)
    fork_point = latest(stack, room)
    topic = await stack.actions.send(ALICE, room, "m.room.topic", {"topic": "alice's"}, "")
    name = remote_event(stack, room, fork_point, "m.room.name", {"name": "dave's"}, "")
    await stack.storage.pipeline.receive(name, V10, no_verify)
    state = stack.storage.state
    current = state.current_hash(str(room))
    assert state.content_at(current, "m.room.topic") == {"topic": "alice's"}
    assert state.content_at(current, "m.room.name") == {"name": "dave's"}
    shortroomid = stack.storage.short.room(str(room))
    assert shortroomid is not None
    assert set(stack.storage.extremities.get(shortroomid)) == {topic, Event(name, V10).event_id}
    merged = await stack.actions.send(ALICE, room, "m.room.message", {"body": "merge"})
    pdu = stack.storage.timeline.get(merged)
    assert pdu is not None and len(pdu["prev_events"]) == 2
    assert stack.storage.extremities.get(shortroomid) == [merged]


async def test_auth_chain_is_reachable_without_loading_the_room(stack: Stack) -> None:
    room = await public_room_with_dave(stack)
    message = await stack.actions.send(ALICE, room, "m.room.message", {"body": "x"})
    chain = stack.storage.auth_chains.event_ids([message])
    state = stack.storage.state
    current = state.current_hash(str(room))
    for event_type, state_key in (
        ("m.room.create", ""),
        ("m.room.power_levels", ""),
        ("m.room.member", str(ALICE)),
    ):
        assert state.event_id_at(current, event_type, state_key) in chain
    assert message not in chain
    # Memoised: a second call reads the stored chain.
    assert stack.storage.auth_chains.event_ids([message]) == chain


async def test_replaced_state_in_unsigned_is_ours_not_the_senders(stack: Stack) -> None:
    """``prev_content``/``prev_sender``/``replaces_state`` a remote puts in ``unsigned``
    are dropped; the ones served are computed here from the state replaced."""
    room = await public_room_with_dave(stack)
    forged = {"prev_sender": "@eve:e", "prev_content": {"x": 1}, "replaces_state": "$x"}
    message = remote_event(stack, room, latest(stack, room), "m.room.message", {"body": "a"})
    message["unsigned"] = {**forged, "age": 5}
    await stack.storage.pipeline.receive(message, V10, no_verify)
    stored = stack.storage.timeline.get(Event(message, V10).event_id)
    assert stored is not None and not set(forged) & set(stored.get("unsigned", {}))
    join_id = stack.storage.state.event_id_at(
        stack.storage.state.current_hash(str(room)), "m.room.member", DAVE
    )
    name = {"displayname": "Dave"}
    rename = remote_event(
        stack, room, latest(stack, room), "m.room.member", {"membership": "join", **name}, DAVE
    )
    rename["unsigned"] = forged
    await stack.storage.pipeline.receive(rename, V10, no_verify)
    stored = stack.storage.timeline.get(Event(rename, V10).event_id)
    assert stored is not None
    assert stored["unsigned"] == {
        "replaces_state": join_id,
        "prev_content": {"membership": "join"},
        "prev_sender": DAVE,
    }


async def test_an_outlier_arriving_as_a_new_event_is_placed(stack: Stack) -> None:
    """An event first fetched as an outlier (another event's auth event or state, as a
    /state_ids answer brings) is placed in the timeline once it arrives itself, as
    Synapse de-outliers it; before, it counted as known and never showed."""
    room = await public_room_with_dave(stack)
    pdu = remote_event(
        stack, room, latest(stack, room), "m.room.topic", {"topic": "t"}, state_key=""
    )
    event = await stack.storage.pipeline.receive_outlier(pdu, V10)
    timeline = stack.storage.timeline
    assert timeline.exists(event.event_id) and timeline.pdu_id(event.event_id) is None
    await stack.storage.pipeline.receive(pdu, V10, no_verify)
    assert timeline.pdu_id(event.event_id) is not None
    assert latest(stack, room) == event.event_id
    state = stack.storage.state
    assert state.content_at(state.current_hash(str(room)), "m.room.topic") == {"topic": "t"}
    # Received again, it is known: nothing changes.
    await stack.storage.pipeline.receive(pdu, V10, no_verify)
    assert latest(stack, room) == event.event_id
