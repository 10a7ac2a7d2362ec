"""Other servers browsing our rooms: /publicRooms (only when
allow_public_room_directory_over_federation) and space hierarchies."""

from __future__ import annotations

from pathlib import Path

import trustme

from tests.http.federation.test_room_reads import q, room_with
from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.kit.remote import RemoteServer, federating_homeserver, remote_server, write_ca

V1 = "/_matrix/federation/v1"


async def test_public_rooms_are_off_by_default(fed_hs: Homeserver, remote: RemoteServer) -> None:
    await room_with(fed_hs, visibility="public", name="Lobby")
    for method, body in (("GET", None), ("POST", {"limit": 5})):
        status, answer = await remote.request(fed_hs, method, f"{V1}/publicRooms", body)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")


async def test_public_rooms_when_allowed(
    start: StartHomeserver, ca: trustme.CA, tmp_path: Path
) -> None:
    hs = await federating_homeserver(
        start, write_ca(ca, tmp_path), allow_public_room_directory_over_federation=True
    )
    async with remote_server(ca, 4, hs.clock) as remote:
        room_id, _ = await room_with(hs, visibility="public", name="Lobby")
        status, answer = await remote.request(hs, "GET", f"{V1}/publicRooms?limit=10")
        assert status == 200, answer
        assert [r["room_id"] for r in answer["chunk"]] == [room_id]
        status, answer = await remote.request(
            hs, "POST", f"{V1}/publicRooms", {"filter": {"generic_search_term": "nothing"}}
        )
        assert (status, answer["chunk"]) == (200, [])
        status, answer = await remote.request(hs, "POST", f"{V1}/publicRooms", {"limit": "x"})
        assert (status, answer["errcode"]) == (400, "M_BAD_JSON")


async def test_hierarchy_shows_what_the_server_may_see(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    space_id, token = await room_with(fed_hs, creation_content={"type": "m.space"})
    public_id, _ = await room_with(fed_hs)
    status, private = await fed_hs.request(
        "POST", "/createRoom", {"preset": "private_chat"}, token=token
    )
    assert status == 200
    private_id = private["room_id"]
    for child in (public_id, private_id):
        status, _ = await fed_hs.request(
            "PUT",
            f"/rooms/{q(space_id)}/state/m.space.child/{q(child)}",
            {"via": ["test.example"]},
            token=token,
        )
        assert status == 200
    status, answer = await remote.request(fed_hs, "GET", f"{V1}/hierarchy/{q(space_id)}")
    assert status == 200, answer
    assert answer["room"]["room_id"] == space_id
    assert len(answer["room"]["children_state"]) == 2
    assert [c["room_id"] for c in answer["children"]] == [public_id]
    assert answer["inaccessible_children"] == [private_id]

    status, answer = await remote.request(fed_hs, "GET", f"{V1}/hierarchy/{q(private_id)}")
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")
    await remote.join(fed_hs, public_id, "bob")  # joined: still fine
    status, answer = await remote.request(
        fed_hs, "GET", f"{V1}/hierarchy/{q(space_id)}?suggested_only=maybe"
    )
    assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM")
