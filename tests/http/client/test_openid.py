"""OpenID: a user's token, redeemed over federation for ``{"sub": user}`` until it
expires; refusals (another user, unknown or expired tokens) say so and store nothing."""

from __future__ import annotations

from conduwuit.db.maps import MAPS
from conduwuit.service.users.openid import OPENID_TOKEN_TTL_MS
from tests.kit.homeserver import Homeserver

USERINFO = "/_matrix/federation/v1/openid/userinfo"


def stored_tokens(hs: Homeserver) -> int:
    return sum(1 for _ in hs.services.db.map(MAPS.openidtoken_expiresatuserid).iter_prefix(b""))


async def test_request_and_redeem(hs: Homeserver) -> None:
    me = await hs.register("alice")
    path = f"/user/{me['user_id']}/openid/request_token"
    status, reply = await hs.request("POST", path, {}, token=me["access_token"])
    assert status == 200, reply
    assert reply["token_type"] == "Bearer"
    assert reply["matrix_server_name"] == "test.example"
    assert reply["expires_in"] == 3600
    token = reply["access_token"]

    status, info = await hs.request("GET", USERINFO, params={"access_token": token})
    assert (status, info) == (200, {"sub": me["user_id"]})
    status, info = await hs.request("GET", USERINFO, params={"access_token": token})
    assert (status, info) == (200, {"sub": me["user_id"]})  # until it expires

    hs.clock.advance(OPENID_TOKEN_TTL_MS)
    status, info = await hs.request("GET", USERINFO, params={"access_token": token})
    assert (status, info["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    assert stored_tokens(hs) == 0  # the expired token is gone


async def test_refusals(hs: Homeserver) -> None:
    me = await hs.register("alice")
    bob = await hs.register("bob")
    path = f"/user/{me['user_id']}/openid/request_token"
    status, reply = await hs.request("POST", path, {}, token=bob["access_token"])
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await hs.request("POST", path, {})
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    async with hs.client.post(
        f"/_matrix/client/v3{path}",
        data=b"[1]",
        headers={"Authorization": f"Bearer {me['access_token']}"},
    ) as response:
        assert (response.status, (await response.json())["errcode"]) == (400, "M_BAD_JSON")
    assert stored_tokens(hs) == 0

    status, reply = await hs.request("GET", USERINFO, params={"access_token": "nope"})
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, reply = await hs.request("GET", USERINFO, params={"access_token": "é\u2028"})
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, reply = await hs.request("GET", USERINFO)
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
