"""Application services on the client-server API: as_token authentication and
``user_id`` masquerading, ``m.login.application_service`` on /register and /login,
M_EXCLUSIVE for others in an exclusive namespace (users, aliases), and ``ts``."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.appservice import parse_registration
from tests.kit.homeserver import Homeserver, StartHomeserver

AS_TOKEN = "as-token-1"
SENDER = "@_bridge_bot:test.example"


@pytest.fixture
async def bridged(hs: Homeserver) -> Homeserver:
    await hs.register("alice")  # the first user: admin room and all
    await hs.services.users.appservices.register(
        parse_registration(
            {
                "id": "bridge",
                "url": None,
                "as_token": AS_TOKEN,
                "hs_token": "hs-token-1",
                "sender_localpart": "_bridge_bot",
                "namespaces": {
                    "users": [
                        {"exclusive": True, "regex": "@_bridge_.*:test\\.example"},
                        {"exclusive": False, "regex": "@shared_.*:test\\.example"},
                    ],
                    "aliases": [{"exclusive": True, "regex": "#_bridge_.*"}],
                },
            }
        )
    )
    return hs


async def as_register(
    hs: Homeserver, username: str, token: str | None = AS_TOKEN, **extra: Any
) -> tuple[int, Any]:
    body = {"type": "m.login.application_service", "username": username, **extra}
    return await hs.request("POST", "/register", body, token=token)


async def whoami(hs: Homeserver, token: str, **params: str) -> tuple[int, Any]:
    return await hs.request("GET", "/account/whoami", token=token, params=params or None)


async def test_as_token_acts_as_its_sender(bridged: Homeserver) -> None:
    status, reply = await whoami(bridged, AS_TOKEN)
    assert (status, reply["user_id"], reply["device_id"]) == (200, SENDER, "")
    status, reply = await bridged.request(
        "GET", "/account/whoami", params={"access_token": AS_TOKEN}
    )
    assert (status, reply["user_id"]) == (200, SENDER)


async def test_masquerading_as_namespace_users(bridged: Homeserver) -> None:
    status, reply = await whoami(bridged, AS_TOKEN, user_id="@_bridge_carol:test.example")
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")  # not registered yet
    status, reply = await as_register(bridged, "_bridge_carol")
    assert status == 200, reply
    device = reply["device_id"]
    status, reply = await whoami(bridged, AS_TOKEN, user_id="@_bridge_carol:test.example")
    assert (status, reply["user_id"]) == (200, "@_bridge_carol:test.example")
    status, reply = await whoami(
        bridged, AS_TOKEN, user_id="@_bridge_carol:test.example", device_id=device
    )
    assert (status, reply["device_id"]) == (200, device)
    status, reply = await whoami(
        bridged, AS_TOKEN, user_id="@_bridge_carol:test.example", device_id="NOPE"
    )
    assert (status, reply["errcode"]) == (400, "M_UNKNOWN_DEVICE")
    status, reply = await whoami(bridged, AS_TOKEN, user_id="@alice:test.example")
    assert (status, reply["errcode"]) == (403, "M_EXCLUSIVE")
    # Acting in rooms as the masqueraded user.
    status, reply = await bridged.request(
        "POST", "/createRoom", {}, token=AS_TOKEN, params={"user_id": "@_bridge_carol:test.example"}
    )
    assert status == 200, reply
    status, reply = await bridged.request(
        "GET",
        f"/rooms/{reply['room_id']}/joined_members",
        token=AS_TOKEN,
        params={"user_id": "@_bridge_carol:test.example"},
    )
    assert list(reply["joined"]) == ["@_bridge_carol:test.example"]


async def test_appservice_registration_rules(bridged: Homeserver) -> None:
    status, reply = await as_register(bridged, "_bridge_dave", token=None)
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await as_register(bridged, "_bridge_dave", token="wrong")
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, reply = await as_register(bridged, "dave")
    assert (status, reply["errcode"]) == (400, "M_EXCLUSIVE")
    status, reply = await as_register(bridged, "_bridge_dave", inhibit_login=True)
    assert status == 200 and "access_token" not in reply, reply
    assert reply["user_id"] == "@_bridge_dave:test.example"
    status, reply = await as_register(bridged, "_bridge_dave")
    assert (status, reply["errcode"]) == (400, "M_USER_IN_USE")
    assert not bridged.services.users.accounts.exists("@dave:test.example")


async def test_appservice_registration_works_with_registration_disabled(
    bridged: Homeserver,
) -> None:
    object.__setattr__(bridged.config, "allow_registration", False)
    status, reply = await as_register(bridged, "shared_x")
    assert status == 200, reply


async def test_ordinary_users_cannot_take_exclusive_ids(bridged: Homeserver) -> None:
    status, reply = await bridged.request(
        "POST",
        "/register",
        {"username": "_bridge_eve", "password": "pw-pw-pw-1", "auth": {"type": "m.login.dummy"}},
    )
    assert (status, reply["errcode"]) == (400, "M_EXCLUSIVE")
    status, reply = await bridged.request(
        "GET", "/register/available", params={"username": "_bridge_eve"}
    )
    assert (status, reply["errcode"]) == (400, "M_EXCLUSIVE")
    assert not bridged.services.users.accounts.exists("@_bridge_eve:test.example")
    # A non-exclusive namespace does not reserve anything.
    await bridged.register("shared_bob")


async def test_appservice_login(bridged: Homeserver) -> None:
    status, reply = await bridged.request("GET", "/login")
    assert {"type": "m.login.application_service"} in reply["flows"]
    await as_register(bridged, "_bridge_fay", inhibit_login=True)
    body: dict[str, Any] = {
        "type": "m.login.application_service",
        "identifier": {"type": "m.id.user", "user": "_bridge_fay"},
    }
    status, reply = await bridged.request("POST", "/login", body)
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await bridged.request("POST", "/login", body, token=AS_TOKEN)
    assert status == 200, reply
    status, me = await whoami(bridged, reply["access_token"])
    assert me["user_id"] == "@_bridge_fay:test.example"
    body["identifier"]["user"] = "alice"
    status, reply = await bridged.request("POST", "/login", body, token=AS_TOKEN)
    assert (status, reply["errcode"]) == (400, "M_EXCLUSIVE")
    body["identifier"]["user"] = "nobody"
    status, reply = await bridged.request("POST", "/login", body, token=AS_TOKEN)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")


async def event_ts(hs: Homeserver, room_id: str, event_id: str) -> int:
    status, event = await hs.request(
        "GET", f"/rooms/{room_id}/event/{event_id}", token=hs.tokens["@alice:test.example"]
    )
    assert status == 200, event
    ts: int = event["origin_server_ts"]
    return ts


async def test_appservices_set_timestamps_others_cannot(bridged: Homeserver) -> None:
    alice = "@alice:test.example"
    status, reply = await bridged.request(
        "POST", "/createRoom", {"preset": "public_chat"}, token=AS_TOKEN
    )
    room_id = reply["room_id"]
    status, _ = await bridged.request(
        "POST", f"/rooms/{room_id}/join", {}, token=bridged.tokens[alice]
    )
    assert status == 200
    for path in (f"/rooms/{room_id}/send/m.room.message/t1", f"/rooms/{room_id}/state/m.topic/"):
        status, reply = await bridged.request(
            "PUT", path, {"body": "hi", "msgtype": "m.text"}, token=AS_TOKEN, params={"ts": "1234"}
        )
        assert status == 200, reply
        assert await event_ts(bridged, room_id, reply["event_id"]) == 1234
    status, reply = await bridged.request(
        "PUT",
        f"/rooms/{room_id}/send/m.room.message/t2",
        {"body": "x"},
        token=AS_TOKEN,
        params={"ts": "-5"},
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    status, reply = await bridged.request(
        "PUT",
        f"/rooms/{room_id}/send/m.room.message/t3",
        {"body": "x"},
        token=bridged.tokens[alice],
        params={"ts": "1234"},
    )
    assert status == 200
    assert await event_ts(bridged, room_id, reply["event_id"]) != 1234


async def test_exclusive_aliases(bridged: Homeserver) -> None:
    alice = "@alice:test.example"
    status, reply = await bridged.request(
        "POST", "/createRoom", {"room_alias_name": "_bridge_x"}, token=bridged.tokens[alice]
    )
    assert (status, reply["errcode"]) == (400, "M_EXCLUSIVE")
    status, reply = await bridged.request("POST", "/createRoom", {}, token=bridged.tokens[alice])
    room_id = reply["room_id"]
    alias = "%23_bridge_y:test.example"
    status, reply = await bridged.request(
        "PUT", f"/directory/room/{alias}", {"room_id": room_id}, token=bridged.tokens[alice]
    )
    assert (status, reply["errcode"]) == (400, "M_EXCLUSIVE")
    status, reply = await bridged.request("GET", f"/directory/room/{alias}")
    assert status == 404
    # The service itself may.
    status, reply = await bridged.request(
        "POST", "/createRoom", {"room_alias_name": "_bridge_x"}, token=AS_TOKEN
    )
    assert status == 200, reply
    status, reply = await bridged.request("GET", "/directory/room/%23_bridge_x:test.example")
    assert status == 200, reply


async def test_appservices_manage_devices_without_uia(bridged: Homeserver) -> None:
    """Spec v1.17 (MSC4190): create with PUT /devices/{id} (201), delete without
    user-interactive auth; ordinary users still get 404 and the UIA challenge."""
    status, reply = await as_register(bridged, "_bridge_gil", inhibit_login=True)
    assert status == 200, reply
    gil = {"user_id": "@_bridge_gil:test.example"}
    status, reply = await bridged.request(
        "PUT", "/devices/BRIDGED1", {"display_name": "bridge"}, token=AS_TOKEN, params=gil
    )
    assert (status, reply) == (201, {})
    status, reply = await bridged.request(
        "PUT", "/devices/BRIDGED1", {}, token=AS_TOKEN, params=gil
    )
    assert (status, reply) == (200, {})
    status, reply = await whoami(bridged, AS_TOKEN, device_id="BRIDGED1", **gil)
    assert reply["device_id"] == "BRIDGED1"
    status, reply = await bridged.request("GET", "/devices/BRIDGED1", token=AS_TOKEN, params=gil)
    assert reply["display_name"] == "bridge"
    status, reply = await bridged.request(
        "PUT", "/devices/BRIDGED2", {}, token=AS_TOKEN, params=gil
    )
    assert status == 201
    status, reply = await bridged.request(
        "DELETE", "/devices/BRIDGED1", {}, token=AS_TOKEN, params=gil
    )
    assert (status, reply) == (200, {})
    status, reply = await bridged.request(
        "POST", "/delete_devices", {"devices": ["BRIDGED2"]}, token=AS_TOKEN, params=gil
    )
    assert (status, reply) == (200, {})
    status, reply = await bridged.request("GET", "/devices", token=AS_TOKEN, params=gil)
    assert reply["devices"] == []
    alice = bridged.tokens["@alice:test.example"]
    status, reply = await bridged.request("PUT", "/devices/NEWONE", {}, token=alice)
    assert status == 404
    status, reply = await bridged.request("POST", "/delete_devices", {"devices": []}, token=alice)
    assert status == 401 and "flows" in reply


async def test_rate_limited_false_exempts_the_service(start: StartHomeserver) -> None:
    hs = await start(rate_limit_message_per_second=0.001, rate_limit_message_burst=1)
    await hs.register("alice")
    for as_id, limited in (("free", False), ("counted", True)):
        await hs.services.users.appservices.register(
            parse_registration(
                {
                    "id": as_id,
                    "url": None,
                    "as_token": f"token-{as_id}",
                    "hs_token": f"hs-{as_id}",
                    "sender_localpart": f"_{as_id}_bot",
                    "rate_limited": limited,
                    "namespaces": {},
                }
            )
        )
    for as_id, expected in (("free", [200, 200, 200]), ("counted", [200, 429, 429])):
        token = f"token-{as_id}"
        _, room = await hs.request("POST", "/createRoom", {}, token=token)
        statuses = []
        for i in range(3):
            status, _ = await hs.request(
                "PUT",
                f"/rooms/{room['room_id']}/send/m.room.message/{i}",
                {"body": "x"},
                token=token,
            )
            statuses.append(status)
        assert statuses == expected, as_id


async def test_key_upload_needs_a_device(bridged: Homeserver) -> None:
    body = {"one_time_keys": {"signed_curve25519:AAA": {"key": "x"}}}
    status, reply = await bridged.request("POST", "/keys/upload", body, token=AS_TOKEN)
    assert (status, reply["errcode"]) == (400, "M_UNKNOWN")
    status, reply = await bridged.request("PUT", "/devices/BOTDEV", {}, token=AS_TOKEN)
    assert status == 201
    status, reply = await bridged.request(
        "POST", "/keys/upload", body, token=AS_TOKEN, params={"device_id": "BOTDEV"}
    )
    assert (status, reply) == (200, {"one_time_key_counts": {"signed_curve25519": 1}}), reply


async def test_locked_namespace_user_still_acted_as(bridged: Homeserver) -> None:
    """Synapse checks a lock only for a user's own tokens: the service acting as a
    locked user of its namespace goes on; the user's own token is refused."""
    status, registered = await as_register(bridged, "_bridge_locked")
    assert status == 200, registered
    user = "@_bridge_locked:test.example"
    assert bridged.services.users.accounts.set_locked(user, True)
    status, reply = await whoami(bridged, AS_TOKEN, user_id=user)
    assert (status, reply["user_id"]) == (200, user)
    status, reply = await whoami(bridged, registered["access_token"])
    assert (status, reply["errcode"]) == (401, "M_USER_LOCKED")
