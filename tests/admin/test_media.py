"""``!admin media`` and the server's backups, through the admin room."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.admin.kit import admin_room_id, command
from tests.http.media.test_content import AUTHED, get
from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.service.media.test_repository import OtherServers


async def upload(hs: Homeserver, user: str, data: bytes) -> str:
    async with hs.client.post(
        "/_matrix/media/v3/upload",
        data=data,
        headers={"Authorization": f"Bearer {hs.tokens[user]}", "Content-Type": "text/plain"},
    ) as response:
        assert response.status == 200
        mxc: str = (await response.json())["content_uri"]
        return mxc


def exists(hs: Homeserver, mxc: str) -> bool:
    server, media_id = mxc.removeprefix("mxc://").split("/")
    return hs.services.media.metadata(server, media_id) is not None


async def test_delete_by_mxc(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    mxc = await upload(hs, alice, b"one")
    other = await upload(hs, alice, b"two")
    reply = await command(hs, alice, f"!admin media delete --mxc {mxc}")
    assert reply["body"] == f"Deleted {mxc}."
    assert not exists(hs, mxc) and exists(hs, other)
    reply = await command(hs, alice, f"!admin media delete --mxc {mxc}")
    assert reply["body"] == f"Error: No media {mxc} here"
    reply = await command(hs, alice, "!admin media delete --mxc https://example.org/x")
    assert reply["body"].startswith("Error: 'https://example.org/x' is not an MXC URI")
    for line in ("delete", f"delete --mxc {other} --event-id $x"):
        reply = await command(hs, alice, f"!admin media {line}")
        assert reply["body"] == "Error: Give one of --mxc or --event-id"
    assert exists(hs, other)


async def send(hs: Homeserver, user: str, content: dict[str, Any]) -> str:
    """A message in the admin room (not a command: the bot answers only "!admin")."""
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{admin_room_id(hs)}/send/m.room.message/t{len(content)}{id(content)}",
        content,
        token=hs.tokens[user],
    )
    assert status == 200, reply
    return str(reply["event_id"])


async def test_delete_by_event_id(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    image, thumb, kept = [await upload(hs, alice, data) for data in (b"i", b"t", b"k")]
    content = {"msgtype": "m.image", "body": "x", "url": image, "info": {"thumbnail_url": thumb}}
    event_id = await send(hs, alice, content)
    text = await send(hs, alice, {"msgtype": "m.text", "body": "no media"})
    for line, error in (
        ("$unknown:test.example", "Error: No event $unknown:test.example here"),
        (text, f"Error: Event {text} refers to no media"),
    ):
        reply = await command(hs, alice, f"!admin media delete --event-id {line}")
        assert reply["body"].startswith(error), reply
    assert exists(hs, image) and exists(hs, thumb)
    reply = await command(hs, alice, f"!admin media delete --event-id {event_id}")
    assert reply["body"] == f"Deleted 2 of the 2 media event {event_id} refers to."
    assert not exists(hs, image) and not exists(hs, thumb) and exists(hs, kept)


async def test_delete_list(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    one, two, kept = [await upload(hs, alice, data) for data in (b"1", b"2", b"3")]
    # A line that is not an MXC URI refuses the whole list.
    bad = f"!admin media delete-list\n```\n{one}\nnot-an-mxc\n```"
    reply = await command(hs, alice, bad)
    assert reply["body"].startswith("Error: 'not-an-mxc' is not an MXC URI"), reply
    reply = await command(hs, alice, "!admin media delete-list")
    assert reply["body"] == "Error: Give the MXC URIs in a code block, one a line"
    assert exists(hs, one) and exists(hs, two)
    gone = "mxc://test.example/nothinghere"
    good = f"!admin media delete-list\n```\n{one}\n\n{two}\n{gone}\n```"
    reply = await command(hs, alice, good)
    assert reply["body"] == f"Deleted 2 of 3 media.\nNot here (1):\n```\n{gone}\n```"
    assert not exists(hs, one) and not exists(hs, two) and exists(hs, kept)


async def cache_remote(hs: Homeserver, user: str, *media_ids: str) -> list[str]:
    """Remote media of remote.example downloaded (cached) here, one a minute."""
    hs.services.media.remote = OtherServers({("remote.example", m): m.encode() for m in media_ids})
    for media_id in media_ids:
        got = await get(hs, f"{AUTHED}/download/remote.example/{media_id}", hs.tokens[user])
        assert got.status == 200
        hs.clock.advance(60_000)
    return [f"mxc://remote.example/{m}" for m in media_ids]


async def test_delete_all_from_user(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    bobs = [await upload(hs, bob, b"b1"), await upload(hs, bob, b"b2")]
    alices = await upload(hs, alice, b"a1")
    reply = await command(hs, alice, "!admin media delete-all-from-user bob")
    assert reply["body"] == f"Deleted 2 media uploaded by {bob}."
    assert not any(exists(hs, m) for m in bobs) and exists(hs, alices)
    reply = await command(hs, alice, "!admin media delete-all-from-user @bob:elsewhere.example")
    assert reply["body"].startswith("Error: ")


async def test_delete_past_remote_media_keeps_local(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    mine = await upload(hs, alice, b"local")
    hs.clock.advance(10 * 86_400_000)
    reply = await command(hs, alice, "!admin media delete-past-remote-media 7d")
    assert reply["body"] == "Deleted 0 remote media cached more than 7d ago."
    assert exists(hs, mine)
    for bad in ("7", "7y", "-1d", "d"):
        reply = await command(hs, alice, f"!admin media delete-past-remote-media {bad}")
        # "-1d" reads as an unknown option: a usage error rather than a bad duration.
        assert reply["body"].startswith("Error: ") or ": error: " in reply["body"], reply
    assert exists(hs, mine)


async def test_delete_past_remote_media_before_or_after(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    mine = await upload(hs, alice, b"local")
    hs.clock.advance(3_600_000)
    old, new = await cache_remote(hs, alice, "old", "new")
    # "new" was cached a minute ago, "old" two: --after 90s takes only "new".
    reply = await command(hs, alice, "!admin media delete-past-remote-media 90s --before --after")
    assert reply["body"] == "Error: Give only one of --before or --after"
    reply = await command(hs, alice, "!admin media delete-past-remote-media 90s --after")
    assert reply["body"] == "Deleted 1 remote media cached in the last 90s."
    assert exists(hs, old) and not exists(hs, new) and exists(hs, mine)
    reply = await command(hs, alice, "!admin media delete-past-remote-media -b 90s")
    assert reply["body"] == "Deleted 1 remote media cached more than 90s ago."
    assert not exists(hs, old) and exists(hs, mine)
    # Local media only with the long flag.
    line = "!admin media delete-past-remote-media 30m --yes-i-want-to-delete-local-media"
    reply = await command(hs, alice, line)
    assert reply["body"] == "Deleted 1 media created or cached more than 30m ago."
    assert not exists(hs, mine)


async def test_delete_all_from_server(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    mine = await upload(hs, alice, b"local")
    cached = await cache_remote(hs, alice, "a", "b")
    for line, error in (
        ("test.example", "Error: test.example is this server: add --yes-i-want-to-delete"),
        ("not/a/server", "Error: 'not/a/server' is not a server name"),
    ):
        reply = await command(hs, alice, f"!admin media delete-all-from-server {line}")
        assert reply["body"].startswith(error), reply
    assert exists(hs, mine) and all(exists(hs, m) for m in cached)
    reply = await command(hs, alice, "!admin media delete-all-from-server other.example")
    assert reply["body"] == "Deleted 0 media from other.example."
    reply = await command(hs, alice, "!admin media delete-all-from-server remote.example")
    assert reply["body"] == "Deleted 2 media from remote.example."
    assert exists(hs, mine) and not any(exists(hs, m) for m in cached)
    line = "!admin media delete-all-from-server test.example --yes-i-want-to-delete-local-media"
    reply = await command(hs, alice, line)
    assert reply["body"] == "Deleted 1 media from test.example."
    assert not exists(hs, mine)


async def test_get_remote_file(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    remote = OtherServers({("remote.example", "there"): b"remote bytes"})
    hs.services.media.remote = remote
    reply = await command(hs, alice, "!admin media get-remote-file mxc://remote.example/there")
    assert reply["body"] == (
        "Fetched mxc://remote.example/there: 12 bytes, content type text/plain, "
        "file name remote.txt; it is cached here."
    )
    assert exists(hs, "mxc://remote.example/there")
    for line, error in (
        ("mxc://remote.example/absent", "Error: Could not fetch mxc://remote.example/absent: "),
        ("mxc://test.example/mine", "Error: mxc://test.example/mine is this server's media"),
        ("mxc://remote.example/x --timeout 0", "Error: --timeout must be a positive"),
        ("not-an-mxc", "Error: 'not-an-mxc' is not an MXC URI"),
    ):
        reply = await command(hs, alice, f"!admin media get-remote-file {line}")
        assert reply["body"].startswith(error), reply
    assert remote.asked == [("remote.example", "there"), ("remote.example", "absent")]
    assert not exists(hs, "mxc://remote.example/absent")


async def test_get_file_info(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    mxc = await upload(hs, alice, b"hello")
    hs.services.media.quarantine.set("test.example", mxc.rsplit("/", 1)[1], alice)
    reply = await command(hs, alice, f"!admin media get-file-info {mxc}")
    lines = reply["body"].splitlines()
    assert lines[0] == f"{mxc}:"
    assert "content type: text/plain" in lines and "size: 5 bytes" in lines
    assert f"uploader: {alice}" in lines and f"quarantined by: {alice}" in lines
    assert "protected from quarantine: False" in lines
    reply = await command(hs, alice, "!admin media get-file-info mxc://test.example/nothing")
    assert reply["body"] == "Error: No media mxc://test.example/nothing here"


async def test_backups(start: StartHomeserver, tmp_path: Path) -> None:
    hs = await start(database_backup_path=str(tmp_path / "backups"))
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, "!admin server list-backups")
    assert reply["body"].startswith("0 backup(s)")
    reply = await command(hs, alice, "!admin server backup-database")
    assert reply["body"].startswith("Backup written to `")
    assert len(list((tmp_path / "backups").iterdir())) == 1
    reply = await command(hs, alice, "!admin server list-backups")
    assert reply["body"].startswith("1 backup(s), oldest first:\n```\n000001-")


async def test_backups_disabled(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    for name in ("backup-database", "list-backups"):
        reply = await command(hs, alice, f"!admin server {name}")
        assert reply["body"] == "Error: Backups are disabled: database_backup_path is not set"
