"""Leaving and knocking across two of our server processes (tests/kit/federation.py):
B's users reject A's invites and knock on A's rooms through make_leave/send_leave
and make_knock/send_knock; both servers' /sync agree. With A down, a rejection is
made on B alone (a local out-of-band leave, as Synapse does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.kit.federation import FederationNet, call, q, register, running
from tests.kit.server import ServerProcess

CS = "/_matrix/client/v3"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with running(tmp_path_factory.mktemp("fed-membership"), 21, 22) as net:
        yield net


def sync_until(
    server: ServerProcess,
    token: str,
    check: Callable[[dict[str, Any]], bool],
    since: str | None = None,
    within: float = 20.0,
) -> dict[str, Any]:
    """Incremental syncs (from ``since``) until ``check`` holds; fails after ``within``."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        path = f"{CS}/sync?timeout=1000" + (f"&since={since}" if since else "")
        status, last = call(server, "GET", path, token=token)
        assert status == 200, last
        if check(last):
            return dict(last)
        since = last["next_batch"]
    raise AssertionError(f"sync never matched; last answer: {last}")


def member_events(section: dict[str, Any], user: str) -> list[dict[str, Any]]:
    events = [
        *section.get("timeline", {}).get("events", []),
        *section.get("state", {}).get("events", []),
    ]
    return [e for e in events if e["type"] == "m.room.member" and e.get("state_key") == user]


def left(sync: dict[str, Any], room: str, user: str) -> bool:
    section = sync["rooms"].get("leave", {}).get(room)
    return section is not None and any(
        e["content"]["membership"] == "leave" for e in member_events(section, user)
    )


def sees_membership(sync: dict[str, Any], room: str, user: str, membership: str) -> bool:
    section = sync["rooms"].get("join", {}).get(room)
    return section is not None and any(
        e["content"]["membership"] == membership for e in member_events(section, user)
    )


def create_room(server: ServerProcess, token: str, body: dict[str, Any]) -> str:
    status, created = call(server, "POST", f"{CS}/createRoom", body, token=token)
    assert status == 200, created
    return str(created["room_id"])


def test_rejecting_an_invite_from_another_server(net: FederationNet) -> None:
    a, b = net.servers
    alice, alice_token = register(a, "alice1")
    bob, bob_token = register(b, "bob1")
    room = create_room(a, alice_token, {"preset": "private_chat", "invite": [bob]})
    sync_until(b, bob_token, lambda s: room in s["rooms"].get("invite", {}))
    since = sync_until(a, alice_token, lambda s: room in s["rooms"].get("join", {}))["next_batch"]
    _, bob_since = call(b, "GET", f"{CS}/sync?timeout=0", token=bob_token)

    status, answer = call(
        b, "POST", f"{CS}/rooms/{q(room)}/leave", {"reason": "no thanks"}, token=bob_token
    )
    assert (status, answer) == (200, {})
    # A took the leave (send_leave) into its room, B shows the room as left.
    sync_until(a, alice_token, lambda s: sees_membership(s, room, bob, "leave"), since)
    sync = sync_until(b, bob_token, lambda s: left(s, room, bob), bob_since["next_batch"])
    assert room not in sync["rooms"].get("invite", {})
    (leave,) = member_events(sync["rooms"]["leave"][room], bob)
    assert leave["content"] == {"membership": "leave", "reason": "no thanks"}
    status, members = call(a, "GET", f"{CS}/rooms/{q(room)}/members", token=alice_token)
    assert status == 200, members
    by_user = {e["state_key"]: e for e in members["chunk"]}
    assert by_user[bob]["event_id"] == leave["event_id"]
    # Left already: a second leave changes nothing.
    status, _ = call(b, "POST", f"{CS}/rooms/{q(room)}/leave", {}, token=bob_token)
    assert status == 200
    # Invited again, B's user can still be invited and join.
    status, _ = call(a, "POST", f"{CS}/rooms/{q(room)}/invite", {"user_id": bob}, token=alice_token)
    assert status == 200
    sync_until(b, bob_token, lambda s: room in s["rooms"].get("invite", {}))
    status, answer = call(b, "POST", f"{CS}/join/{q(room)}", {}, token=bob_token)
    assert status == 200, answer
    assert alice  # created the room


def test_knocking_on_a_room_of_another_server_then_retracting(net: FederationNet) -> None:
    a, b = net.servers
    _, alice_token = register(a, "alice2")
    carol, carol_token = register(b, "carol2")
    room = create_room(
        a,
        alice_token,
        {
            "preset": "private_chat",
            "room_version": "10",
            "name": "Knock here",
            "initial_state": [
                {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
            ],
        },
    )
    closed = create_room(a, alice_token, {"preset": "private_chat", "room_version": "10"})
    via = f"?server_name={q(a.server_name)}"

    # Not a knock room: the resident server's 403 is passed on, nothing is stored.
    status, answer = call(b, "POST", f"{CS}/knock/{q(closed)}{via}", {}, token=carol_token)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer
    status, answer = call(
        b, "POST", f"{CS}/knock/{q(room)}{via}", {"reason": "let me in"}, token=carol_token
    )
    assert (status, answer) == (200, {"room_id": room})
    sync = sync_until(b, carol_token, lambda s: room in s["rooms"].get("knock", {}))
    shown = {
        (e["type"], e["state_key"]): e
        for e in sync["rooms"]["knock"][room]["knock_state"]["events"]
    }
    assert shown[("m.room.join_rules", "")]["content"]["join_rule"] == "knock"
    assert shown[("m.room.name", "")]["content"]["name"] == "Knock here"
    assert shown[("m.room.member", carol)]["content"]["membership"] == "knock"
    sync_until(a, alice_token, lambda s: sees_membership(s, room, carol, "knock"))
    # Knocking again while knocked is allowed; an invited or joined user may not.
    status, _ = call(b, "POST", f"{CS}/knock/{q(room)}{via}", {}, token=carol_token)
    assert status == 200

    _, carol_since = call(b, "GET", f"{CS}/sync?timeout=0", token=carol_token)
    status, answer = call(b, "POST", f"{CS}/rooms/{q(room)}/leave", {}, token=carol_token)
    assert (status, answer) == (200, {})
    sync_until(a, alice_token, lambda s: sees_membership(s, room, carol, "leave"))
    sync_until(b, carol_token, lambda s: left(s, room, carol), carol_since["next_batch"])

    status, _ = call(b, "POST", f"{CS}/knock/{q(room)}{via}", {}, token=carol_token)
    assert status == 200
    status, _ = call(
        a, "POST", f"{CS}/rooms/{q(room)}/invite", {"user_id": carol}, token=alice_token
    )
    assert status == 200
    sync_until(b, carol_token, lambda s: room in s["rooms"].get("invite", {}))
    status, answer = call(b, "POST", f"{CS}/knock/{q(room)}{via}", {}, token=carol_token)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer


def test_the_inviter_takes_an_invite_back(net: FederationNet) -> None:
    """A's kick of B's invited user reaches B (A sends leaves to the target's server)
    and B takes it although it is not in the room: the inviter's leave citing the
    invite (as Synapse does)."""
    a, b = net.servers
    _, alice_token = register(a, "alice4")
    erin, erin_token = register(b, "erin4")
    room = create_room(a, alice_token, {"preset": "private_chat", "invite": [erin]})
    sync_until(b, erin_token, lambda s: room in s["rooms"].get("invite", {}))
    _, since = call(b, "GET", f"{CS}/sync?timeout=0", token=erin_token)
    status, _ = call(
        a,
        "POST",
        f"{CS}/rooms/{q(room)}/kick",
        {"user_id": erin, "reason": "sorry"},
        token=alice_token,
    )
    assert status == 200
    sync = sync_until(b, erin_token, lambda s: left(s, room, erin), since["next_batch"])
    (leave,) = member_events(sync["rooms"]["leave"][room], erin)
    assert leave["content"] == {"membership": "leave", "reason": "sorry"}
    status, fresh = call(b, "GET", f"{CS}/sync?timeout=0", token=erin_token)
    assert room not in fresh["rooms"].get("invite", {})


def test_rejecting_while_the_inviting_server_is_down(net: FederationNet) -> None:
    a, b = net.servers
    _, alice_token = register(a, "alice3")
    dave, dave_token = register(b, "dave3")
    room = create_room(a, alice_token, {"preset": "private_chat", "invite": [dave]})
    sync_until(b, dave_token, lambda s: room in s["rooms"].get("invite", {}))
    _, since = call(b, "GET", f"{CS}/sync?timeout=0", token=dave_token)
    a.stop()
    try:
        status, answer = call(b, "POST", f"{CS}/rooms/{q(room)}/leave", {}, token=dave_token)
        assert (status, answer) == (200, {})
        sync = sync_until(b, dave_token, lambda s: left(s, room, dave), since["next_batch"])
        (leave,) = member_events(sync["rooms"]["leave"][room], dave)
        assert leave["sender"] == dave
        # The room is gone from the invites of a fresh sync too.
        status, fresh = call(b, "GET", f"{CS}/sync?timeout=0", token=dave_token)
        assert room not in fresh["rooms"].get("invite", {})
    finally:
        a.start()


def knock_once_reachable(b: ServerProcess, path: str, token: str) -> tuple[int, Any]:
    """The knock, once B no longer backs off A: an earlier test of this module stopped
    A, and B waits 5 s (then doubling) before asking a server that failed it again."""
    deadline = time.monotonic() + 60
    while True:
        status, answer = call(b, "POST", path, {}, token=token)
        backing_off = status == 502 and "backing off" in str(answer.get("error", ""))
        if not backing_off or time.monotonic() > deadline:
            return status, answer
        time.sleep(0.5)


def test_retracting_a_knock_while_the_resident_server_is_down(net: FederationNet) -> None:
    """No server takes the leave: the knock is retracted here alone (Synapse always
    does so: it does not send knock rescissions over federation at all)."""
    a, b = net.servers
    _, alice_token = register(a, "alice5")
    frank, frank_token = register(b, "frank5")
    knock_rule = {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
    room = create_room(
        a,
        alice_token,
        {"preset": "private_chat", "room_version": "10", "initial_state": [knock_rule]},
    )
    via = f"?server_name={q(a.server_name)}"
    status, answer = knock_once_reachable(b, f"{CS}/knock/{q(room)}{via}", frank_token)
    assert status == 200, answer
    sync_until(b, frank_token, lambda s: room in s["rooms"].get("knock", {}))
    _, since = call(b, "GET", f"{CS}/sync?timeout=0", token=frank_token)
    a.stop()
    try:
        status, answer = call(b, "POST", f"{CS}/rooms/{q(room)}/leave", {}, token=frank_token)
        assert (status, answer) == (200, {})
        sync = sync_until(b, frank_token, lambda s: left(s, room, frank), since["next_batch"])
        (leave,) = member_events(sync["rooms"]["leave"][room], frank)
        assert leave["sender"] == frank
        status, fresh = call(b, "GET", f"{CS}/sync?timeout=0", token=frank_token)
        assert room not in fresh["rooms"].get("knock", {})
        # Knocking again needs the resident server: refused while it is down.
        status, answer = call(b, "POST", f"{CS}/knock/{q(room)}{via}", {}, token=frank_token)
        assert status >= 400, answer
    finally:
        a.start()
