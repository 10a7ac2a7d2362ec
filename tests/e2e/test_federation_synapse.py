"""Synapse from PyPI as the federation peer (tests/kit/synapse_peer.py).

Three servers on loopback TLS with one test CA: ours A (``127.0.0.2:P``) and C
(``127.0.0.3:P``), and Synapse S (``127.0.0.5:P``). A and C fetch keys directly.
S has A as its only ``trusted_key_servers`` entry and must not connect to C
(``ip_range_blacklist`` has 127.0.0.3/32), so C's keys can reach S only through A,
our notary.

Skipped only when the ``crosscheck`` extra (matrix-synapse) is not installed;
``make test`` installs it.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.kit.federation import HasBaseUrl, call, federation, register
from tests.kit.server import ServerProcess
from tests.kit.synapse_peer import SynapsePeer, synapse_available

pytestmark = pytest.mark.skipif(
    not synapse_available(), reason="matrix-synapse (the crosscheck extra) is not installed"
)


@dataclass
class Net:
    a: ServerProcess
    c: ServerProcess
    s: SynapsePeer
    #: (user ID, token) of alice on S, bob on A, carol on C
    alice: tuple[str, str]
    bob: tuple[str, str]
    carol: tuple[str, str]


def own_keys(server: HasBaseUrl) -> dict[str, str]:
    status, document = call(server, "GET", "/_matrix/key/v2/server")
    assert status == 200, document
    return {key_id: value["key"] for key_id, value in document["verify_keys"].items()}


def assert_signed_by(document: dict[str, Any], server_name: str, keys: dict[str, str]) -> None:
    """Every key of ``keys`` signed ``document`` as ``server_name`` (checked by signedjson)."""
    from signedjson.key import decode_verify_key_bytes
    from signedjson.sign import verify_signed_json
    from unpaddedbase64 import decode_base64

    assert keys
    for key_id, key in keys.items():
        verify_key = decode_verify_key_bytes(key_id, decode_base64(key))
        verify_signed_json(document, server_name, verify_key)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with federation(tmp_path_factory.mktemp("fed-synapse")) as fed:
        a, c = fed.server(2), fed.server(3)
        for server in (a, c):
            server.start(wait=False)
        for server in (a, c):
            server.wait_ready(60)
        s = fed.synapse(
            5,
            ip_blocklist=["127.0.0.3/32"],
            trusted_key_servers=[
                {
                    "server_name": a.server_name,
                    "verify_keys": own_keys(a),
                }
            ],
        ).start()
        yield _people(a, c, s)


def _people(a: ServerProcess, c: ServerProcess, s: SynapsePeer) -> Net:
    alice = s.register("alice")
    bob, carol = register(a, "bob"), register(c, "carol")
    for (user, token), server, name in ((alice, s, "Alice S"), (bob, a, "Bob A")):
        status, answer = call(
            server,
            "PUT",
            f"/_matrix/client/v3/profile/{urllib.parse.quote(user)}/displayname",
            {"displayname": name},
            token=token,
        )
        assert status == 200, answer
    return Net(a, c, s, alice, bob, carol)


def test_we_fetch_synapses_keys(net: Net) -> None:
    status, answer = call(net.a, "GET", f"/_matrix/key/v2/query/{net.s.server_name}")
    assert status == 200, answer
    [document] = answer["server_keys"]
    synapse_keys = own_keys(net.s)
    assert document["server_name"] == net.s.server_name
    assert document["verify_keys"] == {k: {"key": v} for k, v in synapse_keys.items()}
    assert_signed_by(document, net.s.server_name, synapse_keys)
    assert_signed_by(document, net.a.server_name, own_keys(net.a))


def test_synapse_fetches_our_keys(net: Net) -> None:
    # Synapse's notary fetches our key document from us directly and vouches for it
    # (asked for all keys of a server, Synapse answers from its cache only: name one).
    our_keys = own_keys(net.a)
    status, answer = _synapse_notary(net.s, net.a.server_name, next(iter(our_keys)))
    assert status == 200, answer
    [document] = answer["server_keys"]
    assert document["verify_keys"] == {k: {"key": v} for k, v in our_keys.items()}
    assert_signed_by(document, net.a.server_name, our_keys)
    assert_signed_by(document, net.s.server_name, own_keys(net.s))


def _synapse_notary(synapse: SynapsePeer, server_name: str, key_id: str) -> tuple[int, Any]:
    criteria = {"minimum_valid_until_ts": int(time.time() * 1000)}
    body = {"server_keys": {server_name: {key_id: criteria}}}
    return call(synapse, "POST", "/_matrix/key/v2/query", body)


def _profile(server: HasBaseUrl, token: str, user: str) -> tuple[int, Any]:
    return call(
        server, "GET", f"/_matrix/client/v3/profile/{urllib.parse.quote(user)}", token=token
    )


def test_remote_profiles_both_ways(net: Net) -> None:
    (alice, alice_token), (bob, bob_token) = net.alice, net.bob
    # Ours asks Synapse (signed by A, verified by S with A's key).
    status, profile = _profile(net.a, bob_token, alice)
    assert (status, profile.get("displayname")) == (200, "Alice S"), profile
    status, field = call(
        net.a,
        "GET",
        f"/_matrix/client/v3/profile/{urllib.parse.quote(alice)}/displayname",
        token=bob_token,
    )
    assert (status, field) == (200, {"displayname": "Alice S"})
    # Synapse asks us (signed by S, verified by A with S's key).
    status, profile = _profile(net.s, alice_token, bob)
    assert (status, profile.get("displayname")) == (200, "Bob A"), profile
    # A missing user is a 404 both ways.
    status, answer = _profile(net.a, bob_token, f"@nobody:{net.s.server_name}")
    assert (status, answer.get("errcode")) == (404, "M_NOT_FOUND"), answer
    status, answer = _profile(net.s, alice_token, f"@nobody:{net.a.server_name}")
    assert (status, answer.get("errcode")) == (404, "M_NOT_FOUND"), answer


def _alias(server: HasBaseUrl, alias: str) -> tuple[int, Any]:
    return call(server, "GET", f"/_matrix/client/v3/directory/room/{urllib.parse.quote(alias)}")


def test_remote_aliases_both_ways(net: Net) -> None:
    rooms = {}
    for server, (_, token) in ((net.s, net.alice), (net.a, net.bob)):
        status, room = call(
            server,
            "POST",
            "/_matrix/client/v3/createRoom",
            {"room_alias_name": "lobby"},
            token=token,
        )
        assert status == 200, room
        rooms[server.server_name] = room["room_id"]
    for asker, owner in ((net.a, net.s), (net.s, net.a)):
        status, found = _alias(asker, f"#lobby:{owner.server_name}")
        assert status == 200, found
        assert found["room_id"] == rooms[owner.server_name]
        assert owner.server_name in found["servers"]
        status, answer = _alias(asker, f"#missing:{owner.server_name}")
        assert (status, answer.get("errcode")) == (404, "M_NOT_FOUND"), answer


def test_synapse_gets_a_third_servers_keys_through_us(net: Net) -> None:
    # S cannot reach C itself: its own notary endpoint finds no keys for C.
    c_keys = own_keys(net.c)
    status, answer = _synapse_notary(net.s, net.c.server_name, next(iter(c_keys)))
    assert (status, answer) == (200, {"server_keys": []}), answer
    # What S asks its trusted key server A (as Synapse's PerspectivesKeyFetcher does):
    # C's keys signed by C and by A, both checked with signedjson.
    status, answer = call(
        net.a,
        "POST",
        "/_matrix/key/v2/query",
        {"server_keys": {net.c.server_name: {}}},
    )
    assert status == 200, answer
    [document] = answer["server_keys"]
    assert_signed_by(document, net.c.server_name, c_keys)
    assert_signed_by(document, net.a.server_name, own_keys(net.a))
    # C's signed profile query is accepted by S: S verified C's signature with keys
    # it could only have got from A.
    alice, _ = net.alice
    _, carol_token = net.carol
    status, profile = _profile(net.c, carol_token, alice)
    assert (status, profile.get("displayname")) == (200, "Alice S"), (profile, net.s.log_tail())
    # S now vouches for C's keys as its notary, from its cache: the document it got
    # from A, with C's and A's signatures (and S's own, added as it serves it).
    status, answer = _synapse_notary(net.s, net.c.server_name, next(iter(c_keys)))
    assert status == 200, answer
    [document] = answer["server_keys"]
    assert_signed_by(document, net.c.server_name, c_keys)
    assert_signed_by(document, net.a.server_name, own_keys(net.a))
    assert_signed_by(document, net.s.server_name, own_keys(net.s))


def _create(server: HasBaseUrl, token: str, **body: Any) -> str:
    status, room = call(server, "POST", "/_matrix/client/v3/createRoom", body, token=token)
    assert status == 200, room
    return str(room["room_id"])


def _hierarchy(server: HasBaseUrl, token: str, root: str) -> dict[str, dict[str, Any]]:
    path = f"/_matrix/client/v1/rooms/{urllib.parse.quote(root)}/hierarchy"
    status, answer = call(server, "GET", path, token=token)
    assert status == 200, answer
    return {r["room_id"]: r for r in answer["rooms"]}


def test_space_children_both_ways(net: Net) -> None:
    """Each server's space lists a child on the other: ours asks Synapse's
    /v1/hierarchy, Synapse asks ours."""
    spaces, children = {}, {}
    for server, (_, token), name in ((net.s, net.alice, "Synapse"), (net.a, net.bob, "Ours")):
        spaces[server.server_name] = _create(
            server,
            token,
            preset="public_chat",
            name=f"{name} space",
            creation_content={"type": "m.space"},
        )
        children[server.server_name] = _create(
            server, token, preset="public_chat", name=f"{name} room", topic="hello"
        )
    for server, (_, token), other in ((net.s, net.alice, net.a), (net.a, net.bob, net.s)):
        space, child = spaces[server.server_name], children[other.server_name]
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(space)}/state/m.space.child/"
        status, answer = call(
            server,
            "PUT",
            path + urllib.parse.quote(child),
            {"via": [other.server_name]},
            token=token,
        )
        assert status == 200, answer
    for server, (_, token), other in ((net.s, net.alice, net.a), (net.a, net.bob, net.s)):
        rooms = _hierarchy(server, token, spaces[server.server_name])
        child = rooms.get(children[other.server_name])
        assert child is not None, rooms
        expected_name = "Ours room" if other is net.a else "Synapse room"
        assert (child["name"], child["topic"], child["join_rule"]) == (
            expected_name,
            "hello",
            "public",
        )


def test_timestamp_to_event_asks_synapse(net: Net) -> None:
    """bob on A joins alice's room on Synapse after its first message: A asks S
    where that message is, fetches it and answers with it."""
    _, alice_token = net.alice
    _, bob_token = net.bob
    room = _create(net.s, alice_token, preset="public_chat")
    quoted = urllib.parse.quote(room)
    status, sent = call(
        net.s,
        "PUT",
        f"/_matrix/client/v3/rooms/{quoted}/send/m.room.message/ts1",
        {"msgtype": "m.text", "body": "before bob"},
        token=alice_token,
    )
    assert status == 200, sent
    status, event = call(
        net.s,
        "GET",
        f"/_matrix/client/v3/rooms/{quoted}/event/{urllib.parse.quote(sent['event_id'])}",
        token=alice_token,
    )
    assert status == 200, event
    time.sleep(0.05)
    status, answer = call(
        net.a,
        "POST",
        f"/_matrix/client/v3/join/{quoted}?server_name={net.s.server_name}",
        {},
        token=bob_token,
    )
    assert status == 200, answer
    path = (
        f"/_matrix/client/v1/rooms/{quoted}/timestamp_to_event?ts={event['origin_server_ts']}&dir=f"
    )
    status, found = call(net.a, "GET", path, token=bob_token)
    assert status == 200, found
    assert found == {"event_id": sent["event_id"], "origin_server_ts": event["origin_server_ts"]}


def test_synapse_joins_ours_with_partial_state_then_completes_it(net: Net) -> None:
    """Synapse asks our send_join for partial state (omit_members=true), gets the
    room without its members, then resyncs the full state from us: its member
    list ends with every member of ours."""
    alice, alice_token = net.alice
    bob, bob_token = net.bob
    room = _create(net.a, bob_token, preset="public_chat", name="Partial")
    quoted = urllib.parse.quote(room)
    others = [register(net.a, f"partial{i}") for i in range(3)]
    for _, token in others:
        status, answer = call(net.a, "POST", f"/_matrix/client/v3/join/{quoted}", {}, token=token)
        assert status == 200, answer
    status, answer = call(
        net.s,
        "POST",
        f"/_matrix/client/v3/join/{quoted}?server_name={net.a.server_name}",
        {},
        token=alice_token,
    )
    assert status == 200, answer
    log = net.s.log_path.read_text(errors="replace")
    assert f"send_join/{urllib.parse.quote(room, safe='')}" in log
    assert "omit_members=true" in log
    # Synapse's /joined_members waits for the partial state to be completed.
    status, joined = call(
        net.s, "GET", f"/_matrix/client/v3/rooms/{quoted}/joined_members", token=alice_token
    )
    assert status == 200, joined
    assert set(joined["joined"]) == {alice, bob, *(user for user, _ in others)}
    # Logged before the flag is cleared and /joined_members is woken: the join was
    # taken as partial (our members_omitted: true), and the resync from us finished.
    assert f"Clearing partial-state flag for {room}" in net.s.log_path.read_text(errors="replace")
