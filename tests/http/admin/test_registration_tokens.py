"""Synapse's registration tokens admin API, and the tokens it makes at work: accepted
by the m.login.registration_token stage (besides the config's token) until used up
or expired, with their pending and completed uses counted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.admin.test_users import ok
from tests.kit.homeserver import Homeserver, StartHomeserver

PATH = "/_synapse/admin/v1/registration_tokens"
CONFIG_TOKEN = "config-secret"
VALIDITY = "/_matrix/client/v1/register/m.login.registration_token/validity"


async def register_with(hs: Homeserver, username: str, token: str) -> tuple[int, Any]:
    body = {
        "username": username,
        "password": "pw",
        "auth": {"type": "m.login.registration_token", "token": token},
    }
    return await hs.request("POST", "/register", body)


async def tokens_server(start: StartHomeserver) -> tuple[Homeserver, str, str]:
    """Registration needs a token (the config's); an admin and alice."""
    hs = await start(registration_token=CONFIG_TOKEN)
    tokens = []
    for name in ("admin", "alice"):
        status, reply = await register_with(hs, name, CONFIG_TOKEN)
        assert status == 200, reply
        tokens.append(reply["access_token"])
    return hs, tokens[0], tokens[1]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", PATH, None),
        ("POST", f"{PATH}/new", {"token": "abc"}),
        ("GET", f"{PATH}/abc", None),
        ("PUT", f"{PATH}/abc", {"uses_allowed": 1}),
        ("DELETE", f"{PATH}/abc", None),
    ],
)
async def test_admins_only(start: StartHomeserver, method: str, path: str, body: Any) -> None:
    hs, _, alice = await tokens_server(start)
    status, reply = await hs.request(method, path, body)
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request(method, path, body, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert hs.services.users.registration_tokens.list_tokens(None) == []


async def test_create_list_update_delete(start: StartHomeserver) -> None:
    hs, admin, _ = await tokens_server(start)
    made = await ok(hs, "POST", f"{PATH}/new", admin, {"token": "family_2026", "uses_allowed": 3})
    assert made == {
        "token": "family_2026",
        "uses_allowed": 3,
        "pending": 0,
        "completed": 0,
        "expiry_time": None,
    }
    generated = await ok(hs, "POST", f"{PATH}/new", admin, {"length": 20})
    assert len(generated["token"]) == 20 and generated["uses_allowed"] is None
    default = await ok(hs, "POST", f"{PATH}/new", admin, {})
    assert len(default["token"]) == 16

    listed = (await ok(hs, "GET", PATH, admin))["registration_tokens"]
    assert {t["token"] for t in listed} == {"family_2026", generated["token"], default["token"]}
    assert await ok(hs, "GET", f"{PATH}/family_2026", admin) == made

    # Update: given fields change (null included), others stay.
    later = hs.clock() + 60_000
    updated = await ok(hs, "PUT", f"{PATH}/family_2026", admin, {"expiry_time": later})
    assert (updated["uses_allowed"], updated["expiry_time"]) == (3, later)
    updated = await ok(hs, "PUT", f"{PATH}/family_2026", admin, {"uses_allowed": None})
    assert (updated["uses_allowed"], updated["expiry_time"]) == (None, later)

    # Expired tokens are listed as invalid.
    hs.clock.advance(120_000)
    invalid = (await ok(hs, "GET", PATH, admin, valid="false"))["registration_tokens"]
    assert [t["token"] for t in invalid] == ["family_2026"]
    valid = (await ok(hs, "GET", PATH, admin, valid="true"))["registration_tokens"]
    assert "family_2026" not in {t["token"] for t in valid} and len(valid) == 2

    assert await ok(hs, "DELETE", f"{PATH}/family_2026", admin) == {}
    for method in ("GET", "DELETE"):
        status, reply = await hs.request(method, f"{PATH}/family_2026", token=admin)
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    status, reply = await hs.request("PUT", f"{PATH}/nope", {"uses_allowed": 1}, token=admin)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_bad_input_changes_nothing(start: StartHomeserver) -> None:
    hs, admin, _ = await tokens_server(start)
    await ok(hs, "POST", f"{PATH}/new", admin, {"token": "taken", "uses_allowed": 2})
    refusals: list[dict[str, Any]] = [
        {"token": "has space"},
        {"token": "x" * 65},
        {"token": 7},
        {"token": "taken"},
        {"uses_allowed": -1},
        {"uses_allowed": "1"},
        {"uses_allowed": True},
        {"expiry_time": hs.clock() - 1},
        {"expiry_time": 1.5},
        {"length": 0},
        {"length": 65},
    ]
    for body in refusals:
        status, reply = await hs.request("POST", f"{PATH}/new", body, token=admin)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), body
    for body in ({"uses_allowed": -3}, {"expiry_time": 0}):
        status, reply = await hs.request("PUT", f"{PATH}/taken", body, token=admin)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), body
    status, reply = await hs.request("GET", PATH, token=admin, params={"valid": "yes"})
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    listed = (await ok(hs, "GET", PATH, admin))["registration_tokens"]
    assert listed == [
        {"token": "taken", "uses_allowed": 2, "pending": 0, "completed": 0, "expiry_time": None}
    ]


async def test_admin_tokens_register_until_used_up(start: StartHomeserver) -> None:
    hs, admin, _ = await tokens_server(start)
    await ok(hs, "POST", f"{PATH}/new", admin, {"token": "once", "uses_allowed": 1})
    assert (await hs.request("GET", VALIDITY, params={"token": "once"}))[1] == {"valid": True}

    status, reply = await register_with(hs, "bob", "once")
    assert status == 200 and reply["user_id"] == "@bob:test.example", reply
    info = await ok(hs, "GET", f"{PATH}/once", admin)
    assert (info["pending"], info["completed"]) == (0, 1)

    # Used up: refused at the stage, and no longer valid.
    status, reply = await register_with(hs, "carol", "once")
    assert (status, reply["errcode"]) == (401, "M_FORBIDDEN")
    assert not hs.services.users.accounts.exists("@carol:test.example")
    assert (await hs.request("GET", VALIDITY, params={"token": "once"}))[1] == {"valid": False}
    # An unknown token is refused; the config's token still works.
    status, reply = await register_with(hs, "carol", "never-made")
    assert (status, reply["errcode"]) == (401, "M_FORBIDDEN")
    status, reply = await register_with(hs, "carol", CONFIG_TOKEN)
    assert status == 200, reply


async def test_pending_use_holds_a_place(start: StartHomeserver) -> None:
    """The stage reserves a use; a second registration cannot take it meanwhile."""
    hs, admin, _ = await tokens_server(start)
    await ok(hs, "POST", f"{PATH}/new", admin, {"token": "once", "uses_allowed": 1})
    # A stage completed in a session whose registration then fails (no password).
    body = {"username": "dave", "auth": {"type": "m.login.registration_token", "token": "once"}}
    status, reply = await hs.request("POST", "/register", body)
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")
    info = await ok(hs, "GET", f"{PATH}/once", admin)
    assert (info["pending"], info["completed"]) == (1, 0)
    status, reply = await register_with(hs, "erin", "once")
    assert (status, reply["errcode"]) == (401, "M_FORBIDDEN")
