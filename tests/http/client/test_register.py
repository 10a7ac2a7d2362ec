"""POST /register, availability, tokens, guests, first-user admin."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kit.homeserver import PASSWORD, Homeserver, StartHomeserver

DUMMY = {"type": "m.login.dummy"}


async def test_register_then_whoami(hs: Homeserver) -> None:
    reply = await hs.register("alice", device_id="PHONE", initial_device_display_name="Phone")
    assert reply["user_id"] == "@alice:test.example"
    assert reply["device_id"] == "PHONE"
    assert reply["home_server"] == "test.example"
    assert "refresh_token" not in reply and "expires_in_ms" not in reply
    status, me = await hs.request("GET", "/account/whoami", token=reply["access_token"])
    assert (status, me) == (
        200,
        {"user_id": "@alice:test.example", "device_id": "PHONE", "is_guest": False},
    )
    assert hs.services.users.devices.get("@alice:test.example", "PHONE") is not None
    assert hs.services.users.profiles.get("@alice:test.example") == {"displayname": "alice"}


async def test_without_auth_gives_flows_and_creates_nothing(hs: Homeserver) -> None:
    status, reply = await hs.request("POST", "/register", {"username": "bob", "password": "x"})
    assert status == 401
    assert reply["flows"] == [{"stages": ["m.login.dummy"]}]
    assert reply["params"] == {}
    assert isinstance(reply["session"], str)
    assert "errcode" not in reply
    assert not hs.services.users.accounts.exists("@bob:test.example")


async def test_empty_body_gives_flows(hs: Homeserver) -> None:
    status, reply = await hs.request("POST", "/register", {})
    assert status == 401
    assert reply["flows"] == [{"stages": ["m.login.dummy"]}]


async def test_username_is_lowercased(hs: Homeserver) -> None:
    reply = await hs.register("CapsLock")
    assert reply["user_id"] == "@capslock:test.example"


@pytest.mark.parametrize(
    "name", ["!", '"', ":", "?", "\\", "@", "[", "]", "{", "|", "}", "£", "é", "\n", "'", " ", ""]
)
async def test_invalid_usernames_are_refused(hs: Homeserver, name: str) -> None:
    status, reply = await hs.request(
        "POST",
        "/register",
        {"username": f"user{name}x" if name else "", "password": "p", "auth": DUMMY},
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_USERNAME")
    assert not hs.services.users.accounts.any_account()


@pytest.mark.parametrize("char", ["q", "3", ".", "_", "=", "-", "/", "+"])
async def test_allowed_characters(hs: Homeserver, char: str) -> None:
    reply = await hs.register(f"user{char}x")
    assert reply["user_id"] == f"@user{char}x:test.example"


async def test_too_long_user_id_is_refused(hs: Homeserver) -> None:
    status, reply = await hs.request(
        "POST", "/register", {"username": "a" * 250, "password": "p", "auth": DUMMY}
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_USERNAME")


async def test_taken_username_is_refused_and_changes_nothing(hs: Homeserver) -> None:
    first = await hs.register("carol")
    status, reply = await hs.request(
        "POST", "/register", {"username": "carol", "password": "other", "auth": DUMMY}
    )
    assert (status, reply["errcode"]) == (400, "M_USER_IN_USE")
    # The first account still logs in with its own password, with its one device.
    await hs.login("carol")
    devices = hs.services.users.devices.list_devices("@carol:test.example")
    assert first["device_id"] in {d.device_id for d in devices}


async def test_missing_password_is_refused(hs: Homeserver) -> None:
    status, reply = await hs.request("POST", "/register", {"username": "dan", "auth": DUMMY})
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")
    assert not hs.services.users.accounts.exists("@dan:test.example")


async def test_wrong_types_are_bad_json(hs: Homeserver) -> None:
    status, reply = await hs.request("POST", "/register", {"username": 5, "password": "p"})
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")


async def test_inhibit_login(hs: Homeserver) -> None:
    reply = await hs.register("erin", inhibit_login=True)
    assert reply == {"user_id": "@erin:test.example", "home_server": "test.example"}
    assert hs.services.users.devices.list_devices("@erin:test.example") == []


async def test_generated_username(hs: Homeserver) -> None:
    status, reply = await hs.request("POST", "/register", {"password": "p", "auth": DUMMY})
    assert status == 200
    assert reply["user_id"].endswith(":test.example")


async def test_registration_is_idempotent_per_session(hs: Homeserver) -> None:
    status, first = await hs.request("POST", "/register", {"password": PASSWORD})
    assert status == 401
    body = {"password": PASSWORD, "auth": {"type": "m.login.dummy", "session": first["session"]}}
    status, one = await hs.request("POST", "/register", body)
    assert status == 200
    status, two = await hs.request("POST", "/register", body)
    assert status == 200
    assert one["user_id"] == two["user_id"]


async def test_unknown_session_is_refused(hs: Homeserver) -> None:
    body = {"username": "f", "password": "p", "auth": {"type": "m.login.dummy", "session": "nope"}}
    status, _ = await hs.request("POST", "/register", body)
    assert status == 400
    assert not hs.services.users.accounts.exists("@f:test.example")


async def test_registration_disabled(start: StartHomeserver) -> None:
    hs = await start(allow_registration=False)
    status, reply = await hs.request(
        "POST", "/register", {"username": "g", "password": "p", "auth": DUMMY}
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert not hs.services.users.accounts.any_account()


async def test_registration_token_flow(start: StartHomeserver) -> None:
    hs = await start(
        registration_token="s3cret",
        yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse=False,
    )
    status, reply = await hs.request("POST", "/register", {"username": "h", "password": "p"})
    assert status == 401
    assert reply["flows"] == [{"stages": ["m.login.registration_token"]}]
    session = reply["session"]
    # A dummy stage does not satisfy the token flow.
    status, reply = await hs.request(
        "POST",
        "/register",
        {"username": "h", "password": "p", "auth": {**DUMMY, "session": session}},
    )
    assert (status, reply["errcode"]) == (401, "M_UNRECOGNIZED")
    wrong = {"type": "m.login.registration_token", "token": "guess", "session": session}
    status, reply = await hs.request(
        "POST", "/register", {"username": "h", "password": "p", "auth": wrong}
    )
    assert (status, reply["errcode"]) == (401, "M_FORBIDDEN")
    assert reply["session"] == session
    assert not hs.services.users.accounts.exists("@h:test.example")
    right = {"type": "m.login.registration_token", "token": "s3cret", "session": session}
    status, reply = await hs.request(
        "POST", "/register", {"username": "h", "password": "p", "auth": right}
    )
    assert status == 200, reply
    status, reply = await hs.request(
        "GET",
        "/_matrix/client/v1/register/m.login.registration_token/validity",
        params={"token": "s3cret"},
    )
    assert (status, reply) == (200, {"valid": True})
    status, reply = await hs.request(
        "GET",
        "/_matrix/client/v1/register/m.login.registration_token/validity",
        params={"token": "x"},
    )
    assert (status, reply) == (200, {"valid": False})


async def test_token_file(start: StartHomeserver, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    hs = await start(
        registration_token_file=str(token_file),
        yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse=False,
    )
    auth = {"type": "m.login.registration_token", "token": "from-file"}
    status, _ = await hs.request(
        "POST", "/register", {"username": "i", "password": "p", "auth": auth}
    )
    assert status == 200


async def test_token_validity_without_tokens_is_forbidden(hs: Homeserver) -> None:
    status, reply = await hs.request(
        "GET",
        "/_matrix/client/v1/register/m.login.registration_token/validity",
        params={"token": "x"},
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")


async def test_available(hs: Homeserver) -> None:
    await hs.register("taken")
    assert await hs.request("GET", "/register/available", params={"username": "free"}) == (
        200,
        {"available": True},
    )
    status, reply = await hs.request("GET", "/register/available", params={"username": "taken"})
    assert (status, reply["errcode"]) == (400, "M_USER_IN_USE")
    status, reply = await hs.request("GET", "/register/available", params={"username": "bad!"})
    assert (status, reply["errcode"]) == (400, "M_INVALID_USERNAME")
    status, reply = await hs.request("GET", "/register/available")
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")


async def test_forbidden_usernames(start: StartHomeserver) -> None:
    hs = await start(forbidden_usernames='["admin", "root"]')
    status, reply = await hs.request(
        "POST", "/register", {"username": "superadmin1", "password": "p", "auth": DUMMY}
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_USERNAME")
    assert not hs.services.users.accounts.any_account()
    await hs.register("alice")


async def test_displayname_suffix_and_autojoin(start: StartHomeserver) -> None:
    hs = await start(new_user_displayname_suffix="🏳️", auto_join_rooms='["#welcome:test.example"]')
    owner = await hs.register("owner")
    status, created = await hs.request(
        "POST",
        "/createRoom",
        {"room_alias_name": "welcome", "preset": "public_chat"},
        token=owner["access_token"],
    )
    assert status == 200, created
    await hs.register("jo")
    assert hs.services.users.profiles.get("@jo:test.example") == {"displayname": "jo 🏳️"}
    from conduwuit.db.maps import MAPS

    # The rooms service honoured the pending auto-join and removed it.
    assert hs.services.db.map(MAPS.userid_autojoin).get(b"@jo:test.example") is None
    members = hs.services.rooms.storage.member_index
    assert members.is_joined("@jo:test.example", created["room_id"])


async def test_first_user_is_admin(hs: Homeserver) -> None:
    await hs.register("first")
    await hs.register("second")
    accounts = hs.services.users.accounts
    assert accounts.get("@first:test.example").is_admin  # type: ignore[union-attr]
    assert not accounts.get("@second:test.example").is_admin  # type: ignore[union-attr]


async def test_guest_registration(start: StartHomeserver) -> None:
    hs = await start(allow_guest_registration=True)
    status, reply = await hs.request("POST", "/register", {}, params={"kind": "guest"})
    assert status == 200, reply
    token = reply["access_token"]
    status, me = await hs.request("GET", "/account/whoami", token=token)
    assert me["is_guest"] is True
    # Guests cannot use endpoints outside the spec's guest list.
    status, reply = await hs.request("POST", "/logout/all", token=token)
    assert (status, reply["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    # ...and that refusal logged nobody out.
    status, _ = await hs.request("GET", "/account/whoami", token=token)
    assert status == 200
    # A guest is never the first-user admin.
    assert not hs.services.users.accounts.get(reply_user(me)).is_admin  # type: ignore[union-attr]


def reply_user(me: dict[str, str]) -> str:
    return me["user_id"]


async def test_guest_registration_disabled(hs: Homeserver) -> None:
    status, reply = await hs.request("POST", "/register", {}, params={"kind": "guest"})
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert not hs.services.users.accounts.any_account()


async def test_refresh_token_on_register(hs: Homeserver) -> None:
    reply = await hs.register("kim", refresh_token=True)
    assert reply["expires_in_ms"] == hs.config.refreshable_access_token_lifetime
    assert reply["refresh_token"]


async def test_rate_limit(start: StartHomeserver) -> None:
    hs = await start(rate_limit_registration_per_second=0.1, rate_limit_registration_burst=2)
    for _ in range(2):
        status, _ = await hs.request("GET", "/register/available", params={"username": "x"})
        assert status == 200
    status, reply = await hs.request(
        "POST", "/register", {"username": "late", "password": "p", "auth": DUMMY}
    )
    assert (status, reply["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert reply["retry_after_ms"] > 0
    assert not hs.services.users.accounts.exists("@late:test.example")
    hs.clock.advance(10_000)
    status, _ = await hs.request(
        "POST", "/register", {"username": "late", "password": "p", "auth": DUMMY}
    )
    assert status == 200
