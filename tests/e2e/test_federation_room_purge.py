"""A purged room of another server (two of our processes, tests/kit/federation.py):
B's admin deletes A's room on B; A learns that B's member left (the purge waits for
the leave to be sent), B forgets the room, and joining it again is a fresh join
through A that works both ways."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.kit.federation import call, q, register, running
from tests.kit.server import ServerProcess

CS = "/_matrix/client/v3"


def ok(server: ServerProcess, method: str, path: str, token: str, body: Any = None) -> Any:
    status, answer = call(server, method, path, body, token=token)
    assert status == 200, (path, answer)
    return answer


def eventually(check: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.1)


def bodies(server: ServerProcess, room: str, token: str) -> list[str]:
    chunk = ok(server, "GET", f"{CS}/rooms/{q(room)}/messages?dir=b&limit=50", token)["chunk"]
    return [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]


def joined(server: ServerProcess, room: str, token: str) -> set[str]:
    return set(ok(server, "GET", f"{CS}/rooms/{q(room)}/joined_members", token)["joined"])


def test_a_purged_room_is_joined_again_afresh(tmp_path: Path) -> None:
    with running(tmp_path, 31, 32) as net:
        a, b = net.servers
        _, ann = register(a, "ann")
        _, admin = register(b, "operator")  # B's first user: an admin
        bob_id, bob = register(b, "bob")
        body = {"preset": "public_chat", "name": "Shared"}
        room = ok(a, "POST", f"{CS}/createRoom", ann, body)["room_id"]
        ok(a, "PUT", f"{CS}/rooms/{q(room)}/send/m.room.message/1", ann, {"body": "before"})
        ok(b, "POST", f"{CS}/join/{q(room)}?server_name={q(a.server_name)}", bob, {})
        eventually(lambda: bob_id in joined(a, room, ann))

        deleted = ok(b, "DELETE", f"/_synapse/admin/v1/rooms/{q(room)}", admin, {})
        assert deleted["kicked_users"] == [bob_id]
        # A heard of the leave; B does not know the room any more.
        eventually(lambda: bob_id not in joined(a, room, ann))
        status, _ = call(b, "GET", f"/_synapse/admin/v1/rooms/{q(room)}", token=admin)
        assert status == 404
        status, _ = call(b, "GET", f"{CS}/rooms/{q(room)}/messages", token=bob)
        assert status == 403

        ok(a, "PUT", f"{CS}/rooms/{q(room)}/send/m.room.message/2", ann, {"body": "meanwhile"})
        ok(b, "POST", f"{CS}/join/{q(room)}?server_name={q(a.server_name)}", bob, {})
        eventually(lambda: bob_id in joined(a, room, ann))
        ok(b, "PUT", f"{CS}/rooms/{q(room)}/send/m.room.message/3", bob, {"body": "back"})
        eventually(lambda: "back" in bodies(a, room, ann))
        ok(a, "PUT", f"{CS}/rooms/{q(room)}/send/m.room.message/4", ann, {"body": "welcome"})
        eventually(lambda: "welcome" in bodies(b, room, bob))
        details = ok(b, "GET", f"/_synapse/admin/v1/rooms/{q(room)}", admin)
        assert details["joined_members"] == 2
