"""Another server's public room directory through ours, between two real server
processes (tests/kit/federation.py): A shares its directory over federation
(``allow_public_room_directory_over_federation``), B keeps the default (off)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kit.federation import FederationNet, call, federation, register


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with federation(tmp_path_factory.mktemp("feddir")) as net:
        a = net.server(2, CONDUWUIT_ALLOW_PUBLIC_ROOM_DIRECTORY_OVER_FEDERATION="true")
        b = net.server(3)
        for server in (a, b):
            server.start(wait=False)
        for server in (a, b):
            server.wait_ready(60)
        yield net


def test_public_rooms_of_another_server(net: FederationNet) -> None:
    a, b = net.servers
    _, alice = register(a, "alice")
    _, bob = register(b, "bob")
    rooms = {}
    for name in ("Lobby", "Garden"):
        status, answer = call(
            a,
            "POST",
            "/_matrix/client/v3/createRoom",
            {"visibility": "public", "preset": "public_chat", "name": name},
            token=alice,
        )
        assert status == 200, answer
        rooms[name] = answer["room_id"]

    path = f"/_matrix/client/v3/publicRooms?server={a.server_name}"
    status, page = call(b, "GET", path, token=bob)
    assert status == 200, page
    assert {r["room_id"] for r in page["chunk"]} == set(rooms.values())
    status, page = call(b, "POST", path, {"filter": {"generic_search_term": "gard"}}, token=bob)
    assert status == 200, page
    assert [r["room_id"] for r in page["chunk"]] == [rooms["Garden"]]
    status, page = call(b, "GET", f"{path}&limit=1", token=bob)
    assert status == 200 and len(page["chunk"]) == 1 and "next_batch" in page, page
    # B keeps its directory to itself (the default): A's users are told so.
    status, answer = call(
        a, "GET", f"/_matrix/client/v3/publicRooms?server={b.server_name}", token=alice
    )
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer
