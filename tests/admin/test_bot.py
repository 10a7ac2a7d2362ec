"""The admin bot, through the real admin room: commands in, m.notice replies out."""

from __future__ import annotations

from tests.admin.kit import BOT, admin_room_id, bot_replies, command, say
from tests.kit.homeserver import Homeserver


async def test_reply_is_a_notice_with_html(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    await hs.register("bob")
    reply = await command(hs, alice, "!admin users list-users")
    assert reply["msgtype"] == "m.notice"
    assert reply["format"] == "org.matrix.custom.html"
    assert "@alice:test.example (admin)" in reply["body"]
    assert "@bob:test.example" in reply["body"]
    assert BOT not in reply["body"]
    assert reply["formatted_body"].startswith("Found 2 local user account(s):<pre><code>@alice")


async def test_mention_form_is_accepted(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, f"{BOT}: server uptime")
    assert reply["body"].startswith("Up for 0 days")


async def test_plain_messages_are_ignored(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    before = len(await bot_replies(hs, alice))  # the registration notice
    await say(hs, alice, "hello admins")
    await say(hs, alice, "!administrator")
    # A command after them is the first thing the bot answers.
    reply = await command(hs, alice, "!admin server memory-usage")
    assert reply["body"].startswith("Resident set size: ")
    assert len(await bot_replies(hs, alice)) == before + 1


async def test_non_admins_are_refused_and_nothing_is_done(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    room_id = admin_room_id(hs)
    # An admin brings bob in (invites are for power 50+), then revokes nothing.
    status, reply = await hs.request(
        "POST", f"/rooms/{room_id}/invite", {"user_id": bob}, token=hs.tokens[alice]
    )
    assert status == 200, reply
    status, reply = await hs.request("POST", f"/rooms/{room_id}/join", {}, token=hs.tokens[bob])
    assert status == 200, reply
    reply = await command(hs, bob, "!admin users make-user-admin @bob:test.example")
    assert reply["body"] == f"{bob} is not a server admin: commands are only for admins."
    assert not hs.services.users.accounts.is_admin(bob)


async def test_help_unknown_and_usage_errors(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, "!admin")
    assert "users" in reply["body"] and "rooms" in reply["body"] and "server" in reply["body"]
    reply = await command(hs, alice, "!admin users --help")
    assert "create-user" in reply["body"] and "list-joined-rooms" in reply["body"]
    reply = await command(hs, alice, "!admin users create-user --help")
    assert "username" in reply["body"]
    reply = await command(hs, alice, "!admin frobnicate now")
    assert reply["body"].startswith("Unknown command")
    reply = await command(hs, alice, "!admin users frobnicate")
    assert reply["body"].startswith("Unknown command")
    reply = await command(hs, alice, "!admin users deactivate")
    assert "the following arguments are required: user_id" in reply["body"]
    reply = await command(hs, alice, "!admin users deactivate 'unclosed")
    assert reply["body"].startswith("Could not parse the command")
