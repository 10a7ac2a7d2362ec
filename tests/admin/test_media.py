"""``!admin media`` and the server's backups, through the admin room."""

from __future__ import annotations

from pathlib import Path

from tests.admin.kit import command
from tests.kit.homeserver import Homeserver, StartHomeserver


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
    reply = await command(hs, alice, "!admin media delete")
    assert "the following arguments are required: --mxc" in reply["body"]
    assert exists(hs, other)


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
