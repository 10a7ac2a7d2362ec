"""A locked account (client-server API "Account locking"): every authenticated
request but the logouts answers 401 M_USER_LOCKED with ``soft_logout: true``; its
tokens are kept and work again once unlocked; it cannot log in or refresh."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.ids import UserId
from tests.kit.homeserver import PASSWORD, Homeserver, StartHomeserver

ALICE = "@alice:test.example"
LOCK = f"/_matrix/client/v1/admin/lock/{ALICE}"


async def locked_server(start: StartHomeserver) -> tuple[Homeserver, str, dict[str, Any]]:
    """An admin, alice (registered with a refresh token) and a room of hers; alice
    is locked. Returns the admin's token and alice's registration reply."""
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = await hs.register("alice", refresh_token=True)
    status, _ = await hs.request("PUT", LOCK, {"locked": True}, token=admin)
    assert status == 200
    return hs, admin, alice


def assert_locked(status: int, reply: Any) -> None:
    assert status == 401, reply
    assert reply["errcode"] == "M_USER_LOCKED" and reply["soft_logout"] is True


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/account/whoami", None),
        ("GET", "/sync", None),
        ("GET", "/capabilities", None),
        ("GET", "/joined_rooms", None),
        ("POST", "/createRoom", {}),
        ("PUT", f"/profile/{ALICE}/displayname", {"displayname": "A"}),
        # Routes where a token is optional refuse a locked one too (Synapse).
        ("GET", f"/profile/{ALICE}", None),
        ("POST", "/keys/upload", {}),
        ("GET", "/_matrix/client/v1/media/config", None),
    ],
)
async def test_every_route_refuses(
    start: StartHomeserver, method: str, path: str, body: Any
) -> None:
    hs, _, alice = await locked_server(start)
    status, reply = await hs.request(method, path, body, token=alice["access_token"])
    assert_locked(status, reply)
    assert hs.services.users.profiles.get(ALICE).get("displayname") != "A"


async def test_versions_answer(start: StartHomeserver) -> None:
    hs, _, alice = await locked_server(start)
    status, _ = await hs.request("GET", "/_matrix/client/versions", token=alice["access_token"])
    assert status == 200


async def test_tokens_kept_and_work_after_unlock(start: StartHomeserver) -> None:
    hs, admin, alice = await locked_server(start)
    status, reply = await hs.request("GET", "/account/whoami", token=alice["access_token"])
    assert_locked(status, reply)
    status, _ = await hs.request("PUT", LOCK, {"locked": False}, token=admin)
    assert status == 200
    status, reply = await hs.request("GET", "/account/whoami", token=alice["access_token"])
    assert (status, reply["user_id"]) == (200, ALICE)


async def test_login_and_refresh_refused_until_unlocked(start: StartHomeserver) -> None:
    hs, admin, alice = await locked_server(start)
    login = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": PASSWORD,
    }
    status, reply = await hs.request("POST", "/login", login)
    assert_locked(status, reply)
    # The credentials are checked first: a wrong password says nothing of the lock.
    status, reply = await hs.request("POST", "/login", {**login, "password": "wrong"})
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await hs.request("POST", "/refresh", {"refresh_token": alice["refresh_token"]})
    assert_locked(status, reply)
    assert len(hs.services.users.devices.list_devices(ALICE)) == 1
    status, _ = await hs.request("PUT", LOCK, {"locked": False}, token=admin)
    assert status == 200
    # The refused refresh left the refresh token unused.
    status, reply = await hs.request("POST", "/refresh", {"refresh_token": alice["refresh_token"]})
    assert status == 200 and reply["access_token"] != alice["access_token"]
    await hs.login("alice")


@pytest.mark.parametrize("path", ["/logout", "/logout/all"])
async def test_logouts_allowed(start: StartHomeserver, path: str) -> None:
    hs, _, alice = await locked_server(start)
    status, reply = await hs.request("POST", path, {}, token=alice["access_token"])
    assert (status, reply) == (200, {})
    assert hs.services.users.devices.list_devices(ALICE) == []
    status, reply = await hs.request("GET", "/account/whoami", token=alice["access_token"])
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_left_out_of_the_user_directory(start: StartHomeserver) -> None:
    """As Synapse (``show_locked_users: false``): found again once unlocked."""
    hs, admin, _ = await locked_server(start)
    bob = (await hs.register("bob"))["access_token"]
    status, room = await hs.request("POST", "/createRoom", {"preset": "public_chat"}, token=bob)
    assert status == 200
    # alice shares the room with bob (joined through the service: her own requests
    # are refused while locked).
    await hs.services.rooms.membership.join(UserId.parse(ALICE), room["room_id"])

    async def found() -> list[str]:
        status, reply = await hs.request(
            "POST", "/user_directory/search", {"search_term": "alice"}, token=bob
        )
        assert status == 200
        return [r["user_id"] for r in reply["results"]]

    assert await found() == []
    status, _ = await hs.request("PUT", LOCK, {"locked": False}, token=admin)
    assert status == 200
    assert await found() == [ALICE]
