"""Registration notices in the admin room (admin_room_notices, log_guest_registrations)."""

from __future__ import annotations

from tests.admin.kit import bot_replies
from tests.kit.homeserver import Homeserver, StartHomeserver


async def register_guest(hs: Homeserver) -> str:
    status, reply = await hs.request("POST", "/register", {}, params={"kind": "guest"})
    assert status == 200, reply
    user_id: str = reply["user_id"]
    return user_id


async def bodies(hs: Homeserver, user: str) -> list[str]:
    return [r["body"] for r in await bot_replies(hs, user)]


async def test_new_users_are_announced_guests_not(start: StartHomeserver) -> None:
    hs = await start(allow_guest_registration=True)
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    await register_guest(hs)
    assert await bodies(hs, alice) == [
        f"New user {alice} registered on this server.",
        f"New user {bob} registered on this server.",
    ]


async def test_guests_announced_when_asked(start: StartHomeserver) -> None:
    hs = await start(log_guest_registrations=True, allow_guest_registration=True)
    alice = (await hs.register("alice"))["user_id"]
    guest = await register_guest(hs)
    assert (await bodies(hs, alice))[-1] == f"New guest user {guest} registered on this server."


async def test_no_notices_when_off(start: StartHomeserver) -> None:
    hs = await start(admin_room_notices=False)
    alice = (await hs.register("alice"))["user_id"]
    await hs.register("bob")
    assert await bodies(hs, alice) == []
