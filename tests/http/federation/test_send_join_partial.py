"""``PUT /v2/send_join`` with ``omit_members`` (partial state, MSC3706): which
member events stay, ``servers_in_room``, an auth chain complete for what is
returned, the full answer unchanged without the flag, and bad flag values."""

from __future__ import annotations

from typing import Any

from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.http.federation.test_membership import V1, V2, members, signed_from_template
from tests.http.federation.test_room_reads import q, room_with, state
from tests.kit.homeserver import Homeserver
from tests.kit.remote import RemoteServer


def room_version(hs: Homeserver, room_id: str) -> RoomVersion:
    rv = hs.services.rooms.storage.state.room_version(room_id)
    assert rv is not None
    return rv


def by_id(pdus: list[dict[str, Any]], rv: RoomVersion) -> dict[str, dict[str, Any]]:
    return {RemoteServer.event_id(p, rv): p for p in pdus}


def keys(pdus: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(p["type"], p["state_key"]) for p in pdus}


def member_keys(pdus: list[dict[str, Any]]) -> set[str]:
    return {p["state_key"] for p in pdus if p["type"] == "m.room.member"}


def assert_auth_complete(answer: dict[str, Any], join: dict[str, Any], rv: RoomVersion) -> None:
    """Every auth event cited by the join, the returned state or the auth chain is
    itself in the answer, and no event is in both lists."""
    state, chain = by_id(answer["state"], rv), by_id(answer["auth_chain"], rv)
    assert not set(state) & set(chain)
    present = set(state) | set(chain)
    for pdu in [join, *state.values(), *chain.values()]:
        missing = set(pdu["auth_events"]) - present
        assert not missing, (pdu["type"], pdu.get("state_key"), missing)


async def join_path(
    hs: Homeserver, remote: RemoteServer, room_id: str, localpart: str
) -> tuple[dict[str, Any], str]:
    pdu, event_id = await signed_from_template(hs, remote, "join", room_id, remote.user(localpart))
    return pdu, f"{V2}/send_join/{q(room_id)}/{q(event_id)}"


async def leave(hs: Homeserver, remote: RemoteServer, room_id: str, localpart: str) -> str:
    """A user of ``remote`` leaves over send_leave; the leave's event ID."""
    pdu, event_id = await signed_from_template(hs, remote, "leave", room_id, remote.user(localpart))
    status, answer = await remote.request(
        hs, "PUT", f"{V2}/send_leave/{q(room_id)}/{q(event_id)}", pdu
    )
    assert status == 200, answer
    return event_id


async def test_a_named_room_leaves_out_members_and_lists_joined_servers(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs, name="Family")
    rv = room_version(fed_hs, room_id)
    await remote.join(fed_hs, room_id, "bob")
    # A server whose only user left is not in the room any more.
    pdu, path = await join_path(fed_hs, other, room_id, "olga")
    assert (await other.request(fed_hs, "PUT", path, pdu))[0] == 200
    await leave(fed_hs, other, room_id, "olga")
    await state(fed_hs, room_id, token, "m.room.topic", {"topic": "t"})

    eve = remote.user("eve")
    join, path = await join_path(fed_hs, remote, room_id, "eve")
    status, answer = await remote.request(fed_hs, "PUT", f"{path}?omit_members=true", join)
    assert status == 200, answer
    assert members(fed_hs, room_id)[eve] == "join"
    assert answer["members_omitted"] is True
    assert answer["origin"] == fed_hs.config.server_name
    assert sorted(answer["servers_in_room"]) == sorted(["test.example", remote.server_name])
    # Every state event but the members, and no member event at all (eve had none).
    assert member_keys(answer["state"]) == set()
    full_state = fed_hs.services.rooms.storage.state.state_ids(
        fed_hs.services.rooms.storage.state.hash_before(RemoteServer.event_id(join, rv)) or 0
    )
    assert keys(answer["state"]) == {k for k in full_state if k[0] != "m.room.member"}
    assert ("m.room.name", "") in keys(answer["state"])
    # The members the returned events (and the join) cite come in the auth chain.
    assert_auth_complete(answer, join, rv)
    assert "@alice:test.example" in member_keys(answer["auth_chain"])


async def test_the_joiners_own_membership_stays(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, _ = await room_with(fed_hs, name="Family")
    rv = room_version(fed_hs, room_id)
    eve = remote.user("eve")
    join, path = await join_path(fed_hs, remote, room_id, "eve")
    assert (await remote.request(fed_hs, "PUT", path, join))[0] == 200
    leave_id = await leave(fed_hs, remote, room_id, "eve")

    join, path = await join_path(fed_hs, remote, room_id, "eve")
    status, answer = await remote.request(fed_hs, "PUT", f"{path}?omit_members=true", join)
    assert status == 200, answer
    (own,) = [p for p in answer["state"] if p["type"] == "m.room.member"]
    assert (own["state_key"], own["content"]["membership"]) == (eve, "leave")
    assert RemoteServer.event_id(own, rv) == leave_id
    assert_auth_complete(answer, join, rv)


async def test_an_unnamed_room_keeps_its_heroes(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, _ = await room_with(fed_hs)
    rv = room_version(fed_hs, room_id)
    await remote.join(fed_hs, room_id, "bob")
    for name in ("d1", "d2", "d3", "d4"):
        token = (await fed_hs.register(name))["access_token"]
        status, answer = await fed_hs.request("POST", f"/join/{q(room_id)}", {}, token=token)
        assert status == 200, answer

    join, path = await join_path(fed_hs, remote, room_id, "eve")
    status, answer = await remote.request(fed_hs, "PUT", f"{path}?omit_members=true", join)
    assert status == 200, answer
    assert answer["members_omitted"] is True
    # Six members before the join; the summary's five heroes (joined, by user ID)
    # keep their member events, the sixth does not.
    assert member_keys(answer["state"]) == {
        "@alice:test.example",
        remote.user("bob"),
        "@d1:test.example",
        "@d2:test.example",
        "@d3:test.example",
    }
    assert "@d4:test.example" not in member_keys(answer["state"] + answer["auth_chain"])
    assert answer["servers_in_room"] == sorted(["test.example", remote.server_name])
    assert_auth_complete(answer, join, rv)
    # As Complement's TestSendJoinPartialStateResponse expects: everything the
    # returned events cite is already in state, so the auth chain is empty.
    assert answer["auth_chain"] == []


async def test_a_restricted_join_brings_its_authorisers_membership(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    space_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, space_id, "bob")
    status, created = await fed_hs.request(
        "POST",
        "/createRoom",
        {
            "room_version": "10",
            "name": "Restricted",
            "initial_state": [
                {
                    "type": "m.room.join_rules",
                    "state_key": "",
                    "content": {
                        "join_rule": "restricted",
                        "allow": [{"type": "m.room_membership", "room_id": space_id}],
                    },
                }
            ],
        },
        token=token,
    )
    assert status == 200, created
    room_id = created["room_id"]
    # Dave is invited and joins, alice leaves: dave is the one local user who can
    # authorise the join, and no returned state event cites his membership.
    dave = (await fed_hs.register("dave"))["access_token"]
    for who, path, body in (
        (token, "invite", {"user_id": "@dave:test.example"}),
        (dave, "join", {}),
        (token, "leave", {}),
    ):
        status, answer = await fed_hs.request(
            "POST", f"/rooms/{q(room_id)}/{path}", body, token=who
        )
        assert status == 200, answer
    rv = KNOWN_ROOM_VERSIONS["10"]
    join, path = await join_path(fed_hs, remote, room_id, "bob")
    assert join["content"]["join_authorised_via_users_server"] == "@dave:test.example"
    status, answer = await remote.request(fed_hs, "PUT", f"{path}?omit_members=true", join)
    assert status == 200, answer
    signed = answer["event"]
    assert set(signed["signatures"]) == {remote.server_name, "test.example"}
    assert member_keys(answer["state"]) == set()
    # The join cites dave's membership: it comes in the auth chain (spec: "the
    # auth chain for the new join event"), though not in the state.
    assert_auth_complete(answer, signed, rv)
    assert "@dave:test.example" in member_keys(answer["auth_chain"])


async def test_without_the_flag_the_answer_is_the_full_state(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, _ = await room_with(fed_hs, name="Family")
    rv = room_version(fed_hs, room_id)
    await remote.join(fed_hs, room_id, "bob")
    join, path = await join_path(fed_hs, remote, room_id, "eve")
    status, plain = await remote.request(fed_hs, "PUT", path, join)
    assert status == 200, plain
    assert plain["members_omitted"] is False and "servers_in_room" not in plain
    assert member_keys(plain["state"]) == {"@alice:test.example", remote.user("bob")}
    # The auth chain is the whole chain of the state, state events included.
    assert ("m.room.create", "") in keys(plain["auth_chain"])
    full_state = by_id(plain["state"], rv)
    for pdu in full_state.values():
        assert set(pdu["auth_events"]) <= set(full_state) | set(by_id(plain["auth_chain"], rv))

    # The same join sent again answers the same with omit_members=false, and v1
    # ignores the flag (the spec defines it for v2 only).
    status, explicit = await remote.request(fed_hs, "PUT", f"{path}?omit_members=false", join)
    assert (status, explicit) == (200, plain)
    v1_path = path.replace(V2, V1) + "?omit_members=true"
    status, v1 = await remote.request(fed_hs, "PUT", v1_path, join)
    assert (status, v1) == (200, [200, plain])
    # ... and partially with omit_members=true.
    status, partial = await remote.request(fed_hs, "PUT", f"{path}?omit_members=true", join)
    assert status == 200 and partial["members_omitted"] is True
    assert len(partial["state"]) < len(plain["state"])


async def test_a_bad_flag_is_refused_and_changes_nothing(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, _ = await room_with(fed_hs)
    eve = remote.user("eve")
    join, path = await join_path(fed_hs, remote, room_id, "eve")
    for value in ("yes", "1", "True", ""):
        status, answer = await remote.request(fed_hs, "PUT", f"{path}?omit_members={value}", join)
        assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM"), (value, answer)
        assert "omit_members" in answer["error"]
    assert eve not in members(fed_hs, room_id)
    event_id = RemoteServer.event_id(join, room_version(fed_hs, room_id))
    assert not fed_hs.services.rooms.storage.timeline.exists(event_id)
