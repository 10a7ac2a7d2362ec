"""Request bodies go through one strict JSON parser (api/wire.py): NaN/Infinity,
lone surrogates, undecodable bytes and deep nesting are Matrix errors on every
endpoint, authenticated or not, and bodies that become event content must be
canonical JSON. Every refusal is checked to have changed nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.kit.homeserver import Homeserver

ALICE = "@alice:test.example"

NAN_BODIES = {
    "nan": b'{"body": NaN, "msgtype": "m.text", "displayname": NaN}',
    "infinity": b'{"body": Infinity, "displayname": Infinity}',
    "minus_infinity": b'{"body": -Infinity, "displayname": -Infinity}',
    "nan_in_list": b'{"body": "x", "displayname": "x", "list": [1, NaN]}',
    "lone_surrogate": b'{"body": "\\ud800", "displayname": "\\udfff"}',
    "lone_surrogate_key": b'{"\\ud83d": "x", "body": "x", "displayname": "x"}',
    "deep_200": b'{"body": "x", "displayname": "x", "deep": ' + b"[" * 200 + b"]" * 200 + b"}",
    "deep_100000": b'{"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep_unclosed": b'{"deep": ' + b'{"a":' * 50_000,
}
NOT_CANONICAL_BODIES = {
    "float": b'{"body": 1.5, "msgtype": "m.text", "displayname": "x", "f": 0.5}',
    "exponent": b'{"body": "x", "displayname": "x", "f": 1e3}',
    "int_too_big": b'{"body": "x", "displayname": "x", "n": 9007199254740992}',
    "int_too_small": b'{"body": "x", "displayname": "x", "n": -9007199254740992}',
    "nested_float": b'{"body": "x", "displayname": "x", "a": {"b": [0.1]}}',
}
NOT_UTF8_BODIES = {
    "latin1": b'{"body": "caf\xe9", "displayname": "x"}',
    "truncated_utf8": b'{"body": "\xe2\x82", "displayname": "x"}',
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    #: Whether the body becomes (part of) an event: then it must be canonical JSON.
    content: bool
    authenticated: bool = True


ENDPOINTS = {
    "send": Endpoint("PUT", "/rooms/{room}/send/m.room.message/t1", True),
    "state": Endpoint("PUT", "/rooms/{room}/state/m.room.topic/", True),
    "state_key": Endpoint("PUT", "/rooms/{room}/state/org.example.x/k", True),
    "profile": Endpoint("PUT", f"/profile/{ALICE}/displayname", True),
    "profile_custom": Endpoint("PUT", f"/profile/{ALICE}/org.example.field", True),
    "account_data": Endpoint("PUT", f"/user/{ALICE}/account_data/org.example.a", True),
    "room_account_data": Endpoint(
        "PUT", f"/user/{ALICE}/rooms/{{room}}/account_data/org.example.a", True
    ),
    "create_room": Endpoint("POST", "/createRoom", True),
    "leave": Endpoint("POST", "/rooms/{room}/kick", True),
    "login": Endpoint("POST", "/login", False, authenticated=False),
    "register": Endpoint("POST", "/register", False, authenticated=False),
    "refresh": Endpoint("POST", "/refresh", False, authenticated=False),
    "filter": Endpoint("POST", f"/user/{ALICE}/filter", False),
    "keys_upload": Endpoint("POST", "/keys/upload", False),
}


async def _snapshot(hs: Homeserver, token: str, room: str) -> Any:
    """Everything the endpoints above could change, as the client sees it."""
    views = []
    for path in (
        f"/rooms/{room}/state",
        f"/rooms/{room}/messages?dir=b&limit=100",
        f"/profile/{ALICE}",
        f"/user/{ALICE}/account_data/org.example.a",
        f"/user/{ALICE}/rooms/{room}/account_data/org.example.a",
        "/joined_rooms",
        "/devices",
        "/keys/query",
    ):
        if path == "/keys/query":
            views.append(await hs.request("POST", path, {"device_keys": {ALICE: []}}, token=token))
        else:
            views.append(await hs.request("GET", path, token=token))
    return views


async def _setup(hs: Homeserver) -> tuple[str, str]:
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", "/createRoom", {}, token=token)
    assert status == 200, reply
    return token, reply["room_id"]


async def _post_raw(
    hs: Homeserver, endpoint: Endpoint, room: str, token: str, raw: bytes
) -> tuple[int, Any]:
    url = "/_matrix/client/v3" + endpoint.path.format(room=room)
    headers = {"Content-Type": "application/json"}
    if endpoint.authenticated:
        headers["Authorization"] = f"Bearer {token}"
    async with hs.client.request(endpoint.method, url, data=raw, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


@pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=ENDPOINTS.keys())
async def test_bad_json_is_refused_everywhere_and_changes_nothing(
    hs: Homeserver, endpoint: Endpoint
) -> None:
    token, room = await _setup(hs)
    before = await _snapshot(hs, token, room)
    cases: list[tuple[bytes, str]] = [(raw, "M_BAD_JSON") for raw in NAN_BODIES.values()]
    cases += [(raw, "M_NOT_JSON") for raw in NOT_UTF8_BODIES.values()]
    if endpoint.content:
        cases += [(raw, "M_BAD_JSON") for raw in NOT_CANONICAL_BODIES.values()]
    for raw, errcode in cases:
        status, reply = await _post_raw(hs, endpoint, room, token, raw)
        assert (status, reply["errcode"]) == (400, errcode), (raw[:80], reply)
    assert await _snapshot(hs, token, room) == before


async def test_canonical_content_is_still_accepted(hs: Homeserver) -> None:
    token, room = await _setup(hs)
    content = {"body": "é \U0001f600", "msgtype": "m.text", "n": 2**53 - 1, "m": -(2**53) + 1}
    status, reply = await hs.request(
        "PUT", f"/rooms/{room}/send/m.room.message/t2", content, token=token
    )
    assert status == 200, reply
    event_id = reply["event_id"]
    status, event = await hs.request("GET", f"/rooms/{room}/event/{event_id}", token=token)
    assert status == 200
    assert event["content"] == content
    nested: Any = "leaf"
    for _ in range(100):
        nested = [nested]
    status, _ = await hs.request(
        "PUT", f"/user/{ALICE}/account_data/org.example.deep", {"v": nested}, token=token
    )
    assert status == 200
    status, reply = await hs.request(
        "GET", f"/user/{ALICE}/account_data/org.example.deep", token=token
    )
    assert (status, reply) == (200, {"v": nested})


async def test_floats_still_allowed_where_not_content(hs: Homeserver) -> None:
    """Only event content must be canonical: other bodies may carry floats (Synapse
    parses every body the same way), e.g. an unknown field of a filter."""
    token, _ = await _setup(hs)
    status, reply = await hs.request(
        "POST", f"/user/{ALICE}/filter", {"room": {"timeline": {"limit": 5}}, "x": 0.5}, token=token
    )
    assert status == 200, reply
