"""The spec's account moderation endpoints (v1.18): ``GET``/``PUT
/_matrix/client/v1/admin/lock|suspend/{userId}``, their refusals in the spec's order
(non-admins before any lookup), the capability, persistence across a restart, and
Synapse's ``PUT /_synapse/admin/v1/suspend/{userId}`` and ``locked`` fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.http.admin.test_users import ok
from tests.kit.homeserver import Homeserver, StartHomeserver, start_homeserver

ALICE = "@alice:test.example"
ADMIN_V1 = "/_matrix/client/v1/admin"
KINDS = [("lock", "locked"), ("suspend", "suspended")]


async def moderation_server(start: StartHomeserver) -> tuple[Homeserver, str, str]:
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    return hs, admin, alice


def flags(hs: Homeserver, user_id: str = ALICE) -> tuple[bool, bool]:
    account = hs.services.users.accounts.get(user_id)
    assert account is not None
    return account.locked, account.suspended


@pytest.mark.parametrize(("kind", "field"), KINDS)
async def test_set_get_and_lift(start: StartHomeserver, kind: str, field: str) -> None:
    hs, admin, _ = await moderation_server(start)
    path = f"{ADMIN_V1}/{kind}/{ALICE}"
    assert await ok(hs, "GET", path, admin) == {field: False}
    assert await ok(hs, "PUT", path, admin, {field: True}) == {field: True}
    assert await ok(hs, "GET", path, admin) == {field: True}
    assert flags(hs) == (kind == "lock", kind == "suspend")
    assert await ok(hs, "PUT", path, admin, {field: False}) == {field: False}
    assert flags(hs) == (False, False)


@pytest.mark.parametrize(("kind", "field"), KINDS)
async def test_refusals(start: StartHomeserver, kind: str, field: str) -> None:
    hs, admin, alice = await moderation_server(start)
    await hs.register("boss")
    hs.services.users.accounts.set_admin("@boss:test.example", True)
    await hs.register("gone")
    hs.services.users.accounts.set_deactivated("@gone:test.example", True)
    for method, body in (("GET", None), ("PUT", {field: True})):
        status, reply = await hs.request(method, f"{ADMIN_V1}/{kind}/{ALICE}", body)
        assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
        # A non-admin learns nothing about the target, existing or not.
        for target in (ALICE, "@nobody:test.example", "@x:elsewhere.example", "bad"):
            path = f"{ADMIN_V1}/{kind}/{target}"
            status, reply = await hs.request(method, path, body, token=alice)
            assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), target
        for target, expected in (
            ("@x:elsewhere.example", (400, "M_INVALID_PARAM")),
            ("not-a-user", (400, "M_INVALID_PARAM")),
            ("@nobody:test.example", (404, "M_NOT_FOUND")),
            ("@gone:test.example", (404, "M_NOT_FOUND")),
            ("@boss:test.example", (403, "M_FORBIDDEN")),
        ):
            path = f"{ADMIN_V1}/{kind}/{target}"
            status, reply = await hs.request(method, path, body, token=admin)
            assert (status, reply["errcode"]) == expected, (method, target)
    # One's own account: readable, not changeable.
    assert await ok(hs, "GET", f"{ADMIN_V1}/{kind}/@admin:test.example", admin) == {field: False}
    status, reply = await hs.request(
        "PUT", f"{ADMIN_V1}/{kind}/@admin:test.example", {field: True}, token=admin
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    # Bad bodies change nothing.
    for body, errcode in (({}, "M_MISSING_PARAM"), ({field: "yes"}, "M_BAD_JSON")):
        status, reply = await hs.request("PUT", f"{ADMIN_V1}/{kind}/{ALICE}", body, token=admin)
        assert (status, reply["errcode"]) == (400, errcode)
    for user in (ALICE, "@admin:test.example", "@boss:test.example", "@gone:test.example"):
        assert flags(hs, user) == (False, False)


async def test_capability_for_admins_only(start: StartHomeserver) -> None:
    hs, admin, alice = await moderation_server(start)
    mine = (await ok(hs, "GET", "/capabilities", admin))["capabilities"]
    assert mine["m.account_moderation"] == {"suspend": True, "lock": True}
    theirs = (await ok(hs, "GET", "/capabilities", alice))["capabilities"]
    assert "m.account_moderation" not in theirs


async def test_flags_survive_a_restart(tmp_path: Path) -> None:
    hs = await start_homeserver(tmp_path / "db")
    try:
        admin = (await hs.register("admin"))["access_token"]
        alice = (await hs.register("alice"))["access_token"]
        await hs.register("bob")
        await ok(hs, "PUT", f"{ADMIN_V1}/lock/{ALICE}", admin, {"locked": True})
        await ok(hs, "PUT", f"{ADMIN_V1}/suspend/@bob:test.example", admin, {"suspended": True})
    finally:
        await hs.close()
    hs = await start_homeserver(tmp_path / "db")
    try:
        assert await ok(hs, "GET", f"{ADMIN_V1}/lock/{ALICE}", admin) == {"locked": True}
        bob = f"{ADMIN_V1}/suspend/@bob:test.example"
        assert await ok(hs, "GET", bob, admin) == {"suspended": True}
        status, reply = await hs.request("GET", "/account/whoami", token=alice)
        assert (status, reply["errcode"]) == (401, "M_USER_LOCKED")
        status, reply = await hs.request(
            "PUT",
            "/profile/@bob:test.example/displayname",
            {"displayname": "B"},
            token=(await hs.login("bob"))["access_token"],
        )
        assert (status, reply["errcode"]) == (403, "M_USER_SUSPENDED")
    finally:
        await hs.close()


# -- Synapse's admin API ---------------------------------------------------------------
SYNAPSE_SUSPEND = "/_synapse/admin/v1/suspend"


async def test_synapse_suspend_endpoint(start: StartHomeserver) -> None:
    hs, admin, alice = await moderation_server(start)
    path = f"{SYNAPSE_SUSPEND}/{ALICE}"
    status, reply = await hs.request("PUT", path, {"suspend": True}, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    for target, expected in (
        ("@x:elsewhere.example", (400, "M_INVALID_PARAM")),
        ("@nobody:test.example", (404, "M_NOT_FOUND")),
    ):
        status, reply = await hs.request(
            "PUT", f"{SYNAPSE_SUSPEND}/{target}", {"suspend": True}, token=admin
        )
        assert (status, reply["errcode"]) == expected
    status, reply = await hs.request("PUT", path, {"suspend": 1}, token=admin)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    assert flags(hs) == (False, False)
    reply = await ok(hs, "PUT", path, admin, {"suspend": True})
    assert reply == {f"user_{ALICE}_suspended": True}
    details = await ok(hs, "GET", f"/_synapse/admin/v2/users/{ALICE}", admin)
    assert (details["suspended"], details["locked"]) == (True, False)
    assert await ok(hs, "PUT", path, admin, {"suspend": False}) == {
        f"user_{ALICE}_suspended": False
    }
    assert flags(hs) == (False, False)


async def test_synapse_users_locked_field_and_listing(start: StartHomeserver) -> None:
    hs, admin, _ = await moderation_server(start)
    user = f"/_synapse/admin/v2/users/{ALICE}"
    status, reply = await hs.request(
        "PUT", user, {"locked": True, "deactivated": True}, token=admin
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    assert flags(hs) == (False, False) and hs.services.users.accounts.is_active(ALICE)
    status, reply = await hs.request("PUT", user, {"locked": "yes"}, token=admin)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    assert (await ok(hs, "PUT", user, admin, {"locked": True}))["locked"] is True
    assert flags(hs) == (True, False)

    def names(listing: Any) -> list[str]:
        return [u["name"] for u in listing["users"]]

    # Synapse leaves locked accounts out of the listing unless asked.
    assert ALICE not in names(await ok(hs, "GET", "/_synapse/admin/v2/users", admin))
    listed = await ok(hs, "GET", "/_synapse/admin/v2/users", admin, locked="true")
    row = next(u for u in listed["users"] if u["name"] == ALICE)
    assert row["locked"] is True
    assert (await ok(hs, "PUT", user, admin, {"locked": False}))["locked"] is False
    assert ALICE in names(await ok(hs, "GET", "/_synapse/admin/v2/users", admin))
    created = "/_synapse/admin/v2/users/@new:test.example"
    status, reply = await hs.request(
        "PUT", created, {"password": "pw", "locked": True}, token=admin
    )
    assert status == 201 and reply["locked"] is True
