"""The push evaluator over real rooms: who is checked, with which room context."""

from __future__ import annotations

from typing import Any

from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.push import Actions
from conduwuit.service.rooms.actions import CreateRoom

from .conftest import ALICE, BOB, CAROL, Stack

REMOTE = "@dave:elsewhere.example"


async def public_room(stack: Stack, *members: UserId) -> RoomId:
    room = RoomId.parse(
        await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat"))  # type: ignore[call-arg]
    )
    for member in members:
        await stack.membership.join(member, str(room))
    return room


async def evaluate(
    stack: Stack,
    sender: UserId,
    room: RoomId,
    content: dict[str, Any],
    type_: str = "m.room.message",
) -> dict[str, Actions]:
    event_id = await stack.actions.send(sender, room, type_, content)
    pdu = stack.storage.timeline.get(event_id)
    assert pdu is not None
    return stack.services.push.evaluator.evaluate(pdu, event_id)


def rule_ids(found: dict[str, Actions]) -> dict[str, str]:
    return {user: actions.rule_id for user, actions in found.items()}


async def test_every_local_member_but_the_sender(stack: Stack) -> None:
    room = await public_room(stack, BOB, CAROL)
    found = await evaluate(stack, BOB, room, {"msgtype": "m.text", "body": "hi"})
    assert rule_ids(found) == {str(ALICE): ".m.rule.message", str(CAROL): ".m.rule.message"}
    assert all(a.notify and not a.highlight for a in found.values())


async def test_mentions_and_one_to_one(stack: Stack) -> None:
    room = await public_room(stack, BOB)
    found = await evaluate(stack, BOB, room, {"msgtype": "m.text", "body": "x"})
    assert rule_ids(found) == {str(ALICE): ".m.rule.room_one_to_one"}
    await stack.membership.join(CAROL, str(room))
    mention = {"body": "x", "m.mentions": {"user_ids": [str(CAROL)]}}
    found = await evaluate(stack, BOB, room, mention)
    assert rule_ids(found) == {str(ALICE): ".m.rule.message", str(CAROL): ".m.rule.is_user_mention"}
    assert found[str(CAROL)].highlight


async def test_room_mention_uses_the_senders_power_level(stack: Stack) -> None:
    room = await public_room(stack, BOB, CAROL)
    at_room = {"body": "@room", "m.mentions": {"room": True}}
    # Bob has the default power 0 (< notifications.room 50); Alice created the room (100).
    found = rule_ids(await evaluate(stack, BOB, room, at_room))
    assert found == {str(ALICE): ".m.rule.message", str(CAROL): ".m.rule.message"}
    found = rule_ids(await evaluate(stack, ALICE, room, at_room))
    assert found == {str(BOB): ".m.rule.is_room_mention", str(CAROL): ".m.rule.is_room_mention"}


async def test_an_invite_is_checked_for_the_local_invitee(stack: Stack) -> None:
    room = await public_room(stack)
    await stack.membership.invite(ALICE, room, CAROL)
    events = stack.history.messages(ALICE, room, limit=1)["chunk"]
    event_id = events[0]["event_id"]
    pdu = stack.storage.timeline.get(event_id)
    assert pdu is not None
    found = stack.services.push.evaluator.evaluate(pdu, event_id)
    assert rule_ids(found) == {str(CAROL): ".m.rule.invite_for_me"}


async def test_user_rules_and_display_names(stack: Stack) -> None:
    room = await public_room(stack, BOB, CAROL)
    rules = stack.services.push.rules
    rules.put_rule(str(CAROL), "underride", "silence", {"actions": []})
    name = {"conditions": [{"kind": "contains_display_name"}], "actions": ["notify"]}
    rules.put_rule(str(ALICE), "override", "name", name)
    # The display name is the one in the room (the member event), not the profile's.
    joined = {"membership": "join", "displayname": "Alice"}
    await stack.membership.set_member_state(ALICE, room, str(ALICE), joined)
    found = await evaluate(stack, BOB, room, {"msgtype": "m.text", "body": "hello alice!"})
    assert rule_ids(found) == {str(ALICE): "name", str(CAROL): "silence"}
    assert not found[str(CAROL)].notify


async def test_remote_members_are_not_checked(stack: Stack) -> None:
    room = await public_room(stack, BOB)
    evaluator = stack.services.push.evaluator
    pdu = {"type": "m.room.message", "room_id": str(room), "sender": REMOTE, "content": {}}
    assert sorted(evaluator.recipients(pdu, "$x")) == sorted([str(ALICE), str(BOB)])
