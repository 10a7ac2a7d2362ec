"""GET /pushers and POST /pushers/set: success, each refusal (which changes nothing),
append semantics, and pushers going with their device (logout, device deletion,
password change) and with the account (deactivation).

The gateway URLs point at loopback names, which never leave the machine: with the
test config's empty ``ip_range_denylist`` they are allowed, with the default list
they are refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.client.test_devices import password_auth
from tests.kit.homeserver import Homeserver, StartHomeserver

URL = "http://127.0.0.1:9/_matrix/push/v1/notify"


def pusher(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "http",
        "app_id": "com.example.app.ios",
        "app_display_name": "Mat Rix",
        "device_display_name": "iPhone 9",
        "profile_tag": "xxyyzz",
        "pushkey": "APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8",
        "lang": "en",
        "data": {"url": URL, "format": "event_id_only", "custom": 1},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
async def open_hs(start: StartHomeserver) -> Homeserver:
    """Gateways on loopback allowed (the delivery tests run one there)."""
    return await start(ip_range_denylist="[]")


async def pushers_of(hs: Homeserver, token: str) -> list[dict[str, Any]]:
    status, reply = await hs.request("GET", "/pushers", token=token)
    assert status == 200, reply
    result: list[dict[str, Any]] = reply["pushers"]
    return result


async def test_set_get_update_delete(open_hs: Homeserver) -> None:
    hs = open_hs
    token = (await hs.register("alice"))["access_token"]
    assert await pushers_of(hs, token) == []
    assert await hs.request("POST", "/pushers/set", pusher(), token=token) == (200, {})
    body = pusher()
    expected = {k: body[k] for k in body if k not in ("append",)}
    assert await pushers_of(hs, token) == [expected]
    # Same app_id and pushkey: updated, not added.
    await hs.request("POST", "/pushers/set", pusher(lang="de"), token=token)
    [only] = await pushers_of(hs, token)
    assert only["lang"] == "de"
    # Another pushkey: a second pusher; r0 paths too.
    status, _ = await hs.request(
        "POST", "/_matrix/client/r0/pushers/set", pusher(pushkey="other"), token=token
    )
    assert status == 200
    assert {p["pushkey"] for p in await pushers_of(hs, token)} == {body["pushkey"], "other"}
    # kind null deletes (only app_id and pushkey needed); deleting again is fine.
    delete = {"kind": None, "app_id": body["app_id"], "pushkey": "other"}
    assert await hs.request("POST", "/pushers/set", delete, token=token) == (200, {})
    assert await hs.request("POST", "/pushers/set", delete, token=token) == (200, {})
    assert [p["pushkey"] for p in await pushers_of(hs, token)] == [body["pushkey"]]
    # profile_tag is optional ("" like Synapse); http URLs with a port are fine.
    await hs.request("POST", "/pushers/set", pusher(profile_tag=...), token=token)
    assert (await pushers_of(hs, token))[0]["profile_tag"] == ""


async def test_append_false_takes_the_pushkey_from_other_users(open_hs: Homeserver) -> None:
    hs = open_hs
    alice = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    carol = (await hs.register("carol"))["access_token"]
    await hs.request("POST", "/pushers/set", pusher(), token=alice)
    await hs.request("POST", "/pushers/set", pusher(append=True), token=bob)
    assert len(await pushers_of(hs, alice)) == 1
    assert len(await pushers_of(hs, bob)) == 1
    # Another app_id with the same pushkey is another pusher: untouched.
    await hs.request("POST", "/pushers/set", pusher(app_id="other.app"), token=alice)
    await hs.request("POST", "/pushers/set", pusher(append=False), token=carol)
    assert [p["app_id"] for p in await pushers_of(hs, alice)] == ["other.app"]
    assert await pushers_of(hs, bob) == []
    assert len(await pushers_of(hs, carol)) == 1


REFUSALS: list[tuple[dict[str, Any], int, str]] = [
    ({"kind": ...}, 400, "M_MISSING_PARAM"),
    ({"lang": ..., "data": ...}, 400, "M_MISSING_PARAM"),
    ({"app_display_name": None}, 400, "M_MISSING_PARAM"),
    ({"data": {"format": "event_id_only"}}, 400, "M_MISSING_PARAM"),
    ({"data": {"url": "https://127.0.0.1/_matrix/push/v1/notify/"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": "https://127.0.0.1/push"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": "ftp://127.0.0.1/_matrix/push/v1/notify"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": "/_matrix/push/v1/notify"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": "http://u:p@127.0.0.1/_matrix/push/v1/notify"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": "http://127.0.0.1:99999/_matrix/push/v1/notify"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": URL, "format": "full"}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": URL, "x": "y" * 5000}}, 400, "M_INVALID_PARAM"),
    ({"data": {"url": 5}}, 400, "M_BAD_JSON"),
    ({"data": "nope"}, 400, "M_BAD_JSON"),
    (
        {"kind": "email", "app_id": "m.email", "pushkey": "a@example.org"},
        400,
        "M_THREEPID_NOT_FOUND",
    ),
    ({"kind": "sms"}, 400, "M_INVALID_PARAM"),
    ({"kind": 1}, 400, "M_BAD_JSON"),
    ({"app_id": "a" * 65}, 400, "M_INVALID_PARAM"),
    ({"pushkey": "é" * 257}, 400, "M_INVALID_PARAM"),
    ({"pushkey": ""}, 400, "M_INVALID_PARAM"),
    ({"pushkey": 7}, 400, "M_BAD_JSON"),
    ({"lang": "x" * 36}, 400, "M_INVALID_PARAM"),
    ({"app_display_name": "x" * 65}, 400, "M_INVALID_PARAM"),
    ({"device_display_name": "x" * 129}, 400, "M_INVALID_PARAM"),
    ({"profile_tag": "x" * 33}, 400, "M_INVALID_PARAM"),
    ({"lang": 5}, 400, "M_BAD_JSON"),
    ({"append": "yes"}, 400, "M_BAD_JSON"),
    # A host that cannot resolve (an empty label fails before any DNS query).
    ({"data": {"url": "https://bad..host/_matrix/push/v1/notify"}}, 400, "M_INVALID_PARAM"),
]


@pytest.mark.parametrize(("changes", "status", "errcode"), REFUSALS)
async def test_refusals_change_nothing(
    open_hs: Homeserver, changes: dict[str, Any], status: int, errcode: str
) -> None:
    hs = open_hs
    other = (await hs.register("bob"))["access_token"]
    token = (await hs.register("alice"))["access_token"]
    await hs.request("POST", "/pushers/set", pusher(), token=other)
    await hs.request("POST", "/pushers/set", pusher(pushkey="mine"), token=token)
    before = (await pushers_of(hs, token), await pushers_of(hs, other))
    # append false would take bob's pushkey: refused first, so it does not.
    reply = await hs.request("POST", "/pushers/set", pusher(**changes), token=token)
    assert (reply[0], reply[1]["errcode"]) == (status, errcode), reply
    assert reply[1]["error"]
    assert (await pushers_of(hs, token), await pushers_of(hs, other)) == before


async def test_delete_needs_app_id_and_pushkey(open_hs: Homeserver) -> None:
    token = (await open_hs.register("alice"))["access_token"]
    status, reply = await open_hs.request(
        "POST", "/pushers/set", {"kind": None, "app_id": "a"}, token=token
    )
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")
    assert "pushkey" in reply["error"]


async def test_body_and_auth_refusals(start: StartHomeserver) -> None:
    hs = await start(ip_range_denylist="[]", allow_guest_registration=True)
    assert (await hs.request("GET", "/pushers"))[0] == 401
    assert (await hs.request("POST", "/pushers/set", pusher()))[0] == 401
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", "/pushers/set", [1], token=token)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    status, guest = await hs.request("POST", "/register", {}, params={"kind": "guest"})
    assert status == 200, guest
    status, reply = await hs.request("POST", "/pushers/set", pusher(), token=guest["access_token"])
    assert (status, reply["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    assert await pushers_of(hs, token) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8448/_matrix/push/v1/notify",
        "https://localhost/_matrix/push/v1/notify",
        "https://[::1]/_matrix/push/v1/notify",
        "https://[::ffff:127.0.0.1]/_matrix/push/v1/notify",
        "https://10.1.2.3/_matrix/push/v1/notify",
    ],
)
async def test_default_denylist_refuses_loopback_and_private_gateways(
    hs: Homeserver, url: str
) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", "/pushers/set", pusher(data={"url": url}), token=token)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    assert "ip_range_denylist" in reply["error"]
    assert await pushers_of(hs, token) == []


async def test_pushers_go_with_their_device(open_hs: Homeserver) -> None:
    hs = open_hs
    phone = (await hs.register("alice"))["access_token"]
    laptop = (await hs.login("alice"))["access_token"]
    tablet = await hs.login("alice")
    await hs.request("POST", "/pushers/set", pusher(pushkey="phone"), token=phone)
    await hs.request("POST", "/pushers/set", pusher(pushkey="laptop"), token=laptop)
    await hs.request("POST", "/pushers/set", pusher(pushkey="tablet"), token=tablet["access_token"])
    # The laptop updating the phone's pusher does not make it the laptop's (Synapse).
    await hs.request("POST", "/pushers/set", pusher(pushkey="phone", lang="fr"), token=laptop)
    assert (await hs.request("POST", "/logout", {}, token=phone))[0] == 200
    assert sorted(p["pushkey"] for p in await pushers_of(hs, laptop)) == ["laptop", "tablet"]
    body = {"auth": password_auth("alice")}
    path = f"/devices/{tablet['device_id']}"
    assert (await hs.request("DELETE", path, body, token=laptop))[0] == 200
    assert [p["pushkey"] for p in await pushers_of(hs, laptop)] == ["laptop"]


async def test_password_change_and_deactivation(open_hs: Homeserver) -> None:
    hs = open_hs
    current = (await hs.register("alice"))["access_token"]
    other = (await hs.login("alice"))["access_token"]
    await hs.request("POST", "/pushers/set", pusher(pushkey="current"), token=current)
    await hs.request("POST", "/pushers/set", pusher(pushkey="other"), token=other)
    keep = {"new_password": "p2", "logout_devices": False, "auth": password_auth("alice")}
    assert (await hs.request("POST", "/account/password", keep, token=current))[0] == 200
    assert len(await pushers_of(hs, current)) == 2
    out = {"new_password": "p3", "auth": password_auth("alice", password="p2")}
    assert (await hs.request("POST", "/account/password", out, token=current))[0] == 200
    assert [p["pushkey"] for p in await pushers_of(hs, current)] == ["current"]
    await hs.services.users.registration.deactivate("@alice:test.example")
    assert hs.services.push.pushers.of_user("@alice:test.example") == []


async def test_a_host_that_does_not_resolve_yet_is_accepted(hs: Homeserver) -> None:
    """As Synapse (and Complement's pushers, at https://dummy.url): a well-formed name
    with no address is kept; delivery resolves and checks it each time."""
    token = (await hs.register("alice"))["access_token"]
    url = "https://dummy.invalid/_matrix/push/v1/notify"
    status, reply = await hs.request("POST", "/pushers/set", pusher(data={"url": url}), token=token)
    assert status == 200, reply
    assert [p["data"]["url"] for p in await pushers_of(hs, token)] == [url]
