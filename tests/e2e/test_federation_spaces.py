"""Space children on another server, between two of our server processes
(tests/kit/federation.py): A's ``/hierarchy`` asks B (``GET
/_matrix/federation/v1/hierarchy``) for the children A is not in, through their
``via``, and lists what B describes as far as the user may see it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.kit.federation import FederationNet, call, q, register, running
from tests.kit.rooms import restricted_to
from tests.kit.server import ServerProcess

CS = "/_matrix/client/v3"
WORLD_READABLE = [
    {
        "type": "m.room.history_visibility",
        "state_key": "",
        "content": {"history_visibility": "world_readable"},
    }
]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with running(tmp_path_factory.mktemp("fed-spaces"), 25, 26) as net:
        yield net


def create(server: ServerProcess, token: str, **body: Any) -> str:
    status, answer = call(server, "POST", f"{CS}/createRoom", body, token=token)
    assert status == 200, answer
    return str(answer["room_id"])


def space(server: ServerProcess, token: str, name: str) -> str:
    return create(
        server,
        token,
        preset="public_chat",
        name=name,
        creation_content={"type": "m.space"},
        initial_state=WORLD_READABLE,
    )


def link(
    server: ServerProcess, token: str, parent: str, child: str, via: str, **extra: Any
) -> None:
    path = f"{CS}/rooms/{q(parent)}/state/m.space.child/{q(child)}"
    status, answer = call(server, "PUT", path, {"via": [via], **extra}, token=token)
    assert status == 200, answer


def listed(
    server: ServerProcess, token: str, root: str, query: str = ""
) -> dict[str, dict[str, Any]]:
    path = f"/_matrix/client/v1/rooms/{q(root)}/hierarchy{query}"
    status, answer = call(server, "GET", path, token=token)
    assert status == 200, answer
    return {r["room_id"]: r for r in answer["rooms"]}


def test_children_on_another_server(net: FederationNet) -> None:
    a, b = net.servers
    _, alice = register(a, "alice")
    _, eve = register(a, "eve")
    _, bob = register(b, "bob")
    root = space(a, alice, "Family")
    kitchen = create(a, alice, preset="public_chat", name="Kitchen")
    garden = create(b, bob, preset="public_chat", name="Garden", topic="Roses")
    shed = create(b, bob, preset="private_chat", name="Shed")
    attic = space(b, bob, "Attic")
    lamp = create(b, bob, preset="public_chat", name="Lamp")
    porch = create(a, alice, preset="public_chat", name="Porch")
    link(b, bob, attic, lamp, b.server_name)
    link(b, bob, attic, porch, a.server_name)  # B is not in it: A describes it
    link(a, alice, root, kitchen, a.server_name)
    link(a, alice, root, garden, b.server_name, suggested=True)
    link(a, alice, root, shed, b.server_name)
    link(a, alice, root, attic, b.server_name)

    rooms = listed(a, alice, root)
    assert set(rooms) == {root, kitchen, garden, attic, lamp, porch}, rooms
    # What B knows of its rooms: their names, topics, members, children.
    assert (rooms[garden]["name"], rooms[garden]["topic"]) == ("Garden", "Roses")
    assert rooms[garden]["num_joined_members"] == 1
    assert rooms[attic]["room_type"] == "m.space"
    assert {c["state_key"] for c in rooms[attic]["children_state"]} == {lamp, porch}
    # The invite-only Shed is refused to A by B, so nobody here sees it.
    assert shed not in rooms
    # suggested_only reaches B too: only the suggested Garden under the root.
    assert set(listed(a, alice, root, "?suggested_only=true")) == {root, garden}
    # max_depth bounds the walk across servers as well.
    assert set(listed(a, alice, root, "?max_depth=1")) == {root, kitchen, garden, attic}

    # A room restricted to members of the space: B cannot know that alice is in
    # it until one of its users joins the space too.
    study = create(
        b,
        bob,
        preset="public_chat",
        name="Study",
        room_version="10",
        initial_state=restricted_to(root),
    )
    link(a, alice, root, study, b.server_name)
    assert study not in listed(a, alice, root)
    status, answer = call(
        b, "POST", f"{CS}/join/{q(root)}?server_name={a.server_name}", {}, token=bob
    )
    assert status == 200, answer
    assert study in listed(a, alice, root)  # a failed answer was not cached
    # eve may browse the world-readable space but is in no room Study allows.
    assert study not in listed(a, eve, root)

    # With B down, what B said lately is still used (cached); a child never asked
    # of B is left out.
    b.stop()
    cellar = "!cellar" + garden[garden.index(":") :]
    link(a, alice, root, cellar, b.server_name)
    rooms = listed(a, alice, root)
    assert garden in rooms and kitchen in rooms and cellar not in rooms, rooms
