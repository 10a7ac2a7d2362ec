"""Real server processes federating over loopback TLS (tests/kit/federation.py).

B and C federate directly; A asks only the notary C for keys. A gets B's keys
through C (signed by B, C and, as A serves them again, A); C fetched them from B
itself. Signed requests from A to B (profile and alias queries) are accepted;
forged, tampered and misdirected ones are refused and change nothing.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conduwuit.core.signing import Keypair, verify_signed_json
from conduwuit.core.x_matrix import XMatrix, sign_request
from tests.kit.federation import FederationNet, call, federation, register
from tests.kit.server import ServerProcess


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with federation(tmp_path_factory.mktemp("fed")) as net:
        b = net.server(3)
        c = net.server(4)
        a = net.server(
            2,
            CONDUWUIT_TRUSTED_SERVERS=json.dumps([c.server_name]),
            CONDUWUIT_ONLY_QUERY_TRUSTED_KEY_SERVERS="true",
        )
        for server in (a, b, c):
            server.start(wait=False)
        for server in (a, b, c):
            server.wait_ready(60)
        yield net


def servers(net: FederationNet) -> tuple[ServerProcess, ServerProcess, ServerProcess]:
    b, c, a = net.servers
    return a, b, c


def own_keys(server: ServerProcess) -> dict[str, str]:
    status, document = call(server, "GET", "/_matrix/key/v2/server")
    assert status == 200
    return {key_id: value["key"] for key_id, value in document["verify_keys"].items()}


def assert_signed_by(document: dict[str, Any], server: ServerProcess) -> None:
    [(key_id, public_key)] = own_keys(server).items()
    verify_signed_json(document, server.server_name, key_id, public_key)


def test_keys_directly_and_through_a_notary(net: FederationNet) -> None:
    a, b, c = servers(net)
    # C asks B itself (no trusted servers).
    status, answer = call(c, "GET", f"/_matrix/key/v2/query/{b.server_name}")
    assert status == 200, answer
    [document] = answer["server_keys"]
    assert document["verify_keys"] == {k: {"key": v} for k, v in own_keys(b).items()}
    assert_signed_by(document, b)
    assert_signed_by(document, c)
    # A may only ask C: the answer carries B's and C's signatures (A checked both)
    # and A's own, added as A serves it.
    status, answer = call(a, "POST", "/_matrix/key/v2/query", {"server_keys": {b.server_name: {}}})
    assert status == 200, answer
    [document] = answer["server_keys"]
    for server in (a, b, c):
        assert_signed_by(document, server)
    # An unreachable server: nothing to vouch for, and nothing is cached.
    status, answer = call(c, "GET", "/_matrix/key/v2/query/127.0.0.9:1")
    assert (status, answer) == (200, {"server_keys": []})


def test_remote_profile_and_alias_through_signed_queries(net: FederationNet) -> None:
    a, b, _ = servers(net)
    alice, alice_token = register(b, "alice")
    status, _ = call(
        b,
        "PUT",
        f"/_matrix/client/v3/profile/{alice}/displayname",
        {"displayname": "Alice B"},
        token=alice_token,
    )
    assert status == 200
    status, room = call(
        b, "POST", "/_matrix/client/v3/createRoom", {"room_alias_name": "lobby"}, token=alice_token
    )
    assert status == 200, room
    _, viewer_token = register(a, "viewer")

    quoted = urllib.parse.quote(alice)
    status, profile = call(a, "GET", f"/_matrix/client/v3/profile/{quoted}", token=viewer_token)
    assert (status, profile.get("displayname")) == (200, "Alice B"), profile
    status, field = call(
        a, "GET", f"/_matrix/client/v3/profile/{quoted}/displayname", token=viewer_token
    )
    assert (status, field) == (200, {"displayname": "Alice B"})
    alias = urllib.parse.quote(f"#lobby:{b.server_name}")
    status, found = call(a, "GET", f"/_matrix/client/v3/directory/room/{alias}")
    assert status == 200, found
    assert found["room_id"] == room["room_id"] and b.server_name in found["servers"]

    # The remote's 404s are passed on.
    nobody = urllib.parse.quote(f"@nobody:{b.server_name}")
    status, answer = call(a, "GET", f"/_matrix/client/v3/profile/{nobody}", token=viewer_token)
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")
    missing = urllib.parse.quote(f"#missing:{b.server_name}")
    status, answer = call(a, "GET", f"/_matrix/client/v3/directory/room/{missing}")
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")


def _query(server: ServerProcess, uri: str, auth: XMatrix | None) -> tuple[int, Any]:
    headers = {"Authorization": auth.header()} if auth is not None else {}
    return call(server, "GET", uri, headers=headers)


def test_forged_tampered_and_misdirected_requests_are_refused(net: FederationNet) -> None:
    a, b, _ = servers(net)
    bob, _ = register(b, "bob")
    uri = f"/_matrix/federation/v1/query/profile?user_id={urllib.parse.quote(bob)}"
    [key_id] = own_keys(a)
    forger = Keypair.from_seed(key_id, bytes(32))  # A's key ID, not A's key
    refused = [
        None,  # no signature at all
        sign_request(forger, "GET", uri, a.server_name, b.server_name),
        sign_request(forger, "GET", uri, a.server_name, "127.0.0.9:1"),  # not for B
        sign_request(
            Keypair.from_seed("ed25519:nope", bytes(32)), "GET", uri, a.server_name, b.server_name
        ),
        sign_request(forger, "GET", uri, "127.0.0.9:1", b.server_name),  # origin unreachable
    ]
    for auth in refused:
        status, answer = _query(b, uri, auth)
        assert (status, answer["errcode"]) == (401, "M_UNAUTHORIZED"), (auth, answer)
    # Nothing learned about the unreachable origin.
    status, answer = call(b, "GET", "/_matrix/key/v2/query/127.0.0.9:1")
    assert answer == {"server_keys": []}


def test_federation_off_refuses_everything(tmp_path: Path) -> None:
    with federation(tmp_path) as net:
        off = net.server(5, CONDUWUIT_ALLOW_FEDERATION="false")
        off.start(timeout=60)
        _, token = register(off, "carol")
        for path in (
            "/_matrix/key/v2/server",
            "/_matrix/key/v2/query/127.0.0.9:1",
            "/_matrix/federation/v1/query/profile?user_id=@carol:x",
        ):
            status, answer = call(off, "GET", path)
            assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), path
        status, answer = call(off, "GET", "/_matrix/client/v3/profile/@x:127.0.0.9:1", token=token)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
