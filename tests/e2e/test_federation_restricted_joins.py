"""Restricted joins that another server must vouch for, across three of our server
processes (tests/kit/federation.py).

- B is in the room but none of its members may invite: B's user's join goes
  through A (make_join/send_join, Synapse's ``_should_perform_remote_join``) and A's
  member authorises it; B takes the signed join as a PDU of the room.
- A client naming servers: only those (and an inviter's) are tried, not the room
  ID's server, as Synapse; naming the one that can authorise fails over to it. A
  server that left the allowed room cannot validate it (M_UNABLE_TO_AUTHORISE_JOIN).
- B learns of C's joins only as A relays them (``/send`` from A, sender of C).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.kit.federation import FederationNet, call, q, register, running
from tests.kit.rooms import restricted_to
from tests.kit.server import ServerProcess

CS = "/_matrix/client/v3"
AUTHORISER = "join_authorised_via_users_server"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with running(tmp_path_factory.mktemp("fed-restricted"), 51, 52, 53) as net:
        yield net


def create(server: ServerProcess, token: str, **body: Any) -> str:
    status, answer = call(server, "POST", f"{CS}/createRoom", body, token=token)
    assert status == 200, answer
    return str(answer["room_id"])


def join(server: ServerProcess, token: str, room: str, *via: str) -> tuple[int, Any]:
    path = f"{CS}/join/{q(room)}" + "".join(
        f"{'?' if i == 0 else '&'}via={q(v)}" for i, v in enumerate(via)
    )
    return call(server, "POST", path, {}, token=token)


def member(server: ServerProcess, token: str, room: str, user: str) -> tuple[int, Any]:
    return call(server, "GET", f"{CS}/rooms/{q(room)}/state/m.room.member/{q(user)}", token=token)


def until(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("never happened")


def joined_event(server: ServerProcess, token: str, room: str, user: str) -> dict[str, Any]:
    """``user``'s member event as ``server`` holds it, once it is a join."""
    found: dict[str, Any] = {}

    def joined() -> bool:
        path = f"{CS}/rooms/{q(room)}/state?format=event"
        status, state = call(server, "GET", path, token=token)
        if status != 200:
            return False
        for event in state:
            if event["type"] == "m.room.member" and event["state_key"] == user:
                found.update(event)
        return found.get("content", {}).get("membership") == "join"

    until(joined)
    return found


def test_a_join_no_local_member_can_authorise_goes_through_another_server(
    net: FederationNet,
) -> None:
    a, b, _ = net.servers
    _charlie, charlie_token = register(a, "charlie1")
    allowed = create(a, charlie_token, preset="public_chat")
    room = create(
        a,
        charlie_token,
        preset="public_chat",
        room_version="8",
        initial_state=restricted_to(allowed),
    )
    charlie = _charlie
    alice, alice_token = register(b, "alice1")
    status, answer = call(
        a, "POST", f"{CS}/rooms/{q(room)}/invite", {"user_id": alice}, token=charlie_token
    )
    assert status == 200, answer
    until(lambda: join(b, alice_token, room, a.server_name)[0] == 200)
    bob, bob_token = register(b, "bob1")

    # Not in the allowed room: A refuses, and nothing changes on B.
    status, answer = join(b, bob_token, room, b.server_name)
    assert status == 403, answer
    assert member(b, alice_token, room, bob)[0] == 404

    assert join(b, bob_token, allowed, a.server_name)[0] == 200
    status, answer = join(b, bob_token, room, b.server_name)
    assert status == 200, answer
    for server, token in ((b, alice_token), (a, charlie_token)):
        event = joined_event(server, token, room, bob)
        assert event["content"][AUTHORISER] == charlie
    # B's timeline goes on from the join: B's members still send there.
    status, answer = call(
        b,
        "PUT",
        f"{CS}/rooms/{q(room)}/send/m.room.message/t1",
        {"msgtype": "m.text", "body": "after"},
        token=bob_token,
    )
    assert status == 200, answer


def test_named_servers_are_tried_not_the_room_ids(net: FederationNet) -> None:
    a, b, c = net.servers
    alice, alice_token = register(a, "alice2")
    allowed = create(a, alice_token, preset="public_chat")
    room = create(
        a,
        alice_token,
        preset="public_chat",
        initial_state=restricted_to(allowed),
        power_level_content_override={"invite": 100, "users": {alice: 100}},
    )
    bob, bob_token = register(b, "bob2")
    assert join(b, bob_token, allowed, a.server_name)[0] == 200
    assert join(b, bob_token, room, a.server_name)[0] == 200
    charlie, charlie_token = register(c, "charlie2")
    assert join(c, charlie_token, allowed, a.server_name)[0] == 200
    joined_event(b, bob_token, allowed, charlie)  # B knows C's user may join

    # B cannot authorise and C does not try the room ID's server A on its own.
    status, answer = join(c, charlie_token, room, b.server_name)
    assert status == 400, answer
    assert answer["errcode"] == "M_UNABLE_TO_GRANT_JOIN", answer
    # Naming A too fails over to it.
    status, answer = join(c, charlie_token, room, b.server_name, a.server_name)
    assert status == 200, answer
    assert joined_event(b, bob_token, room, charlie)["content"][AUTHORISER] == alice

    # B's member may invite now, but B leaves the allowed room: its copy of that
    # room is stale, so B cannot validate the condition and says so; A can.
    levels = {"invite": 100, "users": {alice: 100, bob: 100}}
    path = f"{CS}/rooms/{q(room)}/state/m.room.power_levels/"
    assert call(a, "PUT", path, levels, token=alice_token)[0] == 200
    until(lambda: call(b, "GET", path, token=bob_token)[1].get("users", {}).get(bob) == 100)
    assert call(c, "POST", f"{CS}/rooms/{q(room)}/leave", {}, token=charlie_token)[0] == 200
    until(lambda: member(b, bob_token, room, charlie)[1].get("membership") == "leave")
    assert call(b, "POST", f"{CS}/rooms/{q(allowed)}/leave", {}, token=bob_token)[0] == 200
    status, answer = join(c, charlie_token, room, b.server_name)
    assert status == 400, answer
    assert answer["errcode"] == "M_UNABLE_TO_AUTHORISE_JOIN", answer
    status, answer = join(c, charlie_token, room, b.server_name, a.server_name)
    assert status == 200, answer
    assert joined_event(b, bob_token, room, charlie)["content"][AUTHORISER] == alice
