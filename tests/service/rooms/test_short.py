"""Short ids: one id per room, event and (type, state_key), even when the same new
one is asked for twice in one write batch."""

from __future__ import annotations

from conduwuit.core.events import Event
from conduwuit.core.room_versions import V10
from conduwuit.db import MAPS, Database
from conduwuit.db.codec import key, u64
from conduwuit.service.rooms.short import ShortIds

from .conftest import ALICE, Stack
from .test_pipeline import latest, no_verify, public_room_with_dave, remote_event


def shorts_of(db: Database, event_type: str, state_key: str) -> list[bytes]:
    """Every short id the reverse map holds for one (type, state_key)."""
    wanted = key(event_type, state_key)
    return [k for k, v in db.map(MAPS.shortstatekey_statekey).iter_prefix(b"") if v == wanted]


def test_same_new_statekey_twice_in_one_batch_gets_one_id(db: Database) -> None:
    short = ShortIds(db)
    with db.batch() as b:
        first = short.get_or_create_statekey("m.room.name", "", b)
        second = short.get_or_create_statekey("m.room.name", "", b)
        other = short.get_or_create_statekey("m.room.topic", "", b)
    assert first == second != other
    assert short.statekey("m.room.name", "") == first
    assert short.statekey_of(first) == ("m.room.name", "")
    assert len(shorts_of(db, "m.room.name", "")) == 1


def test_same_new_room_and_event_twice_in_one_batch_get_one_id(db: Database) -> None:
    short = ShortIds(db)
    with db.batch() as b:
        room = short.get_or_create_room("!r:test.example", b)
        assert short.get_or_create_room("!r:test.example", b) == room
        event = short.get_or_create_event("$e", b)
        assert short.get_or_create_event("$e", b) == event
        assert short.event_in("$e", b) == event
    assert short.room("!r:test.example") == room
    assert short.event("$e") == event
    assert short.event_id(event) == "$e"


def test_ids_of_a_discarded_batch_are_forgotten(db: Database) -> None:
    short = ShortIds(db)
    b = db.batch()
    discarded = short.get_or_create_statekey("m.room.name", "", b)
    b.discard()
    assert short.statekey("m.room.name", "") is None
    with db.batch() as b2:
        kept = short.get_or_create_statekey("m.room.name", "", b2)
        # The discarded batch's id is not reused from any memory.
        assert short.get_or_create_statekey("m.room.name", "", b2) == kept
    assert kept != discarded
    assert short.statekey("m.room.name", "") == kept
    assert shorts_of(db, "m.room.name", "") == [u64(kept)]


async def test_fork_introducing_a_state_key_interns_it_once(stack: Stack) -> None:
    # The remote name event is the room's first m.room.name and forks off an older
    # state: persisting it both saves its own state and resolves the fork, in one batch.
    room = await public_room_with_dave(stack)
    fork_point = latest(stack, room)
    await stack.actions.send(ALICE, room, "m.room.topic", {"topic": "alice's"}, "")
    name = remote_event(stack, room, fork_point, "m.room.name", {"name": "dave's"}, "")
    await stack.storage.pipeline.receive(name, V10, no_verify)
    assert len(shorts_of(stack.db, "m.room.name", "")) == 1
    sk = stack.storage.short.statekey("m.room.name", "")
    assert sk is not None
    name_id = Event(name, V10).event_id
    se = stack.storage.short.event(name_id)
    state = stack.storage.state
    assert state.store.full(state.current_hash(str(room)))[sk] == se
