"""GET /voip/turnServer: time-limited (coturn use-auth-secret) and static credentials,
404 with no TURN configured (as conduwuit), and who may ask (turn_allow_guests)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from tests.kit.homeserver import StartHomeserver

URIS = ["turn:turn.test.example?transport=udp", "turn:turn.test.example?transport=tcp"]


async def test_time_limited_credentials(start: StartHomeserver) -> None:
    hs = await start(turn_uris=URIS, turn_secret="s3cret", turn_ttl=600)
    me = await hs.register("alice")
    status, reply = await hs.request("GET", "/voip/turnServer", token=me["access_token"])
    assert status == 200, reply
    expiry = hs.clock() // 1000 + 600
    assert reply["username"] == f"{expiry}:{me['user_id']}"
    mac = hmac.new(b"s3cret", reply["username"].encode(), hashlib.sha1).digest()
    assert reply["password"] == base64.b64encode(mac).decode()
    assert (reply["uris"], reply["ttl"]) == (URIS, 600)


async def test_static_credentials_and_default_ttl(start: StartHomeserver) -> None:
    hs = await start(turn_uris=URIS, turn_username="u", turn_password="p")
    me = await hs.register("alice")
    status, reply = await hs.request("GET", "/voip/turnServer", token=me["access_token"])
    assert (status, reply) == (200, {"username": "u", "password": "p", "uris": URIS, "ttl": 86400})


async def test_no_turn_configured_is_not_found(start: StartHomeserver) -> None:
    hs = await start()
    me = await hs.register("alice")
    status, reply = await hs.request("GET", "/voip/turnServer", token=me["access_token"])
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_guests_and_anonymous_callers(start: StartHomeserver) -> None:
    hs = await start(turn_uris=URIS, turn_secret="s3cret", allow_guest_registration=True)
    status, guest = await hs.request("POST", "/register", {}, params={"kind": "guest"})
    assert status == 200
    status, reply = await hs.request("GET", "/voip/turnServer", token=guest["access_token"])
    assert (status, reply["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    status, reply = await hs.request("GET", "/voip/turnServer")
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request("GET", "/voip/turnServer", token="nonsense")
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")

    open_hs = await start(
        turn_uris=URIS, turn_secret="s3cret", turn_allow_guests=True, allow_guest_registration=True
    )
    status, reply = await open_hs.request("GET", "/voip/turnServer")
    assert status == 200, reply
    assert reply["username"].split(":", 1)[1].endswith(":test.example")
    status, guest = await open_hs.request("POST", "/register", {}, params={"kind": "guest"})
    status, reply = await open_hs.request("GET", "/voip/turnServer", token=guest["access_token"])
    assert status == 200 and reply["username"].endswith(guest["user_id"])
