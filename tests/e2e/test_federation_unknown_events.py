"""``/event`` and ``/context`` for events from before our server joined, between two
of our server processes (tests/kit/federation.py): B's Bob asks B for an event of
A's room that B never received; B fetches it from A, checks it, judges it on the
state before it and places it into the gap before its join, or answers 404 with
nothing stored (history for joined members only, A down)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kit.federation import FederationNet, call, q, register, running

CS = "/_matrix/client/v3"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with running(tmp_path_factory.mktemp("fed-unknown-events"), 61, 62) as net:
        yield net


def room_with_history(
    net: FederationNet, suffix: str, visibility: str, bodies: list[str]
) -> tuple[str, str, list[str]]:
    """A public room of A's where Alice said ``bodies`` (history visible to
    ``visibility``) before B's Bob joined: (room, Bob's token, the message IDs)."""
    a, b = net.servers
    _, alice = register(a, f"alice{suffix}")
    _, bob = register(b, f"bob{suffix}")
    body = {
        "preset": "public_chat",
        "initial_state": [
            {
                "type": "m.room.history_visibility",
                "state_key": "",
                "content": {"history_visibility": visibility},
            }
        ],
    }
    status, answer = call(a, "POST", f"{CS}/createRoom", body, token=alice)
    assert status == 200, answer
    room = answer["room_id"]
    sent = []
    for text in bodies:
        path = f"{CS}/rooms/{q(room)}/send/m.room.message/t{time.monotonic_ns()}"
        status, answer = call(a, "PUT", path, {"msgtype": "m.text", "body": text}, token=alice)
        assert status == 200, answer
        sent.append(answer["event_id"])
    status, answer = call(
        b, "POST", f"{CS}/join/{q(room)}?server_name={a.server_name}", {}, token=bob
    )
    assert status == 200, answer
    return room, bob, sent


def read(net: FederationNet, token: str, room: str, what: str, event_id: str) -> tuple[int, Any]:
    b = net.servers[1]
    return call(b, "GET", f"{CS}/rooms/{q(room)}/{what}/{q(event_id)}?limit=2", token=token)


def test_shared_history_is_fetched_for_event_and_context(net: FederationNet) -> None:
    room, bob, (first, second, third) = room_with_history(
        net, "1", "shared", ["first", "second", "third"]
    )
    status, event = read(net, bob, room, "event", second)
    assert status == 200, event
    assert (event["event_id"], event["content"]["body"]) == (second, "second")
    status, context = read(net, bob, room, "context", third)
    assert status == 200, context
    assert context["event"]["content"]["body"] == "third"
    # Held around it: the one fetched before, B's join after.
    assert [e["event_id"] for e in context["events_before"]] == [second]
    assert [e["type"] for e in context["events_after"]] == ["m.room.member"]
    # The rest comes by backwards pagination from its start (backfilled from A).
    path = f"{CS}/rooms/{q(room)}/messages?dir=b&limit=50&from={q(context['start'])}"
    status, page = call(net.servers[1], "GET", path, token=bob)
    assert status == 200, page
    ids = [e["event_id"] for e in page["chunk"]]
    assert ids[:1] == [first] and page["chunk"][-1]["type"] == "m.room.create", page


def test_history_for_joined_members_only_stays_hidden(net: FederationNet) -> None:
    room, bob, (secret,) = room_with_history(net, "2", "joined", ["before bob"])
    for what in ("event", "context", "event"):
        status, reply = read(net, bob, room, what, secret)
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    # Not stored either: Bob's pagination does not show it (backfill gives B the
    # history, which visibility hides from him).
    path = f"{CS}/rooms/{q(room)}/messages?dir=b&limit=50"
    status, page = call(net.servers[1], "GET", path, token=bob)
    assert status == 200, page
    assert secret not in [e["event_id"] for e in page["chunk"]]


def test_an_unknown_id_or_a_server_down_gives_404_in_bounded_time(net: FederationNet) -> None:
    room, bob, (old,) = room_with_history(net, "3", "shared", ["old"])
    unknown = "$" + "B" * 43
    for _ in range(3):
        started = time.monotonic()
        status, reply = read(net, bob, room, "event", unknown)
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
        assert time.monotonic() - started < 15
    net.servers[0].stop()
    started = time.monotonic()
    status, reply = read(net, bob, room, "context", old)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    assert time.monotonic() - started < 25
