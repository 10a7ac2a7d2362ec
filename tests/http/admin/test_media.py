"""Synapse's media admin API: a user's media (list with order and pages, delete),
one media (details, delete, quarantine and back), local media by age and size, the
remote media cache; each for server admins only, bad input refused unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.admin.test_users import ok
from tests.http.media.test_content import AUTHED, MEDIA, get, upload_ok
from tests.http.media.test_thumbnail import photo, thumb_path
from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.service.media.test_repository import OtherServers

V1 = "/_synapse/admin/v1"
ALICE = "@alice:test.example"
HOUR = 3_600_000


async def media_server(start: StartHomeserver) -> tuple[Homeserver, str, str, list[str]]:
    """An admin and alice, who uploaded three media an hour apart (a 10-byte text
    "b.txt", a photo "a.jpg", 3 bytes without name); their tokens and the IDs."""
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    ids = [
        await upload_ok(hs, alice, b"0123456789", content_type="text/plain", filename="b.txt"),
    ]
    hs.clock.advance(HOUR)
    ids.append(
        await upload_ok(hs, alice, photo(64, 48), content_type="image/jpeg", filename="a.jpg")
    )
    hs.clock.advance(HOUR)
    ids.append(await upload_ok(hs, alice, b"xyz", content_type="text/plain"))
    return hs, admin, alice, ids


def listed(reply: dict[str, Any]) -> list[str]:
    return [m["media_id"] for m in reply["media"]]


async def status_of(hs: Homeserver, path: str, token: str) -> int:
    return (await get(hs, path, token)).status


ENDPOINTS = [
    ("GET", f"{V1}/users/{ALICE}/media"),
    ("DELETE", f"{V1}/users/{ALICE}/media"),
    ("GET", f"{V1}/media/test.example/{{id}}"),
    ("DELETE", f"{V1}/media/test.example/{{id}}"),
    ("POST", f"{V1}/media/delete?before_ts=1800000000000"),
    ("POST", f"{V1}/media/test.example/delete?before_ts=1800000000000"),
    ("POST", f"{V1}/media/quarantine/test.example/{{id}}"),
    ("POST", f"{V1}/media/unquarantine/test.example/{{id}}"),
    ("POST", f"{V1}/purge_media_cache?before_ts=1800000000000"),
    ("GET", f"{V1}/statistics/users/media"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_admins_only(start: StartHomeserver, method: str, path: str) -> None:
    hs, _, alice, ids = await media_server(start)
    url = path.format(id=ids[0])
    body = None if method == "GET" else {}
    status, reply = await hs.request(method, url, body)
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request(method, url, body, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    # Nothing changed: every media is there and downloadable.
    for media_id in ids:
        assert await status_of(hs, f"{AUTHED}/download/test.example/{media_id}", alice) == 200


async def test_list_a_users_media(start: StartHomeserver) -> None:
    hs, admin, _, ids = await media_server(start)
    path = f"{V1}/users/{ALICE}/media"
    reply = await ok(hs, "GET", path, admin)
    # Newest first by default, as Synapse.
    assert listed(reply) == ids[::-1] and reply["total"] == 3 and "next_token" not in reply
    row = reply["media"][2]
    assert row == {
        "media_id": ids[0],
        "media_type": "text/plain",
        "media_length": 10,
        "upload_name": "b.txt",
        "created_ts": hs.clock() - 2 * HOUR,
        "last_access_ts": None,
        "quarantined_by": None,
        "safe_from_quarantine": False,
    }
    assert listed(await ok(hs, "GET", path, admin, order_by="created_ts")) == ids
    assert listed(await ok(hs, "GET", path, admin, dir="f")) == ids
    by_size = await ok(hs, "GET", path, admin, order_by="media_length", dir="b")
    assert listed(by_size) == [ids[1], ids[0], ids[2]]
    # Rows without a name sort last whichever the direction.
    assert listed(await ok(hs, "GET", path, admin, order_by="upload_name")) == [
        ids[1],
        ids[0],
        ids[2],
    ]
    # Pages: next_token is the next from, an integer, until the last page.
    first = await ok(hs, "GET", path, admin, limit="2")
    assert listed(first) == [ids[2], ids[1]] and first["next_token"] == 2
    second = await ok(hs, "GET", path, admin, limit="2", **{"from": "2"})
    assert listed(second) == [ids[0]] and "next_token" not in second

    # A user with nothing uploaded has an empty list.
    reply = await ok(hs, "GET", f"{V1}/users/@admin:test.example/media", admin)
    assert reply == {"media": [], "total": 0}

    for target, params, expected in (
        (ALICE, {"order_by": "colour"}, (400, "M_INVALID_PARAM")),
        (ALICE, {"dir": "up"}, (400, "M_INVALID_PARAM")),
        (ALICE, {"limit": "-1"}, (400, "M_INVALID_PARAM")),
        ("@nobody:test.example", {}, (404, "M_NOT_FOUND")),
        ("@alice:elsewhere.example", {}, (400, "M_INVALID_PARAM")),
        ("alice", {}, (400, "M_INVALID_PARAM")),
    ):
        status, reply = await hs.request(
            "GET", f"{V1}/users/{target}/media", token=admin, params=params
        )
        assert (status, reply["errcode"]) == expected, (target, params)


async def test_delete_a_users_media(start: StartHomeserver) -> None:
    hs, admin, alice, ids = await media_server(start)
    path = f"{V1}/users/{ALICE}/media"
    status, reply = await hs.request("DELETE", path, token=admin, params={"order_by": "x"})
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    assert (await ok(hs, "GET", path, admin))["total"] == 3
    # One page as the listing orders it: the largest one.
    reply = await ok(hs, "DELETE", path, admin, None, order_by="media_length", dir="b", limit="1")
    assert reply == {"deleted_media": [ids[1]], "total": 1}
    assert await status_of(hs, f"{AUTHED}/download/test.example/{ids[1]}", alice) == 404
    reply = await ok(hs, "DELETE", path, admin)
    assert sorted(reply["deleted_media"]) == sorted([ids[0], ids[2]]) and reply["total"] == 2
    assert (await ok(hs, "GET", path, admin))["total"] == 0
    # The files are gone from disk too.
    assert list(hs.services.media.store.blob_names()) == []


async def test_info_and_delete_one(start: StartHomeserver) -> None:
    hs, admin, alice, ids = await media_server(start)
    info = (await ok(hs, "GET", f"{V1}/media/test.example/{ids[1]}", admin))["media_info"]
    meta = hs.services.media.metadata("test.example", ids[1])
    assert meta is not None
    assert info["media_origin"] == "test.example" and info["user_id"] == ALICE
    assert (info["media_id"], info["media_type"], info["upload_name"]) == (
        ids[1],
        "image/jpeg",
        "a.jpg",
    )
    assert info["media_length"] == meta.size and info["sha256"] == meta.sha256
    assert info["authenticated"] is True and info["quarantined_by"] is None

    for method in ("GET", "DELETE"):
        for path, expected in (
            (f"{V1}/media/test.example/unknown", (404, "M_NOT_FOUND")),
            (f"{V1}/media/test.example/bad.id", (400, "M_INVALID_PARAM")),
        ):
            status, reply = await hs.request(method, path, token=admin)
            assert (status, reply["errcode"]) == expected, (method, path)
    status, reply = await hs.request("DELETE", f"{V1}/media/other.example/{ids[0]}", token=admin)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")

    reply = await ok(hs, "DELETE", f"{V1}/media/test.example/{ids[1]}", admin)
    assert reply == {"deleted_media": [ids[1]], "total": 1}
    assert await status_of(hs, f"{AUTHED}/download/test.example/{ids[1]}", alice) == 404
    status, _ = await hs.request("GET", f"{V1}/media/test.example/{ids[1]}", token=admin)
    assert status == 404
    assert await status_of(hs, f"{AUTHED}/download/test.example/{ids[0]}", alice) == 200


async def test_quarantine_hides_downloads_and_thumbnails(start: StartHomeserver) -> None:
    hs, admin, alice, ids = await media_server(start)
    photo_id = ids[1]
    download = f"{AUTHED}/download/test.example/{photo_id}"
    thumbnail = thumb_path(photo_id, "width=32&height=32&method=scale")
    assert await status_of(hs, thumbnail, alice) == 200

    assert await ok(hs, "POST", f"{V1}/media/quarantine/test.example/{photo_id}", admin, {}) == {}
    for path in (download, thumbnail, f"{MEDIA}/download/test.example/{photo_id}"):
        got = await get(hs, path, alice)
        assert (got.status, got.json()["errcode"]) == (404, "M_NOT_FOUND"), path
    info = (await ok(hs, "GET", f"{V1}/media/test.example/{photo_id}", admin))["media_info"]
    assert info["quarantined_by"] == "@admin:test.example"
    listing = await ok(hs, "GET", f"{V1}/users/{ALICE}/media", admin, order_by="quarantined_by")
    assert listing["media"][0]["media_id"] == photo_id
    # The file stays; the others are served.
    assert hs.services.media.store.exists(info["sha256"])
    assert await status_of(hs, f"{AUTHED}/download/test.example/{ids[0]}", alice) == 200

    for action in ("quarantine", "unquarantine"):
        status, reply = await hs.request(
            "POST", f"{V1}/media/{action}/test.example/unknown", {}, token=admin
        )
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")

    assert await ok(hs, "POST", f"{V1}/media/unquarantine/test.example/{photo_id}", admin, {}) == {}
    assert await status_of(hs, download, alice) == 200
    assert await status_of(hs, thumbnail, alice) == 200

    # Deleting quarantined media forgets the mark with it.
    await ok(hs, "POST", f"{V1}/media/quarantine/test.example/{photo_id}", admin, {})
    await ok(hs, "DELETE", f"{V1}/media/test.example/{photo_id}", admin)
    assert hs.services.media.quarantine.quarantined_by("test.example", photo_id) is None


async def test_delete_local_media_by_age_and_size(start: StartHomeserver) -> None:
    hs, admin, alice, ids = await media_server(start)
    # alice's avatar is the oldest media: kept unless keep_profiles=false.
    await ok(
        hs,
        "PUT",
        f"/profile/{ALICE}/avatar_url",
        alice,
        {"avatar_url": f"mxc://test.example/{ids[0]}"},
    )
    path = f"{V1}/media/delete"
    for params, expected in (
        ({}, (400, "M_MISSING_PARAM")),
        ({"before_ts": "-5"}, (400, "M_INVALID_PARAM")),
        ({"before_ts": "1700000000"}, (400, "M_INVALID_PARAM")),
        ({"before_ts": str(hs.clock()), "size_gt": "x"}, (400, "M_INVALID_PARAM")),
        ({"before_ts": str(hs.clock()), "keep_profiles": "no"}, (400, "M_INVALID_PARAM")),
    ):
        status, reply = await hs.request("POST", path, {}, token=admin, params=params)
        assert (status, reply["errcode"]) == expected, params
    status, reply = await hs.request(
        "POST",
        f"{V1}/media/other.example/delete",
        {},
        token=admin,
        params={"before_ts": str(hs.clock())},
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    assert (await ok(hs, "GET", f"{V1}/users/{ALICE}/media", admin))["total"] == 3

    # Older than the newest, larger than 5 bytes: the photo (the text is the avatar).
    now = str(hs.clock())
    reply = await ok(hs, "POST", path, admin, {}, before_ts=now, size_gt="5")
    assert reply == {"deleted_media": [ids[1]], "total": 1}
    reply = await ok(
        hs,
        "POST",
        f"{V1}/media/test.example/delete",
        admin,
        {},
        before_ts=now,
        keep_profiles="false",
    )
    assert reply == {"deleted_media": [ids[0]], "total": 1}
    assert listed(await ok(hs, "GET", f"{V1}/users/{ALICE}/media", admin)) == [ids[2]]


async def test_purge_remote_media_cache(start: StartHomeserver) -> None:
    hs, admin, alice, _ = await media_server(start)
    remote = OtherServers({("remote.example", "old"): b"old", ("remote.example", "new"): b"new"})
    hs.services.media.remote = remote
    assert await status_of(hs, f"{AUTHED}/download/remote.example/old", alice) == 200
    hs.clock.advance(HOUR)
    assert await status_of(hs, f"{AUTHED}/download/remote.example/new", alice) == 200
    info = (await ok(hs, "GET", f"{V1}/media/remote.example/old", admin))["media_info"]
    assert info["media_origin"] == "remote.example" and info["user_id"] is None

    status, reply = await hs.request("POST", f"{V1}/purge_media_cache", {}, token=admin)
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")
    before = str(hs.clock() - 1)
    assert await ok(hs, "POST", f"{V1}/purge_media_cache", admin, {}, before_ts=before) == {
        "deleted": 1
    }
    assert hs.services.media.metadata("remote.example", "old") is None
    assert hs.services.media.metadata("remote.example", "new") is not None
    # Local media stays; purged remote media is fetched again when asked for.
    assert (await ok(hs, "GET", f"{V1}/users/{ALICE}/media", admin))["total"] == 3
    assert await status_of(hs, f"{AUTHED}/download/remote.example/old", alice) == 200
    assert remote.asked.count(("remote.example", "old")) == 2


async def test_users_media_statistics(start: StartHomeserver) -> None:
    hs, admin, alice, ids = await media_server(start)
    await upload_ok(hs, admin, b"12345", content_type="text/plain")
    await ok(hs, "PUT", f"/profile/{ALICE}/displayname", alice, {"displayname": "Zoe"})
    alice_size = sum(hs.services.media.metadata("test.example", i).size for i in ids)  # type: ignore[union-attr]
    path = f"{V1}/statistics/users/media"
    reply = await ok(hs, "GET", path, admin)
    assert reply == {
        "users": [
            {
                "user_id": "@admin:test.example",
                "displayname": "admin",
                "media_count": 1,
                "media_length": 5,
            },
            {"user_id": ALICE, "displayname": "Zoe", "media_count": 3, "media_length": alice_size},
        ],
        "total": 2,
    }

    def users(reply: dict[str, Any]) -> list[str]:
        return [u["user_id"] for u in reply["users"]]

    assert users(await ok(hs, "GET", path, admin, order_by="media_count", dir="b")) == [
        ALICE,
        "@admin:test.example",
    ]
    first = await ok(hs, "GET", path, admin, limit="1")
    assert users(first) == ["@admin:test.example"] and first["next_token"] == 1
    # By display name or localpart, any case; by creation time.
    assert users(await ok(hs, "GET", path, admin, search_term="zO")) == [ALICE]
    assert users(await ok(hs, "GET", path, admin, search_term="ALI")) == [ALICE]
    newest = await ok(hs, "GET", path, admin, from_ts=str(hs.clock() - 1))
    assert newest["users"][1]["media_count"] == 1  # alice's last upload only
    for params in (
        {"order_by": "size"},
        {"dir": "x"},
        {"from_ts": "10", "until_ts": "10"},
        {"search_term": ""},
        {"limit": "-1"},
    ):
        status, reply = await hs.request("GET", path, token=admin, params=params)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), params
