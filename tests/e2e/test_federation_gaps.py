"""Gaps in the middle of the timeline, across two of our server processes
(tests/kit/federation.py): B's only user leaves a room of A's, A's users go on
talking, the user re-joins. B's timeline then misses what was said meanwhile,
between the leave and the re-join; a client paginating /messages backwards across
it has B fetch it from A (``/backfill`` from the re-join's prev events, in batches
of 100) and serves the room's whole history in A's order, each event once, with
tokens that stay valid; /sync's timeline stops at the gap (limited). With A down,
the walk answers what B has, quickly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kit.federation import (
    FederationNet,
    HasBaseUrl,
    call,
    q,
    register,
    running,
    walk,
    walk_pages,
)

CS = "/_matrix/client/v3"
#: Messages sent while B is away: more than one /backfill answer (100 events).
AWAY = 130
#: Of them, references to the sixth.
REFERENCES = 5


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with running(tmp_path_factory.mktemp("fed-gaps"), 43, 44) as net:
        yield net


def say(server: HasBaseUrl, token: str, room: str, bodies: list[str]) -> list[str]:
    ids = []
    for body in bodies:
        status, sent = call(
            server,
            "PUT",
            f"{CS}/rooms/{q(room)}/send/m.room.message/{q(body)}",
            {"msgtype": "m.text", "body": body},
            token=token,
        )
        assert status == 200, sent
        ids.append(str(sent["event_id"]))
    return ids


def arrives(server: HasBaseUrl, token: str, room: str, event_id: str) -> None:
    """Wait (bounded) until ``event_id`` is readable on ``server``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _ = call(server, "GET", f"{CS}/rooms/{q(room)}/event/{q(event_id)}", token=token)
        if status == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"{event_id} never reached the server")


def join(server: HasBaseUrl, token: str, room: str, via: str) -> None:
    status, joined = call(
        server, "POST", f"{CS}/join/{q(room)}?server_name={q(via)}", {}, token=token
    )
    assert status == 200, joined


def leave(server: HasBaseUrl, token: str, room: str, origin: HasBaseUrl, seen_by: str) -> None:
    """Leave, and wait (bounded) until ``origin`` has the leave, so what is said
    there next comes after it (not beside it in the room's graph)."""
    status, left = call(server, "POST", f"{CS}/rooms/{q(room)}/leave", {}, token=token)
    assert status == 200, left
    status, whoami = call(server, "GET", f"{CS}/account/whoami", token=token)
    assert status == 200, whoami
    path = f"{CS}/rooms/{q(room)}/state/m.room.member/{q(whoami['user_id'])}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, member = call(origin, "GET", path, token=seen_by)
        if status == 200 and member.get("membership") == "leave":
            return
        time.sleep(0.1)
    raise AssertionError("the leave never reached the origin")


def away_and_back(net: FederationNet, name: str, away: int) -> tuple[str, str, str, list[str]]:
    """A room of A's with history before, during and after B's user's absence:
    (room, Alice's token, Bob's token, the bodies sent while Bob was away)."""
    a, b = net.servers
    _, alice = register(a, f"alice{name}")
    _, bob = register(b, f"bob{name}")
    status, created = call(a, "POST", f"{CS}/createRoom", {"preset": "public_chat"}, token=alice)
    assert status == 200, created
    room = str(created["room_id"])
    say(a, alice, room, [f"{name} early {n}" for n in range(3)])
    join(b, bob, room, a.server_name)
    arrives(b, bob, room, say(a, alice, room, [f"{name} with bob {n}" for n in range(3)])[-1])
    leave(b, bob, room, a, alice)
    away_bodies = [f"{name} away {n}" for n in range(away)]
    target = say(a, alice, room, away_bodies)[5]
    for n in range(REFERENCES):  # relations of an event of the gap, in the gap
        status, sent = call(
            a,
            "PUT",
            f"{CS}/rooms/{q(room)}/send/m.room.message/{name}ref{n}",
            {
                "msgtype": "m.text",
                "body": f"{name} ref {n}",
                "m.relates_to": {"rel_type": "m.reference", "event_id": target},
            },
            token=alice,
        )
        assert status == 200, sent
    join(b, bob, room, a.server_name)
    arrives(b, bob, room, say(a, alice, room, [f"{name} back {n}" for n in range(3)])[-1])
    return room, alice, bob, away_bodies


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["event_id"]) for e in events]


def test_paginating_across_a_rejoin_gap_backfills_it_in_order(net: FederationNet) -> None:
    a, b = net.servers
    room, alice, bob, away = away_and_back(net, "g", AWAY)
    expected = walk(a, alice, room, None)
    assert expected[-1]["type"] == "m.room.create"
    status, synced = call(b, "GET", f"{CS}/sync?timeout=0", token=bob)
    assert status == 200, synced
    # /sync's timeline stops at the re-join, right after the gap: limited, and
    # prev_batch is where /messages crosses it (and fills it).
    timeline = synced["rooms"]["join"][room]["timeline"]
    assert timeline["limited"]
    assert ids(timeline["events"]) == ids(expected[:4])[::-1]  # the re-join, then 3
    assert ids(walk(b, bob, room, timeline["prev_batch"], limit=9)) == ids(expected[4:])

    pages = walk_pages(b, bob, room, None, limit=7)
    seen = [e for page in pages for e in page["chunk"]]
    assert len(ids(seen)) == len(set(ids(seen))), "an event was served twice"
    assert ids(seen) == ids(expected)
    bodies = [e["content"].get("body") for e in seen if e["type"] == "m.room.message"]
    assert [x for x in bodies if "away" in str(x)] == away[::-1]

    # Relations within the gap page once each, in A's order, both ways.
    target = next(e for e in seen if e["content"].get("body") == "g away 5")["event_id"]
    for way in ("b", "f"):
        path = f"/_matrix/client/v1/rooms/{q(room)}/relations/{q(target)}?limit=2&dir={way}"
        pages_of = {}
        for server, token in ((a, alice), (b, bob)):
            got: list[str] = []
            batch = None
            for _ in range(10):
                more = f"&from={q(batch)}" if batch else ""
                status, page = call(server, "GET", path + more, token=token)
                assert status == 200, page
                got += ids(page["chunk"])
                batch = page.get("next_batch")
                if batch is None:
                    break
            pages_of[server.server_name] = got
        assert len(pages_of[b.server_name]) == REFERENCES
        assert pages_of[b.server_name] == pages_of[a.server_name]

    # Tokens stay valid and stable: from any page's end, the rest of the walk again.
    for index in (3, 12, 20):
        rest = walk(b, bob, room, pages[index]["end"], limit=7)
        assert ids(rest) == ids(seen[7 * (index + 1) :])
    # Forwards from a token inside the filled gap goes on in the same order.
    inside = pages[12]["end"]
    status, forwards = call(
        b, "GET", f"{CS}/rooms/{q(room)}/messages?dir=f&limit=30&from={q(inside)}", token=bob
    )
    assert status == 200, forwards
    assert ids(forwards["chunk"]) == ids(seen[: 7 * 13])[::-1][:30]

    # /context inside the gap: tokens around the event continue both ways.
    middle = seen[40]
    status, context = call(
        b, "GET", f"{CS}/rooms/{q(room)}/context/{q(middle['event_id'])}?limit=4", token=bob
    )
    assert status == 200, context
    assert ids(context["events_before"]) == ids(seen[41:43])
    assert ids(context["events_after"]) == ids(seen[38:40])[::-1]
    assert ids(walk(b, bob, room, context["start"], limit=50)) == ids(seen[43:])

    # History is not news: /sync after the walk hands none of it out.
    status, later = call(b, "GET", f"{CS}/sync?timeout=0&since={synced['next_batch']}", token=bob)
    assert status == 200, later
    news = later["rooms"].get("join", {}).get(room, {}).get("timeline", {}).get("events", [])
    assert not set(ids(news)) & set(ids(seen))


def test_a_gap_whose_servers_are_down_is_crossed_with_what_is_here(net: FederationNet) -> None:
    a, b = net.servers
    room, alice, bob, _ = away_and_back(net, "d", 6)
    everything = ids(walk(a, alice, room, None))
    a.stop()
    for _ in range(2):  # the second walk finds the gap backed off
        started = time.monotonic()
        seen = walk(b, bob, room, None, limit=5)
        assert time.monotonic() - started < 20
        assert len(ids(seen)) == len(set(ids(seen)))
        bodies = [str(e["content"].get("body")) for e in seen]
        assert not [x for x in bodies if "away" in x]
        assert "d back 2" in bodies and "d with bob 0" in bodies
        # What B has, in A's order.
        assert ids(seen) == [e for e in everything if e in set(ids(seen))]
