"""Other servers reading resident rooms: /event, /state, /state_ids, /event_auth,
/backfill, /get_missing_events and /timestamp_to_event, with the server ACL, the
origin's residency and history visibility checked on each."""

from __future__ import annotations

import urllib.parse
from typing import Any

from tests.kit.homeserver import Homeserver
from tests.kit.remote import RemoteServer

V1 = "/_matrix/federation/v1"


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


async def room_with(hs: Homeserver, **create: Any) -> tuple[str, str]:
    """A public room of alice (registered on first use) and her token."""
    token = hs.tokens.get("@alice:test.example")
    if token is None:
        token = (await hs.register("alice"))["access_token"]
    status, answer = await hs.request(
        "POST", "/createRoom", {"preset": "public_chat", **create}, token=token
    )
    assert status == 200, answer
    return answer["room_id"], token


async def send(hs: Homeserver, room_id: str, token: str, body: str) -> str:
    hs.clock.advance(1000)
    status, answer = await hs.request(
        "PUT",
        f"/rooms/{q(room_id)}/send/m.room.message/{body}",
        {"msgtype": "m.text", "body": body},
        token=token,
    )
    assert status == 200, answer
    event_id: str = answer["event_id"]
    return event_id


async def state(hs: Homeserver, room_id: str, token: str, event_type: str, content: Any) -> str:
    status, answer = await hs.request(
        "PUT", f"/rooms/{q(room_id)}/state/{event_type}/", content, token=token
    )
    assert status == 200, answer
    event_id: str = answer["event_id"]
    return event_id


async def test_a_joined_server_reads_events_state_and_auth(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs)
    join = await remote.join(fed_hs, room_id, "bob")
    message = await send(fed_hs, room_id, token, "hello")

    status, answer = await remote.request(fed_hs, "GET", f"{V1}/event/{q(message)}")
    assert status == 200, answer
    [pdu] = answer["pdus"]
    assert answer["origin"] == fed_hs.config.server_name
    assert pdu["content"]["body"] == "hello"
    assert "event_id" not in pdu and "unsigned" not in pdu  # v10: the ID is the hash

    status, ids = await remote.request(
        fed_hs, "GET", f"{V1}/state_ids/{q(room_id)}?event_id={q(message)}"
    )
    assert status == 200, ids
    current = fed_hs.services.rooms.storage.state
    expected = set(current.state_ids(current.current_hash(room_id)).values())
    assert set(ids["pdu_ids"]) == expected and join in expected
    assert ids["auth_chain_ids"] and set(ids["auth_chain_ids"]) <= expected

    status, full = await remote.request(
        fed_hs, "GET", f"{V1}/state/{q(room_id)}?event_id={q(message)}"
    )
    assert status == 200, full
    assert len(full["pdus"]) == len(ids["pdu_ids"])
    assert len(full["auth_chain"]) == len(ids["auth_chain_ids"])

    # The state *before* a state event does not hold that event.
    status, before_join = await remote.request(
        fed_hs, "GET", f"{V1}/state_ids/{q(room_id)}?event_id={q(join)}"
    )
    assert status == 200 and join not in before_join["pdu_ids"]

    status, auth = await remote.request(fed_hs, "GET", f"{V1}/event_auth/{q(room_id)}/{q(join)}")
    assert status == 200, auth
    types = sorted(p["type"] for p in auth["auth_chain"])
    assert "m.room.create" in types and "m.room.join_rules" in types


async def test_backfill_and_missing_events_walk_the_dag(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    messages = [await send(fed_hs, room_id, token, f"m{i}") for i in range(5)]

    status, answer = await remote.request(
        fed_hs, "GET", f"{V1}/backfill/{q(room_id)}?v={q(messages[-1])}&limit=3"
    )
    assert status == 200, answer
    assert [p["content"].get("body") for p in answer["pdus"]] == ["m4", "m3", "m2"]

    status, missing = await remote.request(
        fed_hs,
        "POST",
        f"{V1}/get_missing_events/{q(room_id)}",
        {"earliest_events": [messages[0]], "latest_events": [messages[4]], "limit": 10},
    )
    assert status == 200, missing
    assert [p["content"]["body"] for p in missing["events"]] == ["m1", "m2", "m3"]

    fed_hs.clock.advance(10_000)
    status, found = await remote.request(
        fed_hs, "GET", f"{V1}/timestamp_to_event/{q(room_id)}?ts={fed_hs.clock()}&dir=b"
    )
    assert (status, found["event_id"]) == (200, messages[-1])
    status, found = await remote.request(
        fed_hs, "GET", f"{V1}/timestamp_to_event/{q(room_id)}?ts={fed_hs.clock()}&dir=f"
    )
    assert (status, found["errcode"]) == (404, "M_NOT_FOUND")


async def test_a_server_not_in_the_room_reads_nothing(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    message = await send(fed_hs, room_id, token, "secret")
    for method, uri, body in (
        ("GET", f"{V1}/event/{q(message)}", None),
        ("GET", f"{V1}/state/{q(room_id)}?event_id={q(message)}", None),
        ("GET", f"{V1}/state_ids/{q(room_id)}?event_id={q(message)}", None),
        ("GET", f"{V1}/event_auth/{q(room_id)}/{q(message)}", None),
        ("GET", f"{V1}/backfill/{q(room_id)}?v={q(message)}&limit=5", None),
        (
            "POST",
            f"{V1}/get_missing_events/{q(room_id)}",
            {"earliest_events": [], "latest_events": [message]},
        ),
        ("GET", f"{V1}/timestamp_to_event/{q(room_id)}?ts=0&dir=f", None),
        # An unknown room is one the server is not in.
        ("GET", f"{V1}/state_ids/{q('!nope:test.example')}?event_id={q(message)}", None),
    ):
        status, answer = await other.request(fed_hs, method, uri, body)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), (uri, answer)


async def test_the_server_acl_denies_a_joined_server(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    message = await send(fed_hs, room_id, token, "hi")
    uri = f"{V1}/state_ids/{q(room_id)}?event_id={q(message)}"
    assert (await remote.request(fed_hs, "GET", uri))[0] == 200
    await state(
        fed_hs, room_id, token, "m.room.server_acl", {"allow": ["*"], "deny": [remote.host]}
    )
    for method, path in (("GET", uri), ("GET", f"{V1}/event/{q(message)}")):
        status, answer = await remote.request(fed_hs, method, path)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer


async def test_joined_history_is_redacted_for_servers_not_joined_then(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs)
    await state(
        fed_hs, room_id, token, "m.room.history_visibility", {"history_visibility": "joined"}
    )
    early = await send(fed_hs, room_id, token, "before bob")
    await remote.join(fed_hs, room_id, "bob")
    late = await send(fed_hs, room_id, token, "after bob")

    status, answer = await remote.request(fed_hs, "GET", f"{V1}/event/{q(early)}")
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
    status, answer = await remote.request(fed_hs, "GET", f"{V1}/event/{q(late)}")
    assert status == 200
    status, answer = await remote.request(
        fed_hs, "GET", f"{V1}/backfill/{q(room_id)}?v={q(late)}&limit=4"
    )
    assert status == 200, answer
    contents = [p["content"] for p in answer["pdus"] if p["type"] == "m.room.message"]
    assert contents == [{"msgtype": "m.text", "body": "after bob"}, {}]  # "before bob" redacted


async def test_bad_requests_are_refused(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, room_id, "bob")
    message = await send(fed_hs, room_id, token, "hi")
    for method, uri, body, expected in (
        ("GET", f"{V1}/state_ids/{q(room_id)}", None, (400, "M_MISSING_PARAM")),
        ("GET", f"{V1}/state_ids/{q(room_id)}?event_id=%24nope", None, (404, "M_NOT_FOUND")),
        ("GET", f"{V1}/event/%24nope", None, (404, "M_NOT_FOUND")),
        ("GET", f"{V1}/backfill/{q(room_id)}?limit=5", None, (400, "M_INVALID_PARAM")),
        (
            "GET",
            f"{V1}/backfill/{q(room_id)}?v={q(message)}&limit=x",
            None,
            (400, "M_INVALID_PARAM"),
        ),
        (
            "POST",
            f"{V1}/get_missing_events/{q(room_id)}",
            {"latest_events": "x"},
            (400, "M_BAD_JSON"),
        ),
        ("POST", f"{V1}/get_missing_events/{q(room_id)}", {"limit": -1}, (400, "M_BAD_JSON")),
        ("GET", f"{V1}/timestamp_to_event/{q(room_id)}?ts=1&dir=x", None, (400, "M_INVALID_PARAM")),
        ("GET", f"{V1}/timestamp_to_event/{q(room_id)}?dir=f", None, (400, "M_MISSING_PARAM")),
    ):
        status, answer = await remote.request(fed_hs, method, uri, body)
        assert (status, answer["errcode"]) == expected, (uri, answer)
    # Unsigned: 401.
    status, answer = await fed_hs.request("GET", f"{V1}/event/{q(message)}")
    assert (status, answer["errcode"]) == (401, "M_UNAUTHORIZED")
