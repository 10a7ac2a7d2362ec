"""Client transactions beside the event: new records in their own map, and events
stored before that map (with ``_txn`` inside their JSON) still read correctly."""

from __future__ import annotations

from conduwuit.core import base64 as b64
from conduwuit.core.event_hashing import reference_hash
from conduwuit.core.ids import RoomId
from conduwuit.core.room_versions import get as get_room_version
from conduwuit.db import MAPS
from conduwuit.db.codec import key
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.transactions import Txn

from .conftest import ALICE, BOB, Stack


async def send_legacy(stack: Stack, room: RoomId, body: str) -> str:
    """Send with a transaction, then store it the way schema 1 did: inside the JSON."""
    txn = Txn.send(str(ALICE), "DEV", str(room), "m.room.message", body)
    event_id = await stack.actions.send(ALICE, room, "m.room.message", {"body": body}, txn=txn)
    stored = stack.storage.timeline.get(event_id)
    assert stored is not None and "_txn" not in stored
    beside = stack.db.map(MAPS.eventid_devicetxnid)
    assert beside.get(event_id.encode()) == key("DEV", body)
    with stack.db.batch() as b:
        b.delete(beside, event_id.encode())
        stack.storage.timeline.replace(b, event_id, {**stored, "_txn": ["DEV", body]})
    return event_id


async def test_transaction_id_goes_to_the_sending_device_only(stack: Stack) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    txn = Txn.send(str(ALICE), "DEV", str(room), "m.room.message", "t1")
    event_id = await stack.actions.send(ALICE, room, "m.room.message", {"body": "hi"}, txn=txn)
    assert stack.history.event(ALICE, room, event_id, "DEV")["unsigned"]["transaction_id"] == "t1"
    assert "transaction_id" not in stack.history.event(ALICE, room, event_id, "OTHER")["unsigned"]
    await stack.membership.join(BOB, str(room))
    assert "transaction_id" not in stack.history.event(BOB, room, event_id, "DEV")["unsigned"]


async def test_old_records_with_txn_inside_still_read(stack: Stack) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    event_id = await send_legacy(stack, room, "old")
    seen = stack.history.event(ALICE, room, event_id, "DEV")
    assert seen["unsigned"]["transaction_id"] == "old"
    assert "_txn" not in seen
    assert "transaction_id" not in stack.history.event(ALICE, room, event_id, "OTHER")["unsigned"]
    chunk = stack.history.messages(ALICE, room, limit=1, device_id="DEV")["chunk"]
    assert chunk[0]["unsigned"]["transaction_id"] == "old" and "_txn" not in chunk[0]


async def test_redacting_an_old_record_drops_its_txn(stack: Stack) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    event_id = await send_legacy(stack, room, "old")
    await stack.actions.redact(ALICE, room, event_id, {})
    stored = stack.storage.timeline.get(event_id)
    assert stored is not None
    assert "_txn" not in stored and stored["content"] == {}


async def test_v1_reference_to_an_old_record_ignores_its_txn(stack: Stack) -> None:
    room = RoomId.parse(
        await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat", room_version="1"))
    )
    event_id = await send_legacy(stack, room, "old")
    stored = stack.storage.timeline.get(event_id)
    assert stored is not None and "_txn" in stored
    following = await stack.actions.send(ALICE, room, "m.room.message", {"body": "next"})
    pdu = stack.storage.timeline.get(following)
    assert pdu is not None
    rv = get_room_version("1")
    assert rv is not None
    without = {k: v for k, v in stored.items() if k != "_txn"}
    assert pdu["prev_events"] == [[event_id, {"sha256": b64.encode(reference_hash(without, rv))}]]
