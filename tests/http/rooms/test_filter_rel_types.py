"""MSC3874: room event filters keep or drop events by relation type
(``org.matrix.msc3874.rel_types`` / ``org.matrix.msc3874.not_rel_types``) on
/messages, /context and /sync timelines; malformed lists are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.kit.homeserver import Homeserver

from .conftest import Users
from .test_relations_http import relating, send

REL = "org.matrix.msc3874.rel_types"
NOT_REL = "org.matrix.msc3874.not_rel_types"


async def _room_with_relations(users: Users, alice: str) -> tuple[str, str, dict[str, str]]:
    """A room with a plain message, a thread reply and a reference to it; the room,
    a token from before them and their IDs by name."""
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    before = (await users.ok(alice, "GET", f"/rooms/{room}/messages", dir="b"))["start"]
    root = await send(users, alice, room, "1", {"msgtype": "m.text", "body": "root"})
    thread = await send(users, alice, room, "2", relating("m.thread", root))
    reference = await send(users, alice, room, "3", relating("m.reference", root))
    return room, before, {"root": root, "thread": thread, "reference": reference}


def _names(ids: dict[str, str], chunk: list[dict[str, Any]]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[e["event_id"]] for e in chunk if e["event_id"] in by_id]


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({REL: ["m.thread"]}, ["thread"]),
        ({REL: ["m.reference"]}, ["reference"]),
        ({REL: ["m.thread", "m.reference"]}, ["thread", "reference"]),
        ({REL: []}, []),
        ({NOT_REL: ["m.thread"]}, ["root", "reference"]),
        ({NOT_REL: ["m.reference"]}, ["root", "thread"]),
        ({NOT_REL: ["m.thread", "m.reference"]}, ["root"]),
        # No globs: a relation type is compared exactly (as in Synapse).
        ({REL: ["m.*"]}, []),
        ({REL: ["m.thread"], NOT_REL: ["m.thread"]}, []),
        ({REL: ["m.thread"], "types": ["m.room.message"]}, ["thread"]),
    ],
)
async def test_messages_filtered_by_relation_type(
    hs: Homeserver, users: Users, definition: dict[str, Any], expected: list[str]
) -> None:
    alice = await users.add("alice")
    room, before, ids = await _room_with_relations(users, alice)
    page = await users.ok(
        alice, "GET", f"/rooms/{room}/messages", dir="f", filter=json.dumps(definition)
    )
    assert _names(ids, page["chunk"]) == expected
    # Without the MSC3874 keys the same page has all three.
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", dir="f", **{"from": before})
    assert _names(ids, page["chunk"]) == ["root", "thread", "reference"]


async def test_context_and_uploaded_filter_and_sync(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room, _, ids = await _room_with_relations(users, alice)
    only_threads = json.dumps({REL: ["m.thread"]})
    context = await users.ok(
        alice, "GET", f"/rooms/{room}/context/{ids['root']}", limit="10", filter=only_threads
    )
    assert _names(ids, context["events_after"]) == ["thread"]

    # An uploaded filter's room.timeline applies to /messages and to /sync.
    uploaded = await users.ok(
        alice, "POST", f"/user/{alice}/filter", {"room": {"timeline": {NOT_REL: ["m.thread"]}}}
    )
    fid = uploaded["filter_id"]
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", dir="b", filter=fid)
    assert _names(ids, page["chunk"]) == ["reference", "root"]
    synced = await users.ok(alice, "GET", "/sync", filter=fid)
    timeline = synced["rooms"]["join"][room]["timeline"]["events"]
    assert _names(ids, timeline) == ["root", "reference"]


@pytest.mark.parametrize("key", [REL, NOT_REL])
@pytest.mark.parametrize("value", ["m.thread", [1], {"a": "b"}])
async def test_malformed_relation_type_lists_are_refused(
    hs: Homeserver, users: Users, key: str, value: Any
) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    status, reply = await users.call(
        alice, "GET", f"/rooms/{room}/messages", filter=json.dumps({key: value})
    )
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), reply
    # Uploading such a filter is refused too.
    status, reply = await users.call(
        alice, "POST", f"/user/{alice}/filter", {"room": {"timeline": {key: value}}}
    )
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), reply
