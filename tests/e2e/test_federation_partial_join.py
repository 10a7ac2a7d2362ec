"""Joining with partial state (MSC3706, send_join v2 ``omit_members``) between two of
our processes: B joins A's room of several members; A leaves the other members out
of its answer, B's room is marked partial-state and completed in the background from
A's ``/state_ids`` + ``/event``; afterwards B has every member and messages flow."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.kit.federation import HasBaseUrl, call, federation, q, register
from tests.kit.federation_peer import FederationPeer
from tests.kit.server import ServerProcess
from tests.kit.synapse_peer import synapse_available

CS = "/_matrix/client/v3"
PARTIAL = {"CONDUWUIT_FEDERATION_PARTIAL_STATE_JOINS": "true"}


def ok(server: HasBaseUrl, method: str, path: str, token: str, body: Any = None) -> Any:
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


def bodies(server: HasBaseUrl, room: str, token: str) -> list[str]:
    chunk = ok(server, "GET", f"{CS}/rooms/{q(room)}/messages?dir=b&limit=50", token)["chunk"]
    return [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]


@asynccontextmanager
async def held_back(
    net: Any, b: ServerProcess, peer_ip: str
) -> AsyncIterator[tuple[FederationPeer, asyncio.Event, str]]:
    """B started beside a test peer on ``peer_ip`` that answers joins with partial
    state and holds its ``/state_ids`` answer back until the gate is set; yields the
    peer, the gate and a room of the peer's, once B is ready."""
    b.start(wait=False)
    peer = FederationPeer(net.ca, peer_ip, {b.server_name: b.base_url})
    peer.partial_joins = True
    gate = peer.state_ids_gate = asyncio.Event()
    await peer.start()
    try:
        await asyncio.to_thread(b.wait_ready, 60)
        yield peer, gate, peer.make_room()
    finally:
        await peer.stop()


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

        ok(
            b,
            "PUT",
            f"{CS}/rooms/{q(room)}/send/m.room.message/2",
            bob,
            {"msgtype": "m.text", "body": "from b"},
        )
        eventually(lambda: "from b" in bodies(a, room, ann))
        ok(a, "PUT", f"{CS}/rooms/{q(room)}/send/m.room.message/3", ann, {"body": "from a"})
        eventually(lambda: "from a" in bodies(b, room, bob))


def remote_member_joins(
    peer: FederationPeer, author: FederationPeer, room: str, user_id: str
) -> None:
    """``author``'s user joins ``peer``'s room (a public room: create, power levels
    and join rules authorise it)."""
    state = peer.state_ids(room)
    auth = [state[(kind, "")] for kind in ("m.room.create", "m.room.power_levels")]
    auth.append(state[("m.room.join_rules", "")])
    author.event(
        room,
        "m.room.member",
        {"membership": "join"},
        state_key=user_id,
        sender=user_id,
        auth_events=auth,
    )


async def bob_joins_through(b: ServerProcess, peer: FederationPeer, room: str) -> tuple[str, str]:
    """Bob registers on B and joins ``room`` through ``peer``: (his ID, his token)."""
    bob_id, bob = await asyncio.to_thread(register, b, "bob")
    join = f"{CS}/join/{q(room)}?server_name={q(peer.server_name)}"
    await asyncio.to_thread(ok, b, "POST", join, bob, {})
    return bob_id, bob


def lazy_filter() -> str:
    lazy = {"lazy_load_members": True}
    return q(json.dumps({"room": {"state": lazy, "timeline": lazy}}))


def times_out(server: ServerProcess, path: str, token: str, seconds: float) -> bool:
    request = urllib.request.Request(f"{server.base_url}{path}")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=seconds):
            return False
    except TimeoutError:
        return True


async def test_a_partial_room_is_usable_before_its_resync_which_survives_a_kill(
    tmp_path: Path,
) -> None:
    """The resident (a test peer) holds its /state_ids answer back: meanwhile B's
    user sends, reads /messages and sees the room in a lazy-loading /sync; an eager
    /sync leaves it out and /members waits. B is killed (SIGKILL) and restarted: the
    room is still partial, and once the peer answers the resync resumed at start-up
    completes it with the members the join left out."""
    with federation(tmp_path) as net:
        b = net.server(43, **PARTIAL)
        async with held_back(net, b, "127.0.0.44") as (peer, gate, room):
            derek = peer.user("derek")
            remote_member_joins(peer, peer, room, derek)
            bob_id, bob = await bob_joins_through(b, peer, room)
            assert peer.send_join_queries == ["omit_members=true"]

            # Usable at once: send (the peer gets it), /messages, a lazy-loading sync.
            sent = f"{CS}/rooms/{q(room)}/send/m.room.message/1"
            await asyncio.to_thread(ok, b, "PUT", sent, bob, {"body": "early"})
            await peer.wait_for(lambda p: "early" in p.accepted_bodies())
            assert "early" in await asyncio.to_thread(bodies, b, room, bob)
            lazy = await asyncio.to_thread(ok, b, "GET", f"{CS}/sync?filter={lazy_filter()}", bob)
            assert room in lazy["rooms"]["join"]
            eager = await asyncio.to_thread(ok, b, "GET", f"{CS}/sync", bob)
            assert room not in eager.get("rooms", {}).get("join", {})
            members = f"{CS}/rooms/{q(room)}/members"
            assert await asyncio.to_thread(times_out, b, members, bob, 1.0)
            assert peer.state_ids_requests  # the resync asked, and waits
            # An alias of the room names the servers the resident listed too.
            alias = q(f"#partial:{b.server_name}")
            await asyncio.to_thread(
                ok, b, "PUT", f"{CS}/directory/room/{alias}", bob, {"room_id": room}
            )
            found = await asyncio.to_thread(ok, b, "GET", f"{CS}/directory/room/{alias}", bob)
            assert found["servers"] == [b.server_name, peer.server_name]

            # Killed mid-resync, restarted: the mark survived, the room is still partial.
            asked = len(peer.state_ids_requests)
            b.stop(signal.SIGKILL)
            await asyncio.to_thread(b.start, wait=True, timeout=60)
            eager = await asyncio.to_thread(ok, b, "GET", f"{CS}/sync", bob)
            assert room not in eager.get("rooms", {}).get("join", {})
            deadline = time.monotonic() + 20
            while len(peer.state_ids_requests) == asked:  # the resync resumed at start
                assert time.monotonic() < deadline, "the resync did not resume"
                await asyncio.sleep(0.1)
            gate.set()
            chunk = (await asyncio.to_thread(ok, b, "GET", members, bob))["chunk"]
            assert {e["state_key"] for e in chunk} == {peer.user("charlie"), derek, bob_id}
            eager = await asyncio.to_thread(ok, b, "GET", f"{CS}/sync", bob)
            synced = eager["rooms"]["join"][room]
            shown = [*synced["state"]["events"], *synced["timeline"]["events"]]
            assert derek in {e.get("state_key") for e in shown}


@pytest.mark.parametrize("derek_known", [False, True])
async def test_device_lists_while_a_room_is_partial(tmp_path: Path, derek_known: bool) -> None:
    """While B's room is partial-state (the peer holds /state_ids back) and B knows
    none of the peer's users as members: B's user's device change still reaches the
    peer (a server of the join answer's ``servers_in_room``, Synapse's rule), and an
    update about derek, whom B cannot yet know to be in the room, is noted; once the
    resync shows derek in the room, B's user hears "changed" for him in /sync (and
    not for charlie, whom the resync found too but who sent nothing). Derek known
    from the partial answer or not: the same."""
    with federation(tmp_path) as net:
        b = net.server(45, **PARTIAL)
        async with held_back(net, b, "127.0.0.46") as (peer, gate, room):
            derek = peer.user("derek")
            if derek_known:  # kept in the partial answer, as a room's heroes are
                peer.partial_kept_members.add(derek)
            remote_member_joins(peer, peer, room, derek)
            bob_id, bob = await bob_joins_through(b, peer, room)
            members = f"{CS}/rooms/{q(room)}/members"
            assert await asyncio.to_thread(times_out, b, members, bob, 1.0)  # still partial
            since = (await asyncio.to_thread(ok, b, "GET", f"{CS}/sync", bob))["next_batch"]

            # Bob's device changes: the peer hears of it though B knows no member of it.
            device = (await asyncio.to_thread(ok, b, "GET", f"{CS}/account/whoami", bob))[
                "device_id"
            ]
            path = f"{CS}/devices/{q(device)}"
            await asyncio.to_thread(ok, b, "PUT", path, bob, {"display_name": "phone"})
            await peer.wait_for(
                lambda p: any(c["user_id"] == bob_id for c in p.edus_of("m.device_list_update"))
            )

            # An update about derek during the resync; told to bob once it is done.
            update = {"user_id": derek, "device_id": "QBUAZIFURK", "stream_id": 1}
            edu = {"edu_type": "m.device_list_update", "content": update}
            status, _ = await peer.send_edus(b.server_name, b.base_url, "dl1", [edu])
            assert status == 200
            gate.set()
            await asyncio.to_thread(ok, b, "GET", members, bob)  # complete now
            changed: list[str] = []
            deadline = time.monotonic() + 20
            while derek not in changed:
                assert time.monotonic() < deadline, f"derek never changed: {changed}"
                path = f"{CS}/sync?since={q(since)}&timeout=1000&filter={lazy_filter()}"
                synced = await asyncio.to_thread(ok, b, "GET", path, bob)
                changed += synced.get("device_lists", {}).get("changed", [])
                since = synced["next_batch"]
            # Charlie, found by the resync with no update of his, is no news (Synapse).
            assert peer.user("charlie") not in changed


def device_updates_about(peer: FederationPeer, user_id: str) -> list[dict[str, Any]]:
    return [c for c in peer.edus_of("m.device_list_update") if c["user_id"] == user_id]


async def test_a_server_left_out_of_servers_in_room_gets_the_missed_update(
    tmp_path: Path,
) -> None:
    """The resident's ``servers_in_room`` leaves out a second server whose user erin
    is in the room: B's user's device change during the resync does not reach it;
    once the full state shows erin joined, the update it missed is sent to it (as
    Synapse does), and later changes reach it as any room-mate's server."""
    with federation(tmp_path) as net:
        b = net.server(48, **PARTIAL)
        other = FederationPeer(net.ca, "127.0.0.50", {b.server_name: b.base_url})
        async with held_back(net, b, "127.0.0.49") as (peer, gate, room):
            await other.start()
            try:
                other.rooms[room] = peer.rooms[room]  # one room, events of both servers
                erin = other.user("erin")
                remote_member_joins(peer, other, room, erin)
                bob_id, bob = await bob_joins_through(b, peer, room)
                device = (await asyncio.to_thread(ok, b, "GET", f"{CS}/account/whoami", bob))[
                    "device_id"
                ]
                path = f"{CS}/devices/{q(device)}"
                await asyncio.to_thread(ok, b, "PUT", path, bob, {"display_name": "one"})
                await peer.wait_for(lambda p: len(device_updates_about(p, bob_id)) == 1)
                await asyncio.sleep(1.0)
                assert device_updates_about(other, bob_id) == []

                gate.set()
                await other.wait_for(lambda p: len(device_updates_about(p, bob_id)) == 1)
                (missed,) = device_updates_about(other, bob_id)
                assert missed == device_updates_about(peer, bob_id)[0]  # the same update
                await asyncio.to_thread(ok, b, "PUT", path, bob, {"display_name": "two"})
                await other.wait_for(lambda p: len(device_updates_about(p, bob_id)) == 2)
                await peer.wait_for(lambda p: len(device_updates_about(p, bob_id)) == 2)
            finally:
                await other.stop()


@pytest.mark.skipif(not synapse_available(), reason="matrix-synapse is not installed")
def test_partial_join_of_a_synapse_room(tmp_path: Path) -> None:
    """Synapse as the resident: it answers our omit_members=true with partial state
    (members_omitted), our resync completes it from Synapse's /state_ids + /event,
    and messages flow both ways."""
    with federation(tmp_path) as net:
        b = net.server(45, **PARTIAL)
        b.start(wait=False)
        s = net.synapse(46).start()
        b.wait_ready(60)
        alice_id, alice = s.register("alice")
        others = [s.register(f"member{i}") for i in range(3)]
        room = ok(s, "POST", f"{CS}/createRoom", alice, {"preset": "public_chat"})["room_id"]
        for _, token in others:
            ok(s, "POST", f"{CS}/join/{q(room)}", token, {})
        ok(
            s,
            "PUT",
            f"{CS}/rooms/{q(room)}/send/m.room.message/1",
            alice,
            {"msgtype": "m.text", "body": "hi"},
        )

        bob_id, bob = register(b, "bob")
        ok(b, "POST", f"{CS}/join/{q(room)}?server_name={q(s.server_name)}", bob, {})
        everyone = {alice_id, bob_id, *(user for user, _ in others)}
        assert member_ids(b, room, bob) == everyone
        assert f"{room} has its full state (from {s.server_name}" in b.log_path.read_text()

        ok(
            b,
            "PUT",
            f"{CS}/rooms/{q(room)}/send/m.room.message/2",
            bob,
            {"msgtype": "m.text", "body": "from b"},
        )
        eventually(lambda: "from b" in bodies(s, room, alice))
        ok(
            s,
            "PUT",
            f"{CS}/rooms/{q(room)}/send/m.room.message/3",
            alice,
            {"msgtype": "m.text", "body": "from s"},
        )
        eventually(lambda: "from s" in bodies(b, room, bob))


def joined_count(server: HasBaseUrl, room: str, token: str) -> int | None:
    chunk = ok(server, "GET", f"{CS}/publicRooms", token)["chunk"]
    return next((int(r["num_joined_members"]) for r in chunk if r["room_id"] == room), None)


def directory_finds(server: HasBaseUrl, token: str, term: str) -> list[str]:
    path = f"{CS}/user_directory/search"
    found = ok(server, "POST", path, token, {"search_term": term})["results"]
    return [r["user_id"] for r in found]


async def test_room_stats_and_user_directory_follow_the_resync(tmp_path: Path) -> None:
    """While the room is partial, the public room list counts the members B knows and
    the user directory finds B's user but not the members the join left out; once
    the resync completes both show every member (Complement TestPartialStateJoin
    "Room stats …" / "User directory is correctly updated once state re-sync
    completes")."""
    with federation(tmp_path) as net:
        b = net.server(45, **PARTIAL)
        async with held_back(net, b, "127.0.0.46") as (peer, gate, room):
            derek = peer.user("derek")
            remote_member_joins(peer, peer, room, derek)
            # Bob is B's first user, so its admin: he may publish a room he has no
            # power in.
            bob_id, bob = await bob_joins_through(b, peer, room)
            # The room is publicly joinable: Bob finds himself through it (Synapse's
            # users_in_public_rooms), not the members the join left out.
            assert await asyncio.to_thread(directory_finds, b, bob, "bob") == [bob_id]
            assert await asyncio.to_thread(directory_finds, b, bob, "derek") == []
            listing = f"{CS}/directory/list/room/{q(room)}"
            await asyncio.to_thread(ok, b, "PUT", listing, bob, {"visibility": "public"})
            assert await asyncio.to_thread(joined_count, b, room, bob) == 1

            gate.set()
            members = f"{CS}/rooms/{q(room)}/members"
            await asyncio.to_thread(ok, b, "GET", members, bob)
            assert await asyncio.to_thread(joined_count, b, room, bob) == 3
            assert await asyncio.to_thread(directory_finds, b, bob, "derek") == [derek]
            assert await asyncio.to_thread(directory_finds, b, bob, "charlie") == [
                peer.user("charlie")
            ]


def event_shown(server: HasBaseUrl, room: str, token: str, event_id: str) -> bool:
    status, _ = call(server, "GET", f"{CS}/rooms/{q(room)}/event/{q(event_id)}", token=token)
    return status == 200


async def test_a_leave_after_a_kick_let_in_on_partial_state_is_accepted(tmp_path: Path) -> None:
    """Derek (a moderator who has left) "kicks" elsie: B, not knowing derek left, lets
    the kick in on its partial state. Elsie then leaves, citing her join: B checks
    the leave against its partial state resolved with the leave's own auth events
    (Synapse's), so the leave is accepted rather than refused as the leave of someone
    already out (Complement TestPartialStateJoin "Device list updates reach
    incorrectly kicked servers … even though remote server left room")."""
    with federation(tmp_path) as net:
        b = net.server(51, **PARTIAL)
        async with held_back(net, b, "127.0.0.52") as (peer, gate, room):
            charlie, derek, elsie = (peer.user(n) for n in ("charlie", "derek", "elsie"))
            remote_member_joins(peer, peer, room, derek)
            state = peer.state_ids(room)
            create, charlie_join = state[("m.room.create", "")], state[("m.room.member", charlie)]
            derek_join = state[("m.room.member", derek)]
            levels = peer.event_id(
                peer.event(
                    room,
                    "m.room.power_levels",
                    {"users": {charlie: 100, derek: 100}},
                    state_key="",
                    auth_events=[create, state[("m.room.power_levels", "")], charlie_join],
                )
            )
            peer.event(
                room,
                "m.room.member",
                {"membership": "leave"},
                state_key=derek,
                sender=derek,
                auth_events=[create, levels, derek_join],
            )
            bob_id, bob = await bob_joins_through(b, peer, room)

            async def deliver(txn: str, pdu: dict[str, Any]) -> str:
                status, _ = await peer.send_transaction(b.server_name, b.base_url, txn, [pdu])
                assert status == 200
                event_id = peer.event_id(pdu)
                deadline = time.monotonic() + 20
                while not await asyncio.to_thread(event_shown, b, room, bob, event_id):
                    assert time.monotonic() < deadline, f"{pdu['type']} never shown"
                    await asyncio.sleep(0.1)
                return event_id

            remote_member_joins(peer, peer, room, elsie)
            elsie_join = await deliver("t1", peer.rooms[room][-1])
            kick = peer.event(
                room,
                "m.room.member",
                {"membership": "leave"},
                state_key=elsie,
                sender=derek,
                auth_events=[create, levels, derek_join],
            )
            await deliver("t2", kick)
            leave = peer.event(
                room,
                "m.room.member",
                {"membership": "leave"},
                state_key=elsie,
                sender=elsie,
                auth_events=[create, levels, elsie_join],
            )
            leave_id = await deliver("t3", leave)

            gate.set()
            members = f"{CS}/rooms/{q(room)}/members"
            chunk = (await asyncio.to_thread(ok, b, "GET", members, bob))["chunk"]
            shown = {e["state_key"]: (e["event_id"], e["content"]["membership"]) for e in chunk}
            assert shown[elsie] == (leave_id, "leave")
            assert shown[bob_id][1] == "join"
            assert await asyncio.to_thread(event_shown, b, room, bob, leave_id)
