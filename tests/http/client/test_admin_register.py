"""Shared-secret registration at /_synapse/admin/v1/register, in Synapse's format."""

from __future__ import annotations

from typing import Any

from conduwuit.service.users.shared_secret import registration_mac
from tests.kit.homeserver import Homeserver, StartHomeserver

PATH = "/_synapse/admin/v1/register"
SECRET = "complement"


async def register(
    hs: Homeserver, username: str, password: str = "pw", admin: bool = False, **extra: Any
) -> tuple[int, Any]:
    status, reply = await hs.request("GET", PATH)
    assert status == 200
    nonce = reply["nonce"]
    mac = registration_mac(SECRET, nonce, username, password, admin, None)
    body = {"nonce": nonce, "username": username, "password": password, "admin": admin, "mac": mac}
    return await hs.request("POST", PATH, {**body, **extra})


async def test_disabled_without_secret(hs: Homeserver) -> None:
    status, _ = await hs.request("GET", PATH)
    assert status == 400
    status, _ = await hs.request("POST", PATH, {"nonce": "x"})
    assert status == 400
    assert not hs.services.users.accounts.any_account()


async def test_register_admin_and_user(start: StartHomeserver) -> None:
    hs = await start(registration_shared_secret=SECRET, allow_registration=False)
    status, reply = await register(hs, "second_user_first", admin=False)
    assert status == 200, reply
    assert reply["user_id"] == "@second_user_first:test.example"
    status, me = await hs.request("GET", "/account/whoami", token=reply["access_token"])
    assert me["device_id"] == reply["device_id"]
    status, reply = await register(hs, "boss", admin=True)
    assert status == 200
    assert hs.services.users.accounts.get("@boss:test.example").is_admin  # type: ignore[union-attr]


async def test_downcases_and_validates(start: StartHomeserver) -> None:
    hs = await start(registration_shared_secret=SECRET)
    status, reply = await register(hs, "UpperCase")
    assert (status, reply["user_id"]) == (200, "@uppercase:test.example")
    status, reply = await register(hs, "us,er")
    assert (status, reply["errcode"]) == (400, "M_INVALID_USERNAME")


async def test_bad_mac_and_reused_nonce(start: StartHomeserver) -> None:
    hs = await start(registration_shared_secret=SECRET)
    _, reply = await hs.request("GET", PATH)
    nonce = reply["nonce"]
    body = {"nonce": nonce, "username": "eve", "password": "pw", "mac": "00" * 20}
    status, reply = await hs.request("POST", PATH, body)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    # The nonce is used up even by a failed attempt.
    body["mac"] = registration_mac(SECRET, nonce, "eve", "pw", False, None)
    status, reply = await hs.request("POST", PATH, body)
    assert status == 400
    assert not hs.services.users.accounts.exists("@eve:test.example")


async def test_nonce_expires(start: StartHomeserver) -> None:
    hs = await start(registration_shared_secret=SECRET)
    _, reply = await hs.request("GET", PATH)
    hs.clock.advance(60_000)
    mac = registration_mac(SECRET, reply["nonce"], "late", "pw", False, None)
    status, _ = await hs.request(
        "POST", PATH, {"nonce": reply["nonce"], "username": "late", "password": "pw", "mac": mac}
    )
    assert status == 400


def test_mac_matches_synapse_reference() -> None:
    # The hex HMAC-SHA1 of "nonce\0user\0pass\0admin" keyed "secret", as Synapse's
    # docs and register_new_matrix_user compute it.
    import hashlib
    import hmac

    want = hmac.new(b"secret", b"abc\x00alice\x00pw\x00admin", hashlib.sha1).hexdigest()
    assert registration_mac("secret", "abc", "alice", "pw", True, None) == want
    want = hmac.new(b"secret", b"abc\x00alice\x00pw\x00notadmin\x00bot", hashlib.sha1).hexdigest()
    assert registration_mac("secret", "abc", "alice", "pw", False, "bot") == want
