"""``!admin users`` through the admin room."""

from __future__ import annotations

from tests.admin.kit import BOT, admin_room_id, command
from tests.kit.homeserver import PASSWORD, Homeserver


async def test_create_user_with_password_and_generated(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, "!admin users create-user carol hunter2hunter2")
    assert reply["body"] == "Created user @carol:test.example."
    await hs.login("carol", "hunter2hunter2")
    reply = await command(hs, alice, "!admin users create-user dave")
    password = reply["body"].split("`")[1]
    await hs.login("dave", password)
    # Taken and invalid names change nothing.
    reply = await command(hs, alice, "!admin users create-user carol other")
    assert reply["body"] == "Error: The desired user ID is already taken."
    await hs.login("carol", "hunter2hunter2")
    reply = await command(hs, alice, "!admin users create-user 'Bad Name'")
    assert reply["body"].startswith("Error: User ID can only contain")
    assert not hs.services.users.accounts.exists("@Bad Name:test.example")


async def test_reset_password_logs_out(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    reply = await command(hs, alice, "!admin users reset-password bob new-password-1")
    assert reply["body"].startswith(f"Password of {bob} changed")
    status, _ = await hs.request("GET", "/account/whoami", token=hs.tokens[bob])
    assert status == 401
    await hs.login("bob", "new-password-1")
    status, reply = await hs.request(
        "POST",
        "/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "bob"},
            "password": PASSWORD,
        },
    )
    assert status == 403
    for target in ("nobody", "@bob:elsewhere.example", BOT, "@@@"):
        reply = await command(hs, alice, f"!admin users reset-password {target} x")
        assert reply["body"].startswith("Error: "), reply


async def test_deactivate(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    reply = await command(hs, alice, f"!admin users deactivate {bob}")
    assert reply["body"] == f"Deactivated {bob}."
    assert not hs.services.users.accounts.is_active(bob)
    reply = await command(hs, alice, f"!admin users deactivate {bob}")
    assert reply["body"] == f"Error: {bob} is deactivated"
    reply = await command(hs, alice, "!admin users list-users")
    assert bob not in reply["body"]


async def test_make_and_revoke_admin(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    room_id = admin_room_id(hs)
    reply = await command(hs, alice, f"!admin users make-user-admin {bob}")
    assert reply["body"] == f"{bob} is now a server admin."
    assert hs.services.users.accounts.is_admin(bob)
    status, joined = await hs.request("GET", "/joined_rooms", token=hs.tokens[bob])
    assert joined["joined_rooms"] == [room_id]
    status, power = await hs.request(
        "GET", f"/rooms/{room_id}/state/m.room.power_levels", token=hs.tokens[bob]
    )
    assert power["users"][bob] == 100
    # bob's commands now run.
    reply = await command(hs, bob, "!admin server uptime")
    assert reply["body"].startswith("Up for")
    reply = await command(hs, alice, f"!admin users make-user-admin {bob}")
    assert reply["body"] == f"Error: {bob} is already an admin"
    reply = await command(hs, alice, f"!admin users revoke-user-admin {bob}")
    assert reply["body"] == f"{bob} is no longer a server admin."
    assert not hs.services.users.accounts.is_admin(bob)
    status, joined = await hs.request("GET", "/joined_rooms", token=hs.tokens[bob])
    assert status == 200
    assert joined["joined_rooms"] == []
    reply = await command(hs, alice, f"!admin users revoke-user-admin {bob}")
    assert reply["body"] == f"Error: {bob} is not an admin"


async def test_list_joined_rooms_and_devices(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    status, created = await hs.request("POST", "/createRoom", {}, token=hs.tokens[bob])
    assert status == 200
    reply = await command(hs, alice, f"!admin users list-joined-rooms {bob}")
    assert reply["body"] == f"{bob} is joined to 1 room(s):\n```\n{created['room_id']}\n```"
    reply = await command(hs, alice, "!admin users list-devices bob")
    assert reply["body"].startswith(f"{bob} has 1 device(s):")


async def test_lock_unlock_suspend_unsuspend(hs: Homeserver) -> None:
    admin = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    accounts = hs.services.users.accounts
    reply = await command(hs, admin, f"!admin users lock {bob}")
    assert reply["body"] == f"{bob} is now locked."
    status, reply = await hs.request("GET", "/account/whoami", token=hs.tokens[bob])
    assert (status, reply["errcode"]) == (401, "M_USER_LOCKED")
    reply = await command(hs, admin, "!admin users lock bob")
    assert reply["body"] == f"Error: {bob} is already locked"
    reply = await command(hs, admin, "!admin users suspend bob")
    assert reply["body"] == f"{bob} is now suspended."
    listing = (await command(hs, admin, "!admin users list-users"))["body"]
    assert f"{bob} (locked, suspended)" in listing
    reply = await command(hs, admin, "!admin users unlock bob")
    assert reply["body"] == f"{bob} is no longer locked."
    status, reply = await hs.request(
        "PUT", f"/profile/{bob}/displayname", {"displayname": "B"}, token=hs.tokens[bob]
    )
    assert (status, reply["errcode"]) == (403, "M_USER_SUSPENDED")
    reply = await command(hs, admin, "!admin users unsuspend bob")
    assert reply["body"] == f"{bob} is no longer suspended."
    reply = await command(hs, admin, "!admin users unsuspend bob")
    assert reply["body"] == f"Error: {bob} is not suspended"
    account = accounts.get(bob)
    assert account is not None and not account.locked and not account.suspended
    # Admins (their own account included), unknown and remote users are refused.
    for target in (admin, "nobody", "@bob:elsewhere.example", BOT):
        for verb in ("lock", "suspend"):
            reply = await command(hs, admin, f"!admin users {verb} {target}")
            assert reply["body"].startswith("Error: "), (verb, target, reply)
    account = accounts.get(admin)
    assert account is not None and not account.locked and not account.suspended
