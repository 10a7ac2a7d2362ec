"""Simplified Sliding Sync (MSC4186): required_state (wildcards, $ME, $LAZY), list
filters, room subscriptions, invites and leaves, heroes and DMs."""

from __future__ import annotations

from typing import Any

from tests.kit.homeserver import Homeserver

from .sliding_kit import a_list, bodies, hs, sliding
from .test_sync import _room, _send, _user

__all__ = ["hs"]


def _state(room: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["type"], e["state_key"]) for e in room["required_state"]}


async def _join(hs: Homeserver, token: str, room: str) -> None:
    status, reply = await hs.request("POST", f"/join/{room}", {}, token=token)
    assert status == 200, reply


async def test_required_state_wildcards_me_and_lazy_members(hs: Homeserver) -> None:
    alice, alice_token = await _user(hs, "alice")
    bob, bob_token = await _user(hs, "bob")
    carol, carol_token = await _user(hs, "carol")
    room = await _room(hs, alice_token, preset="public_chat", name="Chat", topic="t")
    for token in (bob_token, carol_token):
        await _join(hs, token, room)
    await _send(hs, bob_token, room, "from bob", "t1")

    async def state_of(required: list[list[str]], limit: int = 1) -> set[tuple[str, str]]:
        body = {"lists": {"a": a_list(required_state=required, timeline_limit=limit)}}
        return _state((await sliding(hs, alice_token, body))["rooms"][room])

    assert await state_of([["m.room.name", ""], ["m.room.topic", ""]]) == {
        ("m.room.name", ""),
        ("m.room.topic", ""),
    }
    assert await state_of([["m.room.member", "$ME"]]) == {("m.room.member", alice)}
    # $LAZY: the members of the timeline's senders only.
    assert await state_of([["m.room.member", "$LAZY"]]) == {("m.room.member", bob)}
    members = {("m.room.member", u) for u in (alice, bob, carol)}
    assert await state_of([["m.room.member", "*"]]) == members
    everything = await state_of([["*", "*"]])
    assert members | {("m.room.create", ""), ("m.room.join_rules", "")} <= everything
    assert await state_of([["*", ""]]) == {k for k in everything if k[1] == ""}


async def test_incremental_required_state_sends_what_changed_and_new_lazy_members(
    hs: Homeserver,
) -> None:
    _, alice_token = await _user(hs, "alice")
    bob, bob_token = await _user(hs, "bob")
    room = await _room(hs, alice_token, preset="public_chat", name="Before")
    required = [["m.room.name", ""], ["m.room.member", "$LAZY"]]
    body = {"lists": {"a": a_list(required_state=required, timeline_limit=3)}}
    first = await sliding(hs, alice_token, body)
    await _join(hs, bob_token, room)
    await _send(hs, bob_token, room, "hi", "t1")
    status, _ = await hs.request(
        "PUT", f"/rooms/{room}/state/m.room.name/", {"name": "After"}, token=alice_token
    )
    assert status == 200
    second = await sliding(hs, alice_token, body, pos=first["pos"])
    update = second["rooms"][room]
    assert _state(update) == {("m.room.name", ""), ("m.room.member", bob)}
    assert update["name"] == "After"
    assert update["joined_count"] == 2
    # Nothing repeated when nothing changed; a known sender's member event stays out.
    await _send(hs, bob_token, room, "again", "t2")
    third = await sliding(hs, alice_token, body, pos=second["pos"])
    assert _state(third["rooms"][room]) == set()
    # Asking for more state sends the newly asked-for state.
    wider = {"lists": {"a": a_list(required_state=[*required, ["m.room.create", ""]])}}
    fourth = await sliding(hs, alice_token, wider, pos=third["pos"])
    assert _state(fourth["rooms"][room]) == {("m.room.create", "")}


async def test_filters(hs: Homeserver) -> None:
    alice, alice_token = await _user(hs, "alice")
    bob, bob_token = await _user(hs, "bob")
    plain = await _room(hs, alice_token)
    encrypted = await _room(
        hs,
        alice_token,
        initial_state=[
            {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
        ],
    )
    space = await _room(hs, alice_token, creation_content={"type": "m.space"})
    status, _ = await hs.request(
        "PUT",
        f"/rooms/{space}/state/m.space.child/{plain}",
        {"via": ["test.example"]},
        token=alice_token,
    )
    assert status == 200
    dm = await _room(hs, bob_token, invite=[alice], is_direct=True)
    status, _ = await hs.request(
        "PUT", f"/user/{alice}/account_data/m.direct", {bob: [encrypted]}, token=alice_token
    )
    assert status == 200

    async def rooms_of(**filters: Any) -> set[str]:
        reply = await sliding(hs, alice_token, {"lists": {"a": a_list(**filters)}})
        assert reply["lists"]["a"]["count"] == len(reply["rooms"])
        return set(reply["rooms"])

    assert await rooms_of() == {plain, encrypted, space, dm}
    assert await rooms_of(is_encrypted=True) == {encrypted}
    assert await rooms_of(is_invite=True) == {dm}
    assert await rooms_of(is_invite=False) == {plain, encrypted, space}
    # m.direct, and an invite that says is_direct.
    assert await rooms_of(is_dm=True) == {encrypted, dm}
    assert await rooms_of(room_types=["m.space"]) == {space}
    assert await rooms_of(not_room_types=["m.space"]) == {plain, encrypted, dm}
    assert await rooms_of(room_types=[None]) == {plain, encrypted, dm}
    assert await rooms_of(spaces=[space]) == {plain}
    reply = await sliding(hs, alice_token, {"lists": {"a": a_list(is_dm=True)}})
    assert reply["rooms"][encrypted]["is_dm"] is True


async def test_invites_appear_and_leaving_removes_the_room(hs: Homeserver) -> None:
    alice, alice_token = await _user(hs, "alice")
    _, bob_token = await _user(hs, "bob")
    mine = await _room(hs, alice_token)
    body = {"lists": {"a": a_list(timeline_limit=2)}}
    first = await sliding(hs, alice_token, body)
    assert first["lists"]["a"]["count"] == 1
    invited = await _room(hs, bob_token, invite=[alice], name="Bob's")
    second = await sliding(hs, alice_token, body, pos=first["pos"])
    assert second["lists"]["a"]["count"] == 2
    invite = second["rooms"][invited]
    assert invite["initial"] is True
    assert ("m.room.member", alice) in {(e["type"], e["state_key"]) for e in invite["invite_state"]}
    assert {"timeline", "required_state"}.isdisjoint(invite)
    # The newest event of the list: the invite is at the top.
    assert list(second["rooms"]) == [invited]
    await _join(hs, alice_token, invited)
    third = await sliding(hs, alice_token, body, pos=second["pos"])
    joined = third["rooms"][invited]
    assert joined["initial"] is True and joined["name"] == "Bob's"
    assert "invite_state" not in joined and joined["timeline"]
    status, _ = await hs.request("POST", f"/rooms/{mine}/leave", {}, token=alice_token)
    assert status == 200
    fourth = await sliding(hs, alice_token, body, pos=third["pos"])
    left = fourth["rooms"][mine]
    # The leave comes as an update of the room the client has (not a new room).
    assert "initial" not in left
    assert left["timeline"][-1]["content"]["membership"] == "leave"
    fifth = await sliding(hs, alice_token, body, pos=fourth["pos"])
    assert fifth["lists"]["a"]["count"] == 1
    assert (await sliding(hs, alice_token, body))["lists"]["a"]["count"] == 1


async def test_room_subscriptions(hs: Homeserver) -> None:
    _, alice_token = await _user(hs, "alice")
    _, bob_token = await _user(hs, "bob")
    old, _new = await _room(hs, alice_token, name="old"), await _room(hs, alice_token)
    strangers = await _room(hs, bob_token)
    body = {
        "lists": {"a": a_list(0, timeline_limit=1)},
        "room_subscriptions": {
            old: {"required_state": [["m.room.name", ""]], "timeline_limit": 3},
            strangers: {"required_state": [], "timeline_limit": 3},
        },
    }
    first = await sliding(hs, alice_token, body)
    # The subscription brings a room outside the range; a room the user is not in stays out.
    assert old in first["rooms"] and strangers not in first["rooms"]
    assert len(first["rooms"][old]["timeline"]) == 3
    assert _state(first["rooms"][old]) == {("m.room.name", "")}
    await _send(hs, alice_token, old, "sub", "t1")
    second = await sliding(hs, alice_token, body, pos=first["pos"])
    assert bodies(second["rooms"][old]) == ["sub"]


async def test_heroes_of_an_unnamed_room(hs: Homeserver) -> None:
    _, alice_token = await _user(hs, "alice")
    bob, bob_token = await _user(hs, "bob")
    status, _ = await hs.request(
        "PUT", f"/profile/{bob}/displayname", {"displayname": "Bobby"}, token=bob_token
    )
    assert status == 200
    room = await _room(hs, alice_token, preset="public_chat")
    await _join(hs, bob_token, room)
    reply = await sliding(hs, alice_token, {"lists": {"a": a_list()}})
    result = reply["rooms"][room]
    assert result["heroes"] == [{"user_id": bob, "displayname": "Bobby"}]
    assert "name" not in result and result["joined_count"] == 2


async def test_tag_filters_and_invites_from_ignored_users(hs: Homeserver) -> None:
    alice, alice_token = await _user(hs, "alice")
    _, bob_token = await _user(hs, "bob")
    mallory, mallory_token = await _user(hs, "mallory")
    tagged, plain = await _room(hs, alice_token), await _room(hs, alice_token)
    path = f"/user/{alice}/rooms/{tagged}/tags/m.favourite"
    assert (await hs.request("PUT", path, {"order": 0.5}, token=alice_token))[0] == 200
    invited = await _room(hs, bob_token, invite=[alice])
    path = f"/user/{alice}/account_data/m.ignored_user_list"
    ignore = {"ignored_users": {mallory: {}}}
    assert (await hs.request("PUT", path, ignore, token=alice_token))[0] == 200
    await _room(hs, mallory_token, invite=[alice])

    async def rooms_of(**filters: Any) -> set[str]:
        reply = await sliding(hs, alice_token, {"lists": {"a": a_list(**filters)}})
        return set(reply["rooms"])

    assert await rooms_of() == {tagged, plain, invited}
    assert await rooms_of(tags=["m.favourite"]) == {tagged}
    assert await rooms_of(not_tags=["m.favourite"]) == {plain, invited}


async def test_opening_a_listed_room_with_a_larger_timeline_limit_expands_it(
    hs: Homeserver,
) -> None:
    _, token = await _user(hs, "alice")
    room = await _room(hs, token)
    for i in range(4):
        await _send(hs, token, room, f"m{i}", f"t{i}")
    listed = {"lists": {"a": a_list(timeline_limit=1)}}
    first = await sliding(hs, token, listed)
    assert bodies(first["rooms"][room]) == ["m3"]
    opened = {**listed, "room_subscriptions": {room: {"required_state": [], "timeline_limit": 3}}}
    second = await sliding(hs, token, opened, pos=first["pos"])
    expanded = second["rooms"][room]
    assert expanded["unstable_expanded_timeline"] is True and "initial" not in expanded
    assert bodies(expanded) == ["m1", "m2", "m3"] and expanded["limited"] is True
    # Once sent with the larger limit, the room does not come again without news.
    third = await sliding(hs, token, opened, pos=second["pos"])
    assert room not in third["rooms"]
    await _send(hs, token, room, "m4", "t4")
    fourth = await sliding(hs, token, opened, pos=third["pos"])
    assert bodies(fourth["rooms"][room]) == ["m4"]
    assert "unstable_expanded_timeline" not in fourth["rooms"][room]


async def test_room_name_like_matches_the_computed_name_ignoring_case(hs: Homeserver) -> None:
    alice, alice_token = await _user(hs, "alice")
    bob, bob_token = await _user(hs, "bob")
    status, _ = await hs.request(
        "PUT", f"/profile/{bob}/displayname", {"displayname": "Bobby Tables"}, token=bob_token
    )
    assert status == 200
    named = await _room(hs, alice_token, name="Family Photos")
    aliased = await _room(hs, alice_token, room_alias_name="garden-club")
    # No name, no alias: the heroes' display names name it.
    with_bob = await _room(hs, alice_token, preset="public_chat")
    await _join(hs, bob_token, with_bob)
    # An invite is named by its stripped state.
    invited = await _room(hs, bob_token, name="Straße Party", invite=[alice])

    async def rooms_of(like: str) -> set[str]:
        reply = await sliding(hs, alice_token, {"lists": {"a": a_list(room_name_like=like)}})
        assert reply["lists"]["a"]["count"] == len(reply["rooms"])
        return set(reply["rooms"])

    assert await rooms_of("photo") == {named}
    assert await rooms_of("FAMILY PHOTOS") == {named}
    assert await rooms_of("GARDEN-club") == {aliased}
    assert await rooms_of("tables") == {with_bob}
    assert await rooms_of("STRASSE") == {invited}  # Unicode case folding
    assert await rooms_of("") == {named, aliased, with_bob, invited}
    assert await rooms_of("%") == set()  # not a LIKE wildcard
    assert await rooms_of("nothing like it") == set()
    # Not a string: refused, and the connection is not started.
    reply = await sliding(
        hs, alice_token, {"lists": {"a": a_list(room_name_like=["photo"])}}, status=400
    )
    assert reply["errcode"] == "M_BAD_JSON"
