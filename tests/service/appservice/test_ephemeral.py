"""MSC2409 (spec v1.13 "Pushing ephemeral data") and MSC4203: typing, receipts,
presence and to-device messages reach an application service (a real HTTP service on
loopback) that asked for them, only for rooms and users in its namespaces, and none
reach a service that did not ask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.admin.kit import command
from tests.kit.appservice import AS_TOKEN, FakeAppservice
from tests.kit.homeserver import Homeserver
from tests.service.appservice.kit import register_user, send, started, until

BOB = "@_fake_bob:test.example"


async def register(hs: Homeserver, admin: str, appservice: FakeAppservice, extra: str) -> None:
    yaml = appservice.registration_yaml(extra=extra)
    reply = await command(hs, admin, f"!admin appservices register\n```yaml\n{yaml}```")
    assert reply["body"] == "Registered appservice fake."


async def ok(hs: Homeserver, method: str, path: str, body: Any, token: str) -> None:
    """A request that must succeed; as the service acting as bob with its token."""
    params = {"user_id": BOB} if token == AS_TOKEN else None
    status, reply = await hs.request(method, path, body, token=token, params=params)
    assert status == 200, reply


async def setup(
    hs: Homeserver, appservice: FakeAppservice, extra: str
) -> tuple[str, str, str, str, str]:
    """(alice, her token, the shared room, bob's device, a room without the service)."""
    alice = (await hs.register("alice"))["user_id"]
    token = hs.tokens[alice]
    await register(hs, alice, appservice, extra)
    device = (await register_user(hs, "_fake_bob"))["device_id"]
    status, shared = await hs.request("POST", "/createRoom", {"preset": "public_chat"}, token=token)
    assert status == 200, shared
    await ok(hs, "POST", f"/rooms/{shared['room_id']}/join", {}, AS_TOKEN)
    status, alone = await hs.request("POST", "/createRoom", {}, token=token)
    assert status == 200, alone
    return alice, token, shared["room_id"], device, alone["room_id"]


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


async def test_typing_receipts_presence_and_to_device_reach_the_service(
    tmp_path: Path, appservice: FakeAppservice
) -> None:
    hs = await started(tmp_path / "db")
    try:
        alice, token, room, device, alone = await setup(hs, appservice, "receive_ephemeral: true\n")
        # In the room without namespace members: nothing for the service.
        quiet = await send(hs, alone, "quiet", token)
        await ok(hs, "PUT", f"/rooms/{alone}/typing/{alice}", {"typing": True}, token)
        await ok(hs, "POST", f"/rooms/{alone}/receipt/m.read/{quiet}", {}, token)
        # In the shared room: typing, a public receipt, and a private one of alice
        # (not in the namespace: not sent) and of bob (in it: sent).
        message = await send(hs, room, "hello", token)
        await ok(hs, "PUT", f"/rooms/{room}/typing/{alice}", {"typing": True}, token)
        await ok(hs, "POST", f"/rooms/{room}/receipt/m.read/{message}", {}, token)
        path = f"/rooms/{room}/receipt/m.read.private/{message}"
        await ok(hs, "POST", path, {}, token)
        await ok(hs, "POST", path, {}, AS_TOKEN)
        # Presence of alice, who shares a room the service is interested in.
        await ok(
            hs,
            "PUT",
            f"/presence/{alice}/status",
            {"presence": "online", "status_msg": "hi"},
            token,
        )
        # A to-device message for bob's device (and one for alice's: not sent).
        await ok(
            hs,
            "PUT",
            "/sendToDevice/m.test/t1",
            {"messages": {BOB: {device: {"n": 1}}, alice: {"*": {"n": 2}}}},
            token,
        )
        await until(lambda: appservice.ephemeral("de.sorunome.msc2409.to_device"), "to-device")
        await until(lambda: of_type(appservice.ephemeral(), "m.presence"), "presence")

        ephemeral = appservice.ephemeral()
        typing = of_type(ephemeral, "m.typing")
        assert typing == [{"type": "m.typing", "room_id": room, "content": {"user_ids": [alice]}}]
        receipts = of_type(ephemeral, "m.receipt")
        assert [r["room_id"] for r in receipts] == [room, room]
        public, private = receipts
        assert set(public["content"][message]["m.read"]) == {alice}
        assert isinstance(public["content"][message]["m.read"][alice]["ts"], int)
        assert set(private["content"][message]) == {"m.read.private"}
        assert set(private["content"][message]["m.read.private"]) == {BOB}
        presence = of_type(ephemeral, "m.presence")
        assert [p["sender"] for p in presence] == [alice]
        assert presence[0]["content"]["presence"] == "online"
        assert presence[0]["content"]["status_msg"] == "hi"
        assert all(e.get("room_id") != alone for e in ephemeral)
        to_device = appservice.ephemeral("de.sorunome.msc2409.to_device")
        assert to_device == [
            {
                "type": "m.test",
                "sender": alice,
                "content": {"n": 1},
                "to_user_id": BOB,
                "to_device_id": device,
            }
        ]
        # The stable registration key: nothing under the unstable ephemeral key.
        assert appservice.ephemeral("de.sorunome.msc2409.ephemeral") == []
        assert quiet not in appservice.event_ids() and message in appservice.event_ids()
        assert hs.services.appservice_sender.pending("fake") == 0
    finally:
        await hs.close()


async def test_the_unstable_registration_key_gets_the_unstable_transaction_key(
    tmp_path: Path, appservice: FakeAppservice
) -> None:
    hs = await started(tmp_path / "db")
    try:
        extra = "de.sorunome.msc2409.push_ephemeral: true\n"
        alice, token, room, _, _ = await setup(hs, appservice, extra)
        await ok(hs, "PUT", f"/rooms/{room}/typing/{alice}", {"typing": True}, token)
        await until(lambda: appservice.ephemeral("de.sorunome.msc2409.ephemeral"), "typing")
        typing = appservice.ephemeral("de.sorunome.msc2409.ephemeral")
        assert typing[0]["type"] == "m.typing" and typing[0]["room_id"] == room
        assert appservice.ephemeral() == []
    finally:
        await hs.close()


async def test_a_service_without_receive_ephemeral_gets_events_only(
    tmp_path: Path, appservice: FakeAppservice
) -> None:
    hs = await started(tmp_path / "db")
    try:
        alice, token, room, device, _ = await setup(hs, appservice, "")
        first = await send(hs, room, "one", token)
        for path, body in (
            (f"/rooms/{room}/typing/{alice}", {"typing": True}),
            ("/sendToDevice/m.test/t1", {"messages": {BOB: {device: {"n": 1}}}}),
            (f"/presence/{alice}/status", {"presence": "online"}),
        ):
            await ok(hs, "PUT", path, body, token)
        await ok(hs, "POST", f"/rooms/{room}/receipt/m.read/{first}", {}, token)
        # The queue is ordered: once a later event arrived, anything queued before has.
        last = await send(hs, room, "two", token)
        await until(lambda: last in appservice.event_ids(), "the last message")
        assert first in appservice.event_ids()
        assert all(set(body) == {"events"} for body in appservice.bodies)
    finally:
        await hs.close()


async def test_typing_timeout_reaches_the_service(
    tmp_path: Path, appservice: FakeAppservice
) -> None:
    """A typing notification that times out is told to the service as a stop (the
    room's typing users without the user), with no client reading the room."""
    hs = await started(tmp_path / "db")
    try:
        alice, token, room, _, _ = await setup(hs, appservice, "receive_ephemeral: true\n")
        path = f"/rooms/{room}/typing/{alice}"
        await ok(hs, "PUT", path, {"typing": True, "timeout": 20_000}, token)
        bob_typing = {"typing": True, "timeout": 40_000}
        await ok(hs, "PUT", f"/rooms/{room}/typing/{BOB}", bob_typing, AS_TOKEN)
        await until(lambda: len(of_type(appservice.ephemeral(), "m.typing")) == 2, "typing")
        typing = hs.services.rooms.typing
        due = typing.next_expiry()
        assert due is not None
        hs.clock.advance(due - hs.clock())
        typing.expire_due()
        await until(lambda: len(of_type(appservice.ephemeral(), "m.typing")) == 3, "timeout")
        hs.clock.advance(45_000)
        typing.expire_due()
        await until(lambda: len(of_type(appservice.ephemeral(), "m.typing")) == 4, "timeout")
        lists = [e["content"]["user_ids"] for e in of_type(appservice.ephemeral(), "m.typing")]
        assert lists == [[alice], sorted([alice, BOB]), [BOB], []]
        # Told once: a later sweep or reader finds nothing more.
        typing.expire_due()
        assert typing.typing_users(room) == []
        assert hs.services.appservice_sender.pending("fake") == 0
        assert len(of_type(appservice.ephemeral(), "m.typing")) == 4
    finally:
        await hs.close()
