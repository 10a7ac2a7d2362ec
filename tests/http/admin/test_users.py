"""Synapse's user admin API: list, query, create-or-modify, deactivate, reset password,
joined rooms; each for server admins only (401 without a token, 403 for others)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.client.test_pushers import pusher
from tests.kit.homeserver import Homeserver, StartHomeserver

V1 = "/_synapse/admin/v1"
V2 = "/_synapse/admin/v2"
ALICE = "@alice:test.example"


async def users_server(start: StartHomeserver) -> tuple[Homeserver, str, str]:
    """A server with an admin (the first account) and alice; their tokens."""
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    return hs, admin, alice


async def ok(
    hs: Homeserver, method: str, path: str, token: str, body: Any = None, **params: str
) -> Any:
    status, reply = await hs.request(method, path, body, token=token, params=params or None)
    assert status == 200, reply
    return reply


ENDPOINTS = [
    ("GET", f"{V2}/users", None),
    ("GET", f"{V2}/users/{ALICE}", None),
    ("PUT", f"{V2}/users/@new:test.example", {"password": "pw"}),
    ("POST", f"{V1}/deactivate/{ALICE}", {}),
    ("POST", f"{V1}/reset_password/{ALICE}", {"new_password": "new"}),
    ("GET", f"{V1}/users/{ALICE}/joined_rooms", None),
    ("GET", f"{V2}/users/{ALICE}/devices", None),
    ("GET", f"{V1}/users/{ALICE}/admin", None),
    ("PUT", f"{V1}/users/{ALICE}/admin", {"admin": True}),
    ("DELETE", f"{V2}/users/{ALICE}/devices/D", None),
    ("GET", f"{V1}/users/{ALICE}/pushers", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_admins_only(start: StartHomeserver, method: str, path: str, body: Any) -> None:
    hs, _, alice = await users_server(start)
    status, reply = await hs.request(method, path, body)
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request(method, path, body, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    # Nothing changed: alice is active with her password, nobody new exists.
    accounts = hs.services.users.accounts
    assert accounts.is_active(ALICE) and not accounts.exists("@new:test.example")
    await hs.login("alice")


async def test_list_filters_orders_and_pages(start: StartHomeserver) -> None:
    hs, admin, _ = await users_server(start)
    for name in ("bob", "carol", "dave"):
        await hs.register(name)
    await ok(hs, "POST", f"{V1}/deactivate/@dave:test.example", admin, {})

    reply = await ok(hs, "GET", f"{V2}/users", admin)
    names = [u["name"] for u in reply["users"]]
    assert names == sorted(names) and "@dave:test.example" not in names
    assert reply["total"] == len(names) and "next_token" not in reply
    row = next(u for u in reply["users"] if u["name"] == "@admin:test.example")
    assert (row["admin"], row["is_guest"], row["deactivated"], row["erased"]) == (1, 0, 0, False)
    assert row["displayname"] == "admin" and row["creation_ts"] == hs.clock()

    # Pages: next_token is the next offset, as a string, until the last page.
    paged: list[str] = []
    params = {"limit": "2"}
    while True:
        page = await ok(hs, "GET", f"{V2}/users", admin, **params)
        assert page["total"] == len(names) and len(page["users"]) <= 2
        paged += [u["name"] for u in page["users"]]
        if "next_token" not in page:
            break
        assert page["next_token"] == str(len(paged))
        params = {"limit": "2", "from": page["next_token"]}
    assert paged == names

    # Deactivated users on request; the name filter (localpart or display name).
    reply = await ok(hs, "GET", f"{V2}/users", admin, deactivated="true")
    assert "@dave:test.example" in [u["name"] for u in reply["users"]]
    reply = await ok(hs, "GET", f"{V2}/users", admin, name="CAR")
    assert [u["name"] for u in reply["users"]] == ["@carol:test.example"]
    reply = await ok(hs, "GET", f"{V2}/users", admin, admins="true")
    # The admin room's server user is an admin account too.
    assert [u["name"] for u in reply["users"]] == ["@admin:test.example", "@conduit:test.example"]
    reply = await ok(hs, "GET", f"{V2}/users", admin, order_by="admin", dir="b")
    assert reply["users"][0]["name"] == "@admin:test.example"

    for params in (
        {"from": "-1"},
        {"limit": "x"},
        {"order_by": "shoe_size"},
        {"dir": "up"},
        {"guests": "yes"},
    ):
        status, reply = await hs.request("GET", f"{V2}/users", token=admin, params=params)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), params


async def test_query_user(start: StartHomeserver) -> None:
    hs, admin, _ = await users_server(start)
    reply = await ok(hs, "GET", f"{V2}/users/{ALICE}", admin)
    assert reply["name"] == ALICE and reply["admin"] == 0 and reply["deactivated"] == 0
    assert reply["threepids"] == [] and reply["creation_ts"] == hs.clock() // 1000
    status, reply = await hs.request("GET", f"{V2}/users/@nobody:test.example", token=admin)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    status, reply = await hs.request("GET", f"{V2}/users/@alice:elsewhere.example", token=admin)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    status, reply = await hs.request("GET", f"{V2}/users/not-a-user-id", token=admin)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")


async def test_create_then_modify(start: StartHomeserver) -> None:
    hs, admin, _ = await users_server(start)
    path = f"{V2}/users/@erin:test.example"
    body = {"password": "erin-pw", "displayname": "Erin", "admin": True}
    status, reply = await hs.request("PUT", path, body, token=admin)
    assert status == 201, reply
    assert (reply["name"], reply["displayname"], reply["admin"]) == (
        "@erin:test.example",
        "Erin",
        1,
    )
    erin = await hs.login("erin", "erin-pw")
    # A new admin is brought into the admin room, as make-user-admin does.
    admin_room = hs.admin.room.room_id()
    assert admin_room is not None
    members = hs.services.rooms.storage.member_index
    assert members.is_joined("@erin:test.example", admin_room)

    # Modify: 200; the new password logs the old sessions out (logout_devices default).
    status, reply = await hs.request(
        "PUT", path, {"password": "second", "displayname": "E."}, token=admin
    )
    assert status == 200 and reply["displayname"] == "E.", reply
    status, reply = await hs.request("GET", "/account/whoami", token=erin["access_token"])
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    await hs.login("erin", "second")
    # Demoted: out of the admin room.
    await ok(hs, "PUT", path, admin, {"admin": False})
    assert not hs.services.users.accounts.is_admin("@erin:test.example")
    assert not members.is_joined("@erin:test.example", admin_room)

    # Deactivated, then re-activated (which needs a password).
    await ok(hs, "PUT", path, admin, {"deactivated": True})
    assert not hs.services.users.accounts.is_active("@erin:test.example")
    status, reply = await hs.request("PUT", path, {"deactivated": False}, token=admin)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    reply = await ok(hs, "PUT", path, admin, {"deactivated": False, "password": "third"})
    assert reply["deactivated"] == 0
    await hs.login("erin", "third")


async def test_create_or_modify_refusals_change_nothing(start: StartHomeserver) -> None:
    hs, admin, _ = await users_server(start)
    accounts = hs.services.users.accounts
    refusals = [
        ("@new:test.example", {"admin": "yes"}, 400, "M_BAD_JSON"),
        ("@new:test.example", {"password": 5}, 400, "M_BAD_JSON"),
        ("@new:test.example", {"password": "x" * 513}, 400, "M_INVALID_PARAM"),
        (
            "@new:test.example",
            {"threepids": [{"medium": "email", "address": "a@b"}]},
            400,
            "M_INVALID_PARAM",
        ),
        ("@new:test.example", {"deactivated": True}, 400, "M_INVALID_PARAM"),
        ("@NEW:test.example", {"password": "pw"}, 400, "M_INVALID_USERNAME"),
        ("@new:elsewhere.example", {"password": "pw"}, 400, "M_INVALID_PARAM"),
        ("@admin:test.example", {"admin": False}, 400, "M_INVALID_PARAM"),  # no self-demotion
        ("@conduit:test.example", {"password": "pw"}, 400, "M_INVALID_PARAM"),  # the server user
    ]
    for user, body, status_code, errcode in refusals:
        status, reply = await hs.request("PUT", f"{V2}/users/{user}", body, token=admin)
        assert (status, reply.get("errcode")) == (status_code, errcode), (user, body, reply)
    assert not accounts.exists("@new:test.example") and accounts.is_admin("@admin:test.example")
    status, reply = await hs.request("PUT", f"{V2}/users/@new:test.example", [1], token=admin)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")


async def test_deactivate_with_erase(start: StartHomeserver) -> None:
    hs, admin, alice = await users_server(start)
    status, reply = await hs.request(
        "POST", f"{V1}/deactivate/{ALICE}", {"erase": "yes"}, token=admin
    )
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    assert hs.services.users.accounts.is_active(ALICE)
    reply = await ok(hs, "POST", f"{V1}/deactivate/{ALICE}", admin, {"erase": True})
    assert reply == {"id_server_unbind_result": "success"}
    assert not hs.services.users.accounts.is_active(ALICE)
    assert hs.services.users.erasures.is_erased(ALICE)
    status, reply = await hs.request("GET", "/account/whoami", token=alice)
    assert status == 401, reply
    details = await ok(hs, "GET", f"{V2}/users/{ALICE}", admin)
    assert (details["deactivated"], details["erased"]) == (1, True)
    status, reply = await hs.request(
        "POST", f"{V1}/deactivate/@nobody:test.example", {}, token=admin
    )
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_reset_password(start: StartHomeserver) -> None:
    hs, admin, alice = await users_server(start)
    path = f"{V1}/reset_password/{ALICE}"
    refusals = [
        ({}, "M_MISSING_PARAM"),
        ({"new_password": 1}, "M_BAD_JSON"),
        ({"new_password": "x", "logout_devices": "no"}, "M_BAD_JSON"),
    ]
    for body, errcode in refusals:
        status, reply = await hs.request("POST", path, body, token=admin)
        assert (status, reply["errcode"]) == (400, errcode), body
    await hs.login("alice")  # the old password still works
    # logout_devices false keeps the sessions.
    await ok(hs, "POST", path, admin, {"new_password": "next", "logout_devices": False})
    await ok(hs, "GET", "/account/whoami", alice)
    await hs.login("alice", "next")
    await ok(hs, "POST", path, admin, {"new_password": "last"})
    status, _ = await hs.request("GET", "/account/whoami", token=alice)
    assert status == 401
    status, reply = await hs.request(
        "POST", f"{V1}/reset_password/@nobody:test.example", {"new_password": "x"}, token=admin
    )
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_joined_rooms(start: StartHomeserver) -> None:
    hs, admin, alice = await users_server(start)
    room = (await ok(hs, "POST", "/createRoom", alice, {}))["room_id"]
    reply = await ok(hs, "GET", f"{V1}/users/{ALICE}/joined_rooms", admin)
    assert reply == {"joined_rooms": [room], "total": 1}
    status, reply = await hs.request(
        "GET", f"{V1}/users/@nobody:test.example/joined_rooms", token=admin
    )
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_server_version_needs_no_token(start: StartHomeserver) -> None:
    hs = await start()
    status, reply = await hs.request("GET", f"{V1}/server_version")
    assert status == 200 and isinstance(reply["server_version"], str) and reply["server_version"]


async def test_devices_list_and_log_out(start: StartHomeserver) -> None:
    hs, admin, alice = await users_server(start)
    second = await hs.login("alice")
    reply = await ok(hs, "GET", f"{V2}/users/{ALICE}/devices", admin)
    assert reply["total"] == 2 and {d["user_id"] for d in reply["devices"]} == {ALICE}
    assert second["device_id"] in {d["device_id"] for d in reply["devices"]}
    assert await ok(hs, "DELETE", f"{V2}/users/{ALICE}/devices/{second['device_id']}", admin) == {}
    status, _ = await hs.request("GET", "/account/whoami", token=second["access_token"])
    assert status == 401
    await ok(hs, "GET", "/account/whoami", alice)  # the other session stays
    # An unknown device is no error (Synapse); an unknown user is.
    assert await ok(hs, "DELETE", f"{V2}/users/{ALICE}/devices/NOPE", admin) == {}
    status, reply = await hs.request("GET", f"{V2}/users/@nobody:test.example/devices", token=admin)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_admin_flag(start: StartHomeserver) -> None:
    hs, admin, _ = await users_server(start)
    path = f"{V1}/users/{ALICE}/admin"
    assert await ok(hs, "GET", path, admin) == {"admin": False}
    for body, errcode in (({"admin": "yes"}, "M_BAD_JSON"), ({}, "M_MISSING_PARAM")):
        status, reply = await hs.request("PUT", path, body, token=admin)
        assert (status, reply["errcode"]) == (400, errcode), body
    assert await ok(hs, "PUT", path, admin, {"admin": True}) == {}
    assert await ok(hs, "GET", path, admin) == {"admin": True}
    admin_room = hs.admin.room.room_id()
    assert admin_room is not None
    assert hs.services.rooms.storage.member_index.is_joined(ALICE, admin_room)
    status, reply = await hs.request(
        "PUT", f"{V1}/users/@admin:test.example/admin", {"admin": False}, token=admin
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")  # no self-demotion
    status, reply = await hs.request("GET", f"{V1}/users/@nobody:test.example/admin", token=admin)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_a_users_pushers(start: StartHomeserver) -> None:
    # The pusher's gateway is on loopback.
    hs = await start(ip_range_denylist="[]")
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    path = f"{V1}/users/{ALICE}/pushers"
    assert await ok(hs, "GET", path, admin) == {"pushers": [], "total": 0}
    await ok(hs, "POST", "/pushers/set", alice, pusher())
    reply = await ok(hs, "GET", path, admin)
    (one,) = reply["pushers"]
    assert reply["total"] == 1
    assert one == {
        **pusher(),
        "device_id": hs.services.users.devices.list_devices(ALICE)[0].device_id,
        "enabled": True,
    }
    for target, expected in (
        ("@nobody:test.example", (404, "M_NOT_FOUND")),
        ("@alice:elsewhere.example", (400, "M_INVALID_PARAM")),
    ):
        status, reply = await hs.request("GET", f"{V1}/users/{target}/pushers", token=admin)
        assert (status, reply["errcode"]) == expected, target
