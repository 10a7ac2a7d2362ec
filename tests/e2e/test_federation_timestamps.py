"""``/timestamp_to_event`` past the start of our history, between two of our server
processes (tests/kit/federation.py): B joined A's room after its first messages,
so B asks A (``GET /_matrix/federation/v1/timestamp_to_event``), fetches the event
A names, backfills it into the gap of its timeline and answers with it, so /context
and /messages go on from there; with A down, B answers from its own timeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kit.federation import FederationNet, call, q, register, running
from tests.kit.server import ServerProcess

CS = "/_matrix/client/v3"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with running(tmp_path_factory.mktemp("fed-timestamps"), 23, 24) as net:
        yield net


def lookup(server: ServerProcess, token: str, room: str, ts: int, way: str) -> tuple[int, Any]:
    path = f"/_matrix/client/v1/rooms/{q(room)}/timestamp_to_event?ts={ts}&dir={way}"
    return call(server, "GET", path, token=token)


def send(server: ServerProcess, token: str, room: str, body: str) -> dict[str, Any]:
    """Send a message and return it as the server stores it (with its timestamp)."""
    txn = f"t{time.monotonic_ns()}"
    path = f"{CS}/rooms/{q(room)}/send/m.room.message/{txn}"
    status, answer = call(server, "PUT", path, {"msgtype": "m.text", "body": body}, token=token)
    assert status == 200, answer
    status, event = call(
        server, "GET", f"{CS}/rooms/{q(room)}/event/{q(answer['event_id'])}", token=token
    )
    assert status == 200, event
    time.sleep(0.02)  # distinct timestamps for the next event
    return dict(event)


def joined_late(
    net: FederationNet, suffix: str, bodies: list[str]
) -> tuple[str, str, str, list[dict[str, Any]]]:
    """A public room of A's where Alice said ``bodies`` before B's Bob joined:
    (room, Alice's token, Bob's token, the messages)."""
    a, b = net.servers
    _, alice = register(a, f"alice{suffix}")
    _, bob = register(b, f"bob{suffix}")
    status, answer = call(a, "POST", f"{CS}/createRoom", {"preset": "public_chat"}, token=alice)
    assert status == 200, answer
    room = answer["room_id"]
    sent = [send(a, alice, room, body) for body in bodies]
    status, answer = call(
        b, "POST", f"{CS}/join/{q(room)}?server_name={a.server_name}", {}, token=bob
    )
    assert status == 200, answer
    return room, alice, bob, sent


def test_paginating_from_a_remote_events_context(net: FederationNet) -> None:
    """Complement's "can paginate backwards after getting remote event from timestamp
    to event endpoint": the found event is in B's timeline, /context gives tokens
    around it and /messages backwards from either reaches the history before it."""
    b = net.servers[1]
    room, _, bob, (first, second) = joined_late(net, "2", ["A", "B"])
    status, found = lookup(b, bob, room, second["origin_server_ts"] + 1, "b")
    assert (status, found.get("event_id")) == (200, second["event_id"]), found
    status, context = call(
        b, "GET", f"{CS}/rooms/{q(room)}/context/{q(second['event_id'])}?limit=0", token=bob
    )
    assert status == 200, context
    assert context["event"]["event_id"] == second["event_id"]
    for token, wanted in (
        (context["start"], [first["event_id"]]),
        (context["end"], [second["event_id"], first["event_id"]]),
    ):
        path = f"{CS}/rooms/{q(room)}/messages?dir=b&limit=100&from={q(token)}"
        status, page = call(b, "GET", path, token=bob)
        assert status == 200, page
        ids = [e["event_id"] for e in page["chunk"]]
        assert ids[: len(wanted)] == wanted, page
        # Down to the room's start, backfilled from A across the gap below the event.
        assert page["chunk"][-1]["type"] == "m.room.create", page
        assert "end" not in page


def test_events_from_before_the_join_are_found_on_the_other_server(net: FederationNet) -> None:
    a, b = net.servers
    room, alice, bob, (first, second) = joined_late(net, "", ["first", "second"])

    # Looking forwards from before the first message: B's own closest event is its
    # join, right after a gap in its history, so A is asked.
    status, found = lookup(b, bob, room, first["origin_server_ts"] - 1, "f")
    assert status == 200, found
    assert found == {
        "event_id": first["event_id"],
        "origin_server_ts": first["origin_server_ts"],
    }
    # Looking backwards from after the second: B has nothing that old at all.
    status, found = lookup(b, bob, room, second["origin_server_ts"], "b")
    assert (status, found.get("event_id")) == (200, second["event_id"]), found
    # Before the room existed: A has nothing either; B answers 404 like A.
    status, found = lookup(b, bob, room, first["origin_server_ts"] - 60_000, "b")
    assert (status, found["errcode"]) == (404, "M_NOT_FOUND"), found
    # Bad input is refused before anyone is asked.
    status, found = lookup(b, bob, room, first["origin_server_ts"], "sideways")
    assert (status, found["errcode"]) == (400, "M_INVALID_PARAM"), found
    # A non-member of B gets nothing from A's history through B.
    _, eve = register(b, "eve")
    status, found = lookup(b, eve, room, first["origin_server_ts"] - 1, "f")
    assert (status, found["errcode"]) == (403, "M_FORBIDDEN"), found

    # Messages B saw arrive are its own answer; A is not needed.
    third = send(a, alice, room, "third")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, found = lookup(b, bob, room, third["origin_server_ts"], "b")
        if found.get("event_id") == third["event_id"]:
            break
        time.sleep(0.2)
    assert (status, found.get("event_id")) == (200, third["event_id"]), found

    # With A down, B answers from its own timeline, which holds the events it
    # backfilled for the lookups; before them, B's closest is the second.
    a.stop()
    status, found = lookup(b, bob, room, first["origin_server_ts"] - 1, "f")
    assert (status, found.get("event_id")) == (200, first["event_id"]), found
    status, found = lookup(b, bob, room, second["origin_server_ts"] + 1, "b")
    assert (status, found.get("event_id")) == (200, second["event_id"]), found
