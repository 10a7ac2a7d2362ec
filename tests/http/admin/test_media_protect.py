"""Synapse's media admin API, the rest of quarantine: all of a local user's media at
once, and protecting local media from quarantine (protect/unprotect), which every
quarantine — of one media, a user's, a room's — then leaves alone; admins only, bad
input refused unchanged, the protection kept across a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.http.admin.test_media import ALICE, V1, media_server
from tests.http.admin.test_room_media import media_room
from tests.http.admin.test_users import ok
from tests.http.media.test_content import AUTHED, get, upload_ok
from tests.kit.homeserver import Homeserver, StartHomeserver, start_homeserver

ADMIN = "@admin:test.example"


def quarantined(hs: Homeserver, media_id: str) -> str | None:
    return hs.services.media.quarantine.quarantined_by("test.example", media_id)


async def info(hs: Homeserver, admin: str, media_id: str) -> dict[str, object]:
    reply = await ok(hs, "GET", f"{V1}/media/test.example/{media_id}", admin)
    media_info: dict[str, object] = reply["media_info"]
    return media_info


async def test_quarantines_all_of_a_users_media(start: StartHomeserver) -> None:
    hs, admin, alice, ids = await media_server(start)
    bob = (await hs.register("bob"))["access_token"]
    bobs = await upload_ok(hs, bob, b"bob's", content_type="text/plain")
    reply = await ok(hs, "POST", f"{V1}/user/{ALICE}/media/quarantine", admin, {})
    assert reply == {"num_quarantined": 3}
    for media_id in ids:
        assert quarantined(hs, media_id) == ADMIN
        got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
        assert (got.status, got.json()["errcode"]) == (404, "M_NOT_FOUND")
    # Another user's media is untouched.
    assert quarantined(hs, bobs) is None
    assert (await get(hs, f"{AUTHED}/download/test.example/{bobs}", bob)).status == 200
    # A user without media quarantines nothing.
    admins = await ok(hs, "POST", f"{V1}/user/{ADMIN}/media/quarantine", admin, {})
    assert admins == {"num_quarantined": 0}


async def test_protected_media_is_never_quarantined(start: StartHomeserver) -> None:
    hs, admin, alice, ids = await media_server(start)
    kept = ids[1]
    assert (await info(hs, admin, kept))["safe_from_quarantine"] is False
    assert await ok(hs, "POST", f"{V1}/media/protect/{kept}", admin, {}) == {}
    assert (await info(hs, admin, kept))["safe_from_quarantine"] is True
    listing = await ok(hs, "GET", f"{V1}/users/{ALICE}/media", admin, order_by="media_id")
    flags = {m["media_id"]: m["safe_from_quarantine"] for m in listing["media"]}
    assert flags == {ids[0]: False, kept: True, ids[2]: False}
    # The user's quarantine skips it and does not count it.
    reply = await ok(hs, "POST", f"{V1}/user/{ALICE}/media/quarantine", admin, {})
    assert reply == {"num_quarantined": 2}
    assert quarantined(hs, kept) is None
    assert (await get(hs, f"{AUTHED}/download/test.example/{kept}", alice)).status == 200
    # So does quarantining it by ID (answered {} as Synapse, which skips it silently).
    assert await ok(hs, "POST", f"{V1}/media/quarantine/test.example/{kept}", admin, {}) == {}
    assert quarantined(hs, kept) is None
    # Unprotected, it can be quarantined.
    assert await ok(hs, "POST", f"{V1}/media/unprotect/{kept}", admin, {}) == {}
    assert (await info(hs, admin, kept))["safe_from_quarantine"] is False
    reply = await ok(hs, "POST", f"{V1}/user/{ALICE}/media/quarantine", admin, {})
    assert reply == {"num_quarantined": 3}
    assert quarantined(hs, kept) == ADMIN


async def test_protection_survives_a_restart(tmp_path: Path) -> None:
    async def first(**_: Any) -> Homeserver:
        return await start_homeserver(tmp_path / "db")

    hs, admin, _, ids = await media_server(first)
    try:
        await ok(hs, "POST", f"{V1}/media/protect/{ids[0]}", admin, {})
    finally:
        await hs.close()
    hs = await start_homeserver(tmp_path / "db")
    try:
        assert (await info(hs, admin, ids[0]))["safe_from_quarantine"] is True
        reply = await ok(hs, "POST", f"{V1}/user/{ALICE}/media/quarantine", admin, {})
        assert reply == {"num_quarantined": 2}
        assert quarantined(hs, ids[0]) is None
    finally:
        await hs.close()


async def test_protection_already_quarantined_and_deleted(start: StartHomeserver) -> None:
    hs, admin, _, ids = await media_server(start)
    await ok(hs, "POST", f"{V1}/media/quarantine/test.example/{ids[0]}", admin, {})
    # Protecting does not lift a quarantine in place (Synapse's); unquarantining does.
    await ok(hs, "POST", f"{V1}/media/protect/{ids[0]}", admin, {})
    assert quarantined(hs, ids[0]) == ADMIN
    await ok(hs, "POST", f"{V1}/media/unquarantine/test.example/{ids[0]}", admin, {})
    assert quarantined(hs, ids[0]) is None
    # Deleting the media forgets its protection with it.
    await ok(hs, "DELETE", f"{V1}/media/test.example/{ids[0]}", admin)
    assert not hs.services.media.quarantine.protected("test.example", ids[0])


async def test_protected_media_skipped_by_the_rooms_quarantine(start: StartHomeserver) -> None:
    hs, admin, alice, room, ids = await media_room(start)
    await ok(hs, "POST", f"{V1}/media/protect/{ids[0]}", admin, {})
    reply = await ok(hs, "POST", f"{V1}/room/{room}/media/quarantine", admin, {})
    # Two local media and the cached remote one (test_room_media: four unprotected).
    assert reply == {"num_quarantined": 3}
    assert quarantined(hs, ids[0]) is None
    assert (await get(hs, f"{AUTHED}/download/test.example/{ids[0]}", alice)).status == 200
    assert quarantined(hs, ids[1]) == ADMIN


@pytest.mark.parametrize(
    "path",
    ["/user/{user}/media/quarantine", "/media/protect/{id}", "/media/unprotect/{id}"],
)
async def test_refused_for_non_admins_and_bad_targets(start: StartHomeserver, path: str) -> None:
    hs, admin, alice, ids = await media_server(start)
    url = V1 + path.format(user=ALICE, id=ids[0])
    status, reply = await hs.request("POST", url, {})
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request("POST", url, {}, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    bad = (
        [
            ("@nobody:test.example", (404, "M_NOT_FOUND")),
            ("@alice:elsewhere.example", (400, "M_INVALID_PARAM")),
            ("not-a-user", (400, "M_INVALID_PARAM")),
        ]
        if "{user}" in path
        else [("unknownmedia", (404, "M_NOT_FOUND")), ("bad%20id", (400, "M_INVALID_PARAM"))]
    )
    for target, expected in bad:
        url = V1 + path.format(user=target, id=target)
        status, reply = await hs.request("POST", url, {}, token=admin)
        assert (status, reply["errcode"]) == expected, target
    # Nothing changed.
    for media_id in ids:
        assert quarantined(hs, media_id) is None
        assert not hs.services.media.quarantine.protected("test.example", media_id)
