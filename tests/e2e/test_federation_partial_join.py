"""Joining with partial state (MSC3706, send_join v2 ``omit_members``) between two of
our processes: B joins A's room of several members; A leaves the other members out
of its answer, B's room is marked partial-state and completed in the background from
A's ``/state_ids`` + ``/event``; afterwards B has every member and messages flow."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.kit.federation import call, federation, q, register
from tests.kit.server import ServerProcess

CS = "/_matrix/client/v3"
PARTIAL = {"CONDUWUIT_FEDERATION_PARTIAL_STATE_JOINS": "true"}


def ok(server: ServerProcess, method: str, path: str, token: str, body: Any = None) -> Any:
    status, answer = call(server, method, path, body, token=token)
    assert status == 200, (path, answer)
    return answer


def eventually(check: Any, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.1)


def member_ids(server: ServerProcess, room: str, token: str) -> set[str]:
    chunk = ok(server, "GET", f"{CS}/rooms/{q(room)}/members", token)["chunk"]
    return {e["state_key"] for e in chunk if e["content"].get("membership") == "join"}


def bodies(server: ServerProcess, room: str, token: str) -> list[str]:
    chunk = ok(server, "GET", f"{CS}/rooms/{q(room)}/messages?dir=b&limit=50", token)["chunk"]
    return [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]


def test_partial_join_between_our_servers_completes_the_state(tmp_path: Path) -> None:
    with federation(tmp_path) as net:
        a, b = net.server(41), net.server(42, **PARTIAL)
        for server in (a, b):
            server.start(wait=False)
        for server in (a, b):
            server.wait_ready(60)
        ann_id, ann = register(a, "ann")
        others = [register(a, f"member{i}") for i in range(4)]
        room = ok(a, "POST", f"{CS}/createRoom", ann, {"preset": "public_chat", "name": "Big"})[
            "room_id"
        ]
        for _, token in others:
            ok(a, "POST", f"{CS}/join/{q(room)}", token, {})
        ok(a, "PUT", f"{CS}/rooms/{q(room)}/send/m.room.message/1", ann, {"body": "hello"})

        bob_id, bob = register(b, "bob")
        ok(b, "POST", f"{CS}/join/{q(room)}?server_name={q(a.server_name)}", bob, {})
        # /members waits for the full state, then lists every member.
        everyone = {ann_id, bob_id, *(user for user, _ in others)}
        assert member_ids(b, room, bob) == everyone
        # It was a partial-state join, completed in the background.
        assert f"{room} has its full state (from {a.server_name}" in b.log_path.read_text()
        state = ok(b, "GET", f"{CS}/rooms/{q(room)}/state", bob)
        assert {e["state_key"] for e in state if e["type"] == "m.room.member"} == everyone
        joined = ok(b, "GET", f"{CS}/rooms/{q(room)}/joined_members", bob)["joined"]
        assert set(joined) == everyone
        # An eager sync shows the room with every member's state.
        synced = ok(b, "GET", f"{CS}/sync", bob)["rooms"]["join"][room]
        shown = {
            e["state_key"]
            for e in [*synced["state"]["events"], *synced["timeline"]["events"]]
            if e["type"] == "m.room.member"
        }
        assert shown == everyone

        ok(b, "PUT", f"{CS}/rooms/{q(room)}/send/m.room.message/2", bob, {"body": "from b"})
        eventually(lambda: "from b" in bodies(a, room, ann))
        ok(a, "PUT", f"{CS}/rooms/{q(room)}/send/m.room.message/3", ann, {"body": "from a"})
        eventually(lambda: "from a" in bodies(b, room, bob))
