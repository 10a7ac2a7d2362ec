"""Other servers browsing our rooms: /publicRooms (only when
allow_public_room_directory_over_federation) and space hierarchies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

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


# -- the client side: /publicRooms?server=<another server> ---------------------------------


async def test_client_lists_another_servers_public_rooms(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    asked: list[tuple[str, str, Any]] = []
    room = {"room_id": "!lobby:" + remote.server_name, "num_joined_members": 3, "name": "Lobby"}

    async def public_rooms(request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.method == "POST" else None
        asked.append((request.method, request.query_string, body))
        return web.json_response(
            {"chunk": [room, "not a room"], "next_batch": "p2", "total_room_count_estimate": 7}
        )

    remote.routes[("GET", f"{V1}/publicRooms")] = public_rooms
    remote.routes[("POST", f"{V1}/publicRooms")] = public_rooms
    token = (await fed_hs.register("alice"))["access_token"]
    server = {"server": remote.server_name}
    status, page = await fed_hs.request(
        "GET", "/publicRooms", token=token, params={**server, "limit": "5", "since": "p1"}
    )
    assert status == 200, page
    assert page == {"chunk": [room], "next_batch": "p2", "total_room_count_estimate": 7}
    method, query, _ = asked[-1]
    assert method == "GET" and "limit=5" in query and "since=p1" in query

    search = {"limit": 2, "filter": {"generic_search_term": "lob", "room_types": [None]}}
    status, page = await fed_hs.request("POST", "/publicRooms", search, token=token, params=server)
    assert (status, page["chunk"]) == (200, [room])
    method, _, body = asked[-1]
    assert method == "POST"
    assert body["filter"] == search["filter"] and body["limit"] == 2


async def test_client_sees_remote_refusals_and_failures(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    async def refuse(request: web.Request) -> web.StreamResponse:
        return web.json_response({"errcode": "M_FORBIDDEN", "error": "not shared"}, status=403)

    async def garbage(request: web.Request) -> web.StreamResponse:
        return web.json_response({"rooms": []})

    remote.routes[("GET", f"{V1}/publicRooms")] = refuse
    remote.routes[("POST", f"{V1}/publicRooms")] = garbage
    token = (await fed_hs.register("alice"))["access_token"]
    server = {"server": remote.server_name}
    status, answer = await fed_hs.request("GET", "/publicRooms", token=token, params=server)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
    status, answer = await fed_hs.request("POST", "/publicRooms", {}, token=token, params=server)
    assert (status, answer["errcode"]) == (502, "M_UNKNOWN")
    status, answer = await fed_hs.request(
        "POST", "/publicRooms", {"filter": "lob"}, token=token, params=server
    )
    assert (status, answer["errcode"]) == (400, "M_BAD_JSON")
    status, answer = await fed_hs.request(
        "GET", "/publicRooms", token=token, params={"server": "127.0.0.9:1"}
    )
    assert (status, answer["errcode"]) == (502, "M_UNKNOWN")
    assert "127.0.0.9:1" in answer["error"]
