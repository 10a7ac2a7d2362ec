"""Transactions pushed to us (PUT /send/{txnId}): PDUs through the one receive
path with per-PDU results, gaps filled from the origin, deduplication, limits,
and EDUs only from the server of the user they speak for."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from conduwuit.core.ids import UserId
from tests.http.federation.test_room_reads import room_with, send
from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.kit.remote import RemoteServer, federating_homeserver, remote_server, write_ca

SEND = "/_matrix/federation/v1/send"


def message(hs: Homeserver, remote: RemoteServer, room_id: str, body: str, **kw: Any) -> Any:
    sender = kw.pop("sender", remote.user("bob"))
    return remote.event(
        hs, room_id, "m.room.message", sender, {"msgtype": "m.text", "body": body}, **kw
    )


def event_id(hs: Homeserver, remote: RemoteServer, room_id: str, pdu: dict[str, Any]) -> str:
    rv = hs.services.rooms.storage.state.room_version(room_id)
    assert rv is not None
    return remote.event_id(pdu, rv)


def stored(hs: Homeserver, event: str) -> bool:
    return hs.services.rooms.storage.timeline.exists(event)


async def transaction(
    hs: Homeserver, remote: RemoteServer, txn: str, pdus: list[Any], edus: list[Any] | None = None
) -> tuple[int, Any]:
    body = {
        "origin": remote.server_name,
        "origin_server_ts": hs.clock(),
        "pdus": pdus,
        "edus": edus or [],
    }
    return await remote.request(hs, "PUT", f"{SEND}/{txn}", body)


async def test_pdus_are_taken_in_once(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    pdu = message(fed_hs, remote, room_id, "hello from afar")
    eid = event_id(fed_hs, remote, room_id, pdu)
    status, answer = await transaction(fed_hs, remote, "t1", [pdu])
    assert (status, answer) == (200, {"pdus": {eid: {}}})
    status, synced = await fed_hs.request("GET", "/sync", token=token)
    timeline = synced["rooms"]["join"][room_id]["timeline"]["events"]
    assert timeline[-1]["event_id"] == eid
    assert timeline[-1]["content"]["body"] == "hello from afar"

    # The same transaction ID again: the first answer, the new content ignored.
    other = message(fed_hs, remote, room_id, "second")
    status, again = await transaction(fed_hs, remote, "t1", [other])
    assert (status, again) == (200, answer)
    assert not stored(fed_hs, event_id(fed_hs, remote, room_id, other))


async def test_refused_pdus_get_errors_and_are_not_stored(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    foreign = message(fed_hs, remote, room_id, "not mine", sender=other.user("eve"))
    tampered = copy.deepcopy(message(fed_hs, remote, room_id, "tampered"))
    tampered["signatures"][remote.server_name] = {
        k: "A" * 86 for k in tampered["signatures"][remote.server_name]
    }
    stranger = message(fed_hs, remote, room_id, "not joined", sender=remote.user("carol"))
    unknown = {**message(fed_hs, remote, room_id, "x"), "room_id": "!unknown:test.example"}
    pdus = [foreign, tampered, stranger, unknown]
    status, answer = await transaction(fed_hs, remote, "t2", pdus)
    assert status == 200, answer
    errors = answer["pdus"]
    ids = [event_id(fed_hs, remote, room_id, p) for p in (foreign, tampered, stranger)]
    # Another server's user's event, not signed by that server (a relay must carry
    # the sender's server's signature).
    assert "Signatures" in errors[ids[0]]["error"]
    assert "Signatures" in errors[ids[1]]["error"]
    assert errors[ids[2]] == {}  # rejected: handled (as Synapse answers)
    assert "Unknown room" in errors["#3"]["error"]
    # Only the event the auth rules refused is kept (as rejected, never served).
    assert [stored(fed_hs, i) for i in ids] == [False, False, True]
    timeline = fed_hs.services.rooms.storage.timeline
    assert timeline.is_rejected(ids[2]) and timeline.get_timeline(ids[2]) is None
    status, _ = await fed_hs.request("GET", f"/rooms/{room_id}/event/{ids[2]}", token=token)
    assert status == 404
    status, _ = await remote.request(fed_hs, "GET", f"/_matrix/federation/v1/event/{ids[2]}")
    assert status == 404

    # (A relay signed by the sender's own server is taken:
    # test_a_pdu_relayed_for_another_servers_user.)

    # The ACL: a denied origin's PDUs are refused.
    status, _ = await fed_hs.request(
        "PUT",
        f"/rooms/{room_id}/state/m.room.server_acl/",
        {"allow": ["*"], "deny": [remote.host]},
        token=token,
    )
    assert status == 200
    late = message(fed_hs, remote, room_id, "denied")
    status, answer = await transaction(fed_hs, remote, "t3", [late])
    late_id = event_id(fed_hs, remote, room_id, late)
    assert "ACL" in answer["pdus"][late_id]["error"]
    assert not stored(fed_hs, late_id)


async def test_oversized_and_malformed_transactions_are_refused(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, _ = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    pdus = [message(fed_hs, remote, room_id, f"m{i}") for i in range(51)]
    status, answer = await transaction(fed_hs, remote, "big", pdus)
    assert (status, answer["errcode"]) == (400, "M_BAD_JSON")
    status, answer = await transaction(fed_hs, remote, "edus", [], [{}] * 101)
    assert (status, answer["errcode"]) == (400, "M_BAD_JSON")
    assert not any(stored(fed_hs, event_id(fed_hs, remote, room_id, p)) for p in pdus)
    status, answer = await remote.request(fed_hs, "PUT", f"{SEND}/bad", {"pdus": {}})
    assert (status, answer["errcode"]) == (400, "M_BAD_JSON")
    status, answer = await remote.request(
        fed_hs, "PUT", f"{SEND}/bad", {"origin": "elsewhere.example", "pdus": []}
    )
    assert (status, answer["errcode"]) == (400, "M_BAD_JSON")
    # A refused transaction is not remembered: the ID can be used properly.
    status, answer = await transaction(fed_hs, remote, "big", pdus[:1])
    assert status == 200 and answer["pdus"] == {event_id(fed_hs, remote, room_id, pdus[0]): {}}


async def test_a_gap_is_filled_from_the_origin(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, _ = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    first = message(fed_hs, remote, room_id, "first")
    first_id = event_id(fed_hs, remote, room_id, first)
    second = message(
        fed_hs, remote, room_id, "second", prev_events=[first_id], depth=first["depth"] + 1
    )
    asked: list[Any] = []

    async def missing(request: web.Request) -> web.Response:
        asked.append(await request.json())
        return web.json_response({"events": [first]})

    remote.routes[("POST", "/_matrix/federation/v1/get_missing_events/")] = missing
    second_id = event_id(fed_hs, remote, room_id, second)
    status, answer = await transaction(fed_hs, remote, "gap", [second])
    assert (status, answer) == (200, {"pdus": {second_id: {}}})
    assert asked and asked[0]["latest_events"] == [second_id]
    assert stored(fed_hs, first_id) and stored(fed_hs, second_id)

    # A gap the origin cannot fill: an error for that PDU, nothing stored.
    remote.routes.clear()
    orphan = message(fed_hs, remote, room_id, "orphan", prev_events=["$unknown"])
    status, answer = await transaction(fed_hs, remote, "gap2", [orphan])
    orphan_id = event_id(fed_hs, remote, room_id, orphan)
    assert "Missing events" in answer["pdus"][orphan_id]["error"]
    assert not stored(fed_hs, orphan_id)


async def _oversized_prev(
    hs: Homeserver, remote: RemoteServer, room_version: str
) -> tuple[str, str, str, Any]:
    """A room of ``room_version``; a state event of bob whose state key is 280 bytes
    but 70 codepoints, given only by ``/get_missing_events`` as the prev event of a
    message pushed in a transaction (Complement's
    TestOutboundFederationEventSizeGetMissingEvents). (room, bad ID, good ID, answer)"""
    room_id, token = await room_with(hs, room_version=room_version)
    await remote.join(hs, room_id, "bob")
    bad = remote.event(
        hs, room_id, "my.room.breaker", remote.user("bob"), {}, state_key="\U0001f4a5" * 70
    )
    bad_id = event_id(hs, remote, room_id, bad)
    good = message(hs, remote, room_id, "after", prev_events=[bad_id], depth=bad["depth"] + 1)

    async def missing(request: web.Request) -> web.Response:
        return web.json_response({"events": [bad]})

    remote.routes[("POST", "/_matrix/federation/v1/get_missing_events/")] = missing
    status, answer = await transaction(hs, remote, f"size{room_version}", [good])
    assert status == 200, answer
    return room_id, bad_id, event_id(hs, remote, room_id, good), (token, answer["pdus"])


async def test_key_over_255_bytes_is_kept_rejected_before_v11(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    """v10: the spec's 255 bytes wins (the event is not accepted), but it is kept as
    rejected as Synapse keeps it, so the message citing it is accepted and synced."""
    room_id, bad_id, good_id, (token, errors) = await _oversized_prev(fed_hs, remote, "10")
    assert errors == {good_id: {}}
    timeline = fed_hs.services.rooms.storage.timeline
    assert timeline.is_rejected(bad_id) and "too large" in (timeline.rejection(bad_id) or "")
    assert not timeline.is_rejected(good_id)
    status, synced = await fed_hs.request("GET", "/sync", token=token)
    events = synced["rooms"]["join"][room_id]["timeline"]["events"]
    ids = [e["event_id"] for e in events]
    assert good_id in ids and bad_id not in ids
    status, state = await fed_hs.request("GET", f"/rooms/{room_id}/state", token=token)
    assert status == 200 and not any(e["type"] == "my.room.breaker" for e in state)


async def test_key_over_255_bytes_is_refused_from_v11(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    """v11: strict byte limits, the event is malformed and not kept; the message
    citing it cannot be placed and is refused."""
    _, bad_id, good_id, (_, errors) = await _oversized_prev(fed_hs, remote, "11")
    assert "Missing events" in errors[good_id]["error"]
    assert not stored(fed_hs, bad_id) and not stored(fed_hs, good_id)


async def test_edus_only_for_the_origins_own_users(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    last = await send(fed_hs, room_id, token, "read me")
    bob = remote.user("bob")
    edus = [
        {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": bob, "typing": True}},
        # Not the origin's user: ignored.
        {
            "edu_type": "m.typing",
            "content": {"room_id": room_id, "user_id": "@alice:test.example", "typing": True},
        },
        {
            "edu_type": "m.receipt",
            "content": {room_id: {"m.read": {bob: {"event_ids": [last], "data": {"ts": 1}}}}},
        },
        {"edu_type": "m.presence", "content": {"push": [{"user_id": bob, "presence": "online"}]}},
        {"edu_type": "m.unknown", "content": {}},
        "not an edu",
    ]
    status, answer = await transaction(fed_hs, remote, "edus", [], edus)
    assert (status, answer) == (200, {"pdus": {}})
    rooms = fed_hs.services.rooms
    assert rooms.typing.typing_users(room_id) == [bob]
    status, synced = await fed_hs.request("GET", "/sync", token=token)
    ephemeral = synced["rooms"]["join"][room_id]["ephemeral"]["events"]
    receipts = [e for e in ephemeral if e["type"] == "m.receipt"]
    assert receipts and bob in receipts[0]["content"][last]["m.read"]
    assert rooms.presence.current(bob) == "online"


async def test_a_receipt_on_an_event_we_do_not_hold_is_kept_with_its_time(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    """The spec asks no check of the receipt's event and Synapse keeps such receipts
    (Complement CanReceiveReceiptDuringPartialStateJoin): stored as sent, with the
    sender's ``ts``; one on an event of another room of ours is still dropped."""
    room_id, token = await room_with(fed_hs)
    other_room, _ = await room_with(fed_hs)
    elsewhere = await send(fed_hs, other_room, token, "elsewhere")
    await remote.join(fed_hs, room_id, "bob")
    bob = remote.user("bob")
    receipt = {"event_ids": ["$not-here-yet"], "data": {"ts": 1436451550453}}
    edus = [{"edu_type": "m.receipt", "content": {room_id: {"m.read": {bob: receipt}}}}]
    status, _ = await transaction(fed_hs, remote, "unknown-target", [], edus)
    assert status == 200
    status, synced = await fed_hs.request("GET", "/sync", token=token)
    ephemeral = synced["rooms"]["join"][room_id]["ephemeral"]["events"]
    receipts = [e["content"] for e in ephemeral if e["type"] == "m.receipt"]
    assert receipts == [{"$not-here-yet": {"m.read": {bob: {"ts": 1436451550453}}}}]

    wrong = {"event_ids": [elsewhere], "data": {"ts": 5}}
    edus = [{"edu_type": "m.receipt", "content": {room_id: {"m.read": {bob: wrong}}}}]
    status, _ = await transaction(fed_hs, remote, "wrong-room", [], edus)
    assert status == 200
    latest = fed_hs.services.rooms.receipts.latest(UserId.parse(bob), room_id, "m.read")
    assert latest is not None and latest[1]["event_id"] == "$not-here-yet"


async def test_incoming_edus_can_be_turned_off(
    start: StartHomeserver, ca: trustme.CA, tmp_path: Path
) -> None:
    hs = await federating_homeserver(
        start,
        write_ca(ca, tmp_path),
        allow_incoming_typing=False,
        allow_incoming_read_receipts=False,
        allow_incoming_presence=False,
    )
    async with remote_server(ca, 4, hs.clock) as remote:
        room_id, token = await room_with(hs)
        await remote.join(hs, room_id, "bob")
        last = await send(hs, room_id, token, "read me")
        bob = remote.user("bob")
        edus = [
            {
                "edu_type": "m.typing",
                "content": {"room_id": room_id, "user_id": bob, "typing": True},
            },
            {
                "edu_type": "m.receipt",
                "content": {room_id: {"m.read": {bob: {"event_ids": [last], "data": {}}}}},
            },
            {
                "edu_type": "m.presence",
                "content": {"push": [{"user_id": bob, "presence": "online"}]},
            },
        ]
        status, _ = await transaction(hs, remote, "edus", [], edus)
        assert status == 200
        assert hs.services.rooms.typing.typing_users(room_id) == []
        assert hs.services.rooms.receipts.latest(UserId.parse(bob), room_id, "m.read") is None
        assert hs.services.rooms.presence.current(bob) is None


async def test_to_device_messages_of_the_origins_users_reach_our_devices(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    carol = await fed_hs.register("carol")
    bob = remote.user("bob")

    def edu(sender: str, message_id: str, body: str) -> dict[str, Any]:
        return {
            "edu_type": "m.direct_to_device",
            "content": {
                "sender": sender,
                "type": "m.test",
                "message_id": message_id,
                "messages": {carol["user_id"]: {"*": {"body": body}}},
            },
        }

    edus = [edu(bob, "m1", "hi"), edu("@mallory:elsewhere.example", "m2", "forged")]
    status, _ = await transaction(fed_hs, remote, "td1", [], edus)
    assert status == 200
    # The same message ID in another transaction: delivered once.
    status, _ = await transaction(fed_hs, remote, "td2", [], [edu(bob, "m1", "hi")])
    assert status == 200
    status, synced = await fed_hs.request("GET", "/sync", token=carol["access_token"])
    events = synced["to_device"]["events"]
    assert events == [{"type": "m.test", "sender": bob, "content": {"body": "hi"}}]


async def test_events_authorised_by_a_rejected_event_are_rejected(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    """Complement's TestInboundFederationRejectsEventsWithRejectedAuthEvents: an
    unknown auth event is fetched with /event and, authorised by a rejected event,
    rejected; so is the event citing it, and an event after them is accepted."""
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    bob = remote.user("bob")
    storage = fed_hs.services.rooms.storage
    current = storage.state.current_hash(room_id)

    def at(event_type: str, state_key: str = "") -> str:
        found = storage.state.event_id_at(current, event_type, state_key)
        assert found is not None
        return found

    # Bob (power 0) may not change the power levels: rejected.
    rejected = remote.event(
        fed_hs, room_id, "m.room.power_levels", bob, {"users": {}}, state_key=""
    )
    rejected_id = event_id(fed_hs, remote, room_id, rejected)
    status, answer = await transaction(fed_hs, remote, "r", [rejected])
    assert answer["pdus"][rejected_id] == {}
    assert storage.timeline.is_rejected(rejected_id)
    # An event the rejected one authorises, which the server must fetch.
    outlier = remote.event(
        fed_hs,
        room_id,
        "m.room.member",
        bob,
        {"membership": "join", "test": 1},
        state_key=bob,
        auth_events=[
            at("m.room.create"),
            at("m.room.join_rules"),
            rejected_id,
            at("m.room.member", bob),
        ],
    )
    outlier_id = event_id(fed_hs, remote, room_id, outlier)
    fetched: list[str] = []

    async def serve_event(request: web.Request) -> web.Response:
        fetched.append(request.path)
        if outlier_id in request.path:
            return web.json_response({"origin": remote.server_name, "pdus": [outlier]})
        return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)

    remote.routes[("GET", "/_matrix/federation/v1/event/")] = serve_event
    normal = remote.event(fed_hs, room_id, "m.room.message", bob, {"body": "x"})
    cites = remote.event(
        fed_hs,
        room_id,
        "m.room.message",
        bob,
        {"body": "cites"},
        auth_events=[*normal["auth_events"], outlier_id],
    )
    cites_id = event_id(fed_hs, remote, room_id, cites)
    sentinel = remote.event(
        fed_hs,
        room_id,
        "m.room.message",
        bob,
        {"body": "sentinel"},
        prev_events=[cites_id],
        depth=cites["depth"] + 1,
    )
    sentinel_id = event_id(fed_hs, remote, room_id, sentinel)
    status, answer = await transaction(fed_hs, remote, "s", [cites, sentinel])
    assert status == 200, answer
    assert fetched, "the unknown auth event was not fetched"
    assert answer["pdus"][cites_id] == {}
    assert "was rejected" in (storage.timeline.rejection(cites_id) or "")
    assert answer["pdus"][sentinel_id] == {}
    for hidden in (rejected_id, outlier_id, cites_id):
        assert storage.timeline.is_rejected(hidden)
        status, _ = await fed_hs.request("GET", f"/rooms/{room_id}/event/{hidden}", token=token)
        assert status == 404
    status, _ = await fed_hs.request("GET", f"/rooms/{room_id}/event/{sentinel_id}", token=token)
    assert status == 200
    # Walking back from the sentinel passes over the rejected event.
    path = f"/_matrix/federation/v1/backfill/{room_id}?v={sentinel_id}&limit=5"
    status, answer = await remote.request(fed_hs, "GET", path)
    assert status == 200, answer
    served = [event_id(fed_hs, remote, room_id, p) for p in answer["pdus"]]
    assert sentinel_id in served and cites_id not in served


def serve_gap(
    remote: RemoteServer,
    gme_events: list[dict[str, Any]],
    state_ids: dict[str, Any],
    events: dict[str, dict[str, Any]],
) -> dict[str, list[str]]:
    """The origin's side of a gap: ``/get_missing_events`` gives ``gme_events``,
    ``/state_ids`` gives ``state_ids``, ``/event`` the ``events`` it has (404 for the
    rest). Returns what was asked of each, as it is asked."""
    asked: dict[str, list[str]] = {"gme": [], "state_ids": [], "event": []}

    async def missing(request: web.Request) -> web.Response:
        asked["gme"].append((await request.json())["latest_events"][0])
        return web.json_response({"events": gme_events})

    async def state(request: web.Request) -> web.Response:
        asked["state_ids"].append(request.query["event_id"])
        return web.json_response(state_ids)

    async def event(request: web.Request) -> web.Response:
        wanted = request.path.rsplit("/", 1)[1]
        asked["event"].append(wanted)
        if wanted not in events:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        return web.json_response({"origin": remote.server_name, "pdus": [events[wanted]]})

    remote.routes[("POST", "/_matrix/federation/v1/get_missing_events/")] = missing
    remote.routes[("GET", "/_matrix/federation/v1/state_ids/")] = state
    remote.routes[("GET", "/_matrix/federation/v1/event/")] = event
    return asked


async def test_a_gap_too_wide_is_placed_on_the_state_from_state_ids(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    """PDU Z cites Y, which /get_missing_events gives; Y cites X, which it does not:
    the state after X comes from /state_ids at X (plus X from /event), Y and Z are
    placed on it; X stays outside the timeline, a gap before Y that /messages fills
    with /backfill when it crosses it. A pushed PDU whose own prev events
    are withheld is refused (Complement's
    TestOutboundFederationIgnoresMissingEventWithBadJSONForRoomVersion6)."""
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    storage = fed_hs.services.rooms.storage
    x = message(fed_hs, remote, room_id, "X")
    x_id = event_id(fed_hs, remote, room_id, x)
    y = message(fed_hs, remote, room_id, "Y", prev_events=[x_id], depth=x["depth"] + 1)
    y_id = event_id(fed_hs, remote, room_id, y)
    z = message(fed_hs, remote, room_id, "Z", prev_events=[y_id], depth=x["depth"] + 2)
    z_id = event_id(fed_hs, remote, room_id, z)
    current = storage.state.state_ids(storage.state.current_hash(room_id))
    asked = serve_gap(
        remote, [y], {"pdu_ids": list(current.values()), "auth_chain_ids": []}, {x_id: x}
    )
    status, answer = await transaction(fed_hs, remote, "wide", [z])
    assert (status, answer) == (200, {"pdus": {z_id: {}}})
    assert asked == {"gme": [z_id], "state_ids": [x_id], "event": [x_id]}
    timeline = storage.timeline
    assert timeline.get_timeline(y_id) and timeline.get_timeline(z_id)
    assert timeline.exists(x_id) and timeline.get_timeline(x_id) is None
    status, synced = await fed_hs.request("GET", "/sync", token=token)
    bodies = [
        e["content"].get("body") for e in synced["rooms"]["join"][room_id]["timeline"]["events"]
    ]
    assert bodies[-2:] == ["Y", "Z"]

    # X is missing before Y, a gap: paginating back across it fetches X with
    # /backfill from the gap's missing event and places it between Y and the event
    # before it.
    assert timeline.gaps.missing(timeline.pdu_id(y_id) or b"") == [x_id]
    backfilled: list[str] = []

    async def backfill(request: web.Request) -> web.Response:
        backfilled.extend(request.query.getall("v"))
        return web.json_response({"origin": remote.server_name, "pdus": [x, y]})

    remote.routes[("GET", "/_matrix/federation/v1/backfill/")] = backfill
    status, page = await fed_hs.request(
        "GET", f"/rooms/{room_id}/messages?dir=b&limit=4", token=token
    )
    assert status == 200, page
    assert [e["content"].get("body") for e in page["chunk"]][:3] == ["Z", "Y", "X"]
    assert backfilled == [x_id]
    assert timeline.get_timeline(x_id) is not None
    assert not timeline.gaps.is_gap(timeline.pdu_id(y_id) or b"")

    # A PDU of the transaction itself whose gap does not close is refused: the state
    # of an event pushed to us is never taken from its origin.
    pushed = message(fed_hs, remote, room_id, "W", prev_events=["$withheld"])
    pushed_id = event_id(fed_hs, remote, room_id, pushed)
    status, answer = await transaction(fed_hs, remote, "withheld", [pushed])
    assert "Missing events" in answer["pdus"][pushed_id]["error"]
    assert asked["state_ids"] == [x_id] and not stored(fed_hs, pushed_id)


async def test_state_from_state_ids_leaves_out_events_whose_auth_chain_breaks(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    """Complement's TestCorruptedAuthChain in small: /state_ids names Bob's member
    events A <- B <- C (each authorising the next) with C in the state; B cannot be
    had, so C is not taken (nor X, which C authorises), and Bob's membership stays
    what it was — while A, whose auth events are known, is kept as an outlier."""
    room_id, _ = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    bob = remote.user("bob")
    storage = fed_hs.services.rooms.storage
    current = storage.state.state_ids(storage.state.current_hash(room_id))
    base = [current[("m.room.create", "")], current[("m.room.power_levels", "")]]
    base.append(current[("m.room.join_rules", "")])
    chain: list[dict[str, Any]] = []
    previous = current[("m.room.member", bob)]
    for name in "ABC":
        member = remote.event(
            fed_hs,
            room_id,
            "m.room.member",
            bob,
            {"membership": "join", "displayname": name},
            state_key=bob,
            auth_events=[*base, previous],
            **({"prev_events": [previous]} if chain else {}),
        )
        chain.append(member)
        previous = event_id(fed_hs, remote, room_id, member)
    a_id, b_id, c_id = (event_id(fed_hs, remote, room_id, e) for e in chain)
    # X (like everything of Bob's after C) is authorised by C: it cannot be taken either.
    x = message(
        fed_hs,
        remote,
        room_id,
        "X",
        prev_events=[c_id],
        depth=chain[-1]["depth"] + 1,
        auth_events=[*base, c_id],
    )
    x_id = event_id(fed_hs, remote, room_id, x)
    y = message(fed_hs, remote, room_id, "Y", prev_events=[x_id], depth=x["depth"] + 1)
    z = message(fed_hs, remote, room_id, "Z", prev_events=[event_id(fed_hs, remote, room_id, y)])
    state_ids = {**current, ("m.room.member", bob): c_id}
    asked = serve_gap(
        remote,
        [y],
        {"pdu_ids": list(state_ids.values()), "auth_chain_ids": [a_id, b_id, c_id]},
        {a_id: chain[0], c_id: chain[2], x_id: x},
    )
    status, answer = await transaction(fed_hs, remote, "corrupt", [z])
    z_id = event_id(fed_hs, remote, room_id, z)
    # Z is handled: kept as rejected (placed after Y, which Bob could not send on the
    # state without his membership), so the answer has no error, as in Synapse.
    assert (status, answer) == (200, {"pdus": {z_id: {}}})
    assert asked["state_ids"] == [x_id] and b_id in asked["event"]
    timeline = storage.timeline
    assert timeline.exists(a_id) and not timeline.exists(b_id) and not timeline.exists(c_id)
    assert not timeline.exists(x_id)
    y_id = event_id(fed_hs, remote, room_id, y)
    assert timeline.is_rejected(y_id) and timeline.is_rejected(z_id)
    member = storage.state.pdu_at(storage.state.current_hash(room_id), "m.room.member", bob)
    assert member is not None and "displayname" not in member["content"]


async def test_a_senders_unsigned_never_reaches_our_clients(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    """Nothing signs ``unsigned``: a remote's claims there (a local echo's
    transaction ID, a redaction, replaced state) are dropped on receipt."""
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    pdu = message(fed_hs, remote, room_id, "look")
    forged = {
        "transaction_id": "m123",
        "redacted_because": {"type": "m.room.redaction"},
        "prev_sender": "@eve:e",
        "m.relations": {"m.thread": {"count": 9}},
    }
    pdu["unsigned"] = forged
    eid = event_id(fed_hs, remote, room_id, pdu)
    status, answer = await transaction(fed_hs, remote, "t-unsigned", [pdu])
    assert (status, answer) == (200, {"pdus": {eid: {}}})
    status, synced = await fed_hs.request("GET", "/sync", token=token)
    served = synced["rooms"]["join"][room_id]["timeline"]["events"][-1]
    assert served["event_id"] == eid
    assert not set(forged) & set(served["unsigned"])
    status, event = await fed_hs.request("GET", f"/rooms/{room_id}/event/{eid}", token=token)
    assert status == 200 and not set(forged) & set(event["unsigned"])
    stored_pdu = fed_hs.services.rooms.storage.timeline.get(eid)
    assert stored_pdu is not None and "unsigned" not in stored_pdu


async def test_a_pdu_relayed_for_another_servers_user(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    """A resident passes on the member events other servers sent it (send_join...):
    taken when signed by the sender's server, refused when the ACL denies it."""
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    await other.join(fed_hs, room_id, "eve")
    relayed = message(fed_hs, other, room_id, "via bob's server", sender=other.user("eve"))
    relayed_id = event_id(fed_hs, other, room_id, relayed)
    status, answer = await transaction(fed_hs, remote, "r1", [relayed])
    assert (status, answer) == (200, {"pdus": {relayed_id: {}}})
    assert stored(fed_hs, relayed_id)

    status, _ = await fed_hs.request(
        "PUT",
        f"/rooms/{room_id}/state/m.room.server_acl/",
        {"allow": ["*"], "deny": [other.host]},
        token=token,
    )
    assert status == 200
    denied = message(fed_hs, other, room_id, "denied", sender=other.user("eve"))
    denied_id = event_id(fed_hs, other, room_id, denied)
    status, answer = await transaction(fed_hs, remote, "r2", [denied])
    assert "ACL" in answer["pdus"][denied_id]["error"]
    assert not stored(fed_hs, denied_id)
