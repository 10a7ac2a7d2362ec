"""Synapse's room media admin API: the media a room's events refer to (local and
remote MXC URIs) and the quarantine of all of it; for server admins only, unknown
and malformed rooms refused unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.admin.test_users import ok
from tests.http.media.test_content import AUTHED, get, upload_ok
from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.service.media.test_repository import OtherServers

V1 = "/_synapse/admin/v1"
LOCAL = "mxc://test.example"


async def send(hs: Homeserver, token: str, room: str, content: dict[str, Any]) -> str:
    path = f"/rooms/{room}/send/m.room.message/{len(str(content))}-{id(content)}"
    reply = await ok(hs, "PUT", path, token, content)
    return str(reply["event_id"])


async def media_room(start: StartHomeserver) -> tuple[Homeserver, str, str, str, list[str]]:
    """An admin and alice; alice's room with an image (and its thumbnail), a file
    mentioned twice, a cached remote image, an uncached remote one, and text. Returns
    the tokens, the room and alice's media IDs [image, thumbnail, file, unmentioned]."""
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    ids = [
        await upload_ok(hs, alice, f"media {n}".encode(), content_type="text/plain")
        for n in range(4)
    ]
    hs.services.media.remote = OtherServers({("remote.example", "cached"): b"remote"})
    got = await get(hs, f"{AUTHED}/download/remote.example/cached", alice)
    assert got.status == 200
    room = (await ok(hs, "POST", "/createRoom", alice, {"name": "Pictures"}))["room_id"]
    image = {
        "msgtype": "m.image",
        "body": "a.png",
        "url": f"{LOCAL}/{ids[0]}",
        "info": {"thumbnail_url": f"{LOCAL}/{ids[1]}"},
    }
    await send(hs, alice, room, image)
    for text in ("first", "second"):
        await send(hs, alice, room, {"msgtype": "m.file", "body": text, "url": f"{LOCAL}/{ids[2]}"})
    await send(hs, alice, room, {"msgtype": "m.text", "body": f"{LOCAL}/{ids[3]}"})
    # A thumbnail without a url is no reference (Synapse's contains_url), nor junk.
    await send(
        hs,
        alice,
        room,
        {"msgtype": "m.text", "body": "x", "info": {"thumbnail_url": f"{LOCAL}/{ids[3]}"}},
    )
    await send(
        hs, alice, room, {"msgtype": "m.file", "body": "bad", "url": "https://example.org/x"}
    )
    for media_id in ("cached", "uncached"):
        remote = {"msgtype": "m.image", "body": media_id, "url": f"mxc://remote.example/{media_id}"}
        await send(hs, alice, room, remote)
    return hs, admin, alice, room, ids


async def test_lists_the_rooms_local_and_remote_media(start: StartHomeserver) -> None:
    hs, admin, _, room, ids = await media_room(start)
    reply = await ok(hs, "GET", f"{V1}/room/{room}/media", admin)
    # Newest event first (Synapse's order), each media once.
    assert reply == {
        "local": [f"{LOCAL}/{ids[2]}", f"{LOCAL}/{ids[0]}", f"{LOCAL}/{ids[1]}"],
        "remote": ["mxc://remote.example/uncached", "mxc://remote.example/cached"],
    }
    # A room without media lists nothing.
    empty = (await ok(hs, "POST", "/createRoom", admin, {}))["room_id"]
    assert await ok(hs, "GET", f"{V1}/room/{empty}/media", admin) == {"local": [], "remote": []}


async def test_quarantines_the_rooms_media(start: StartHomeserver) -> None:
    hs, admin, alice, room, ids = await media_room(start)
    reply = await ok(hs, "POST", f"{V1}/room/{room}/media/quarantine", admin, {})
    # The three local media and the cached remote one; the uncached is not held here.
    assert reply == {"num_quarantined": 4}
    quarantine = hs.services.media.quarantine
    for media_id in ids[:3]:
        assert quarantine.quarantined_by("test.example", media_id) == "@admin:test.example"
        got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
        assert (got.status, got.json()["errcode"]) == (404, "M_NOT_FOUND")
    assert quarantine.quarantined_by("remote.example", "cached") == "@admin:test.example"
    assert quarantine.quarantined_by("remote.example", "uncached") is None
    # Media the room does not refer to is served.
    assert quarantine.quarantined_by("test.example", ids[3]) is None
    assert (await get(hs, f"{AUTHED}/download/test.example/{ids[3]}", alice)).status == 200
    # Synapse's deprecated path does the same; quarantined media counts again.
    assert await ok(hs, "POST", f"{V1}/quarantine_media/{room}", admin, {}) == {
        "num_quarantined": 4
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/room/{room}/media"),
        ("POST", "/room/{room}/media/quarantine"),
        ("POST", "/quarantine_media/{room}"),
    ],
)
async def test_refused_for_non_admins_and_unknown_rooms(
    start: StartHomeserver, method: str, path: str
) -> None:
    hs, admin, alice, room, ids = await media_room(start)
    body = None if method == "GET" else {}
    url = V1 + path.format(room=room)
    status, reply = await hs.request(method, url, body)
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request(method, url, body, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    for target, expected in (
        ("!unknown:test.example", (404, "M_NOT_FOUND")),
        ("!unknown:elsewhere.example", (404, "M_NOT_FOUND")),
        ("not-a-room", (400, "M_INVALID_PARAM")),
    ):
        status, reply = await hs.request(method, V1 + path.format(room=target), body, token=admin)
        assert (status, reply["errcode"]) == expected, target
    # Nothing was quarantined.
    for media_id in ids:
        assert hs.services.media.quarantine.quarantined_by("test.example", media_id) is None
