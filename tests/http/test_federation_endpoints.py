"""Federation endpoints over HTTP: notary input checks, signed-only queries, and what
clients get when a remote server cannot be asked. Nothing is stored on refusals."""

from __future__ import annotations

import json

import pytest

from conduwuit.core import canonical_json
from conduwuit.core.signing import verify_signed_json
from conduwuit.db import MAPS
from tests.kit.homeserver import Homeserver, StartHomeserver


async def test_notary_serves_our_own_keys_signed(hs: Homeserver) -> None:
    name = hs.config.server_name
    for method, path, body in (
        ("GET", f"/_matrix/key/v2/query/{name}", None),
        ("POST", "/_matrix/key/v2/query", {"server_keys": {name: {}}}),
    ):
        status, answer = await hs.request(method, path, body)
        assert status == 200, answer
        [document] = answer["server_keys"]
        keypair = hs.services.server_keys.keypair
        verify_signed_json(document, name, keypair.key_id, keypair.public_key)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"server_keys": []},
        {"server_keys": {"a.example": []}},
        {"server_keys": {"a.example": {"ed25519:x": 1}}},
        {"server_keys": {"a.example": {"ed25519:x": {"minimum_valid_until_ts": "1"}}}},
        {"server_keys": {f"s{i}.example": {} for i in range(101)}},
    ],
)
async def test_bad_notary_queries_are_bad_json(hs: Homeserver, body: object) -> None:
    status, answer = await hs.request("POST", "/_matrix/key/v2/query", body)
    assert (status, answer["errcode"]) == (400, "M_BAD_JSON")


async def test_bad_minimum_valid_until_ts_is_invalid_param(hs: Homeserver) -> None:
    status, answer = await hs.request(
        "GET", "/_matrix/key/v2/query/a.example", params={"minimum_valid_until_ts": "soon"}
    )
    assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM")


@pytest.mark.parametrize("path", ["/query/profile?user_id=@a:test.example", "/query/directory"])
async def test_queries_need_a_server_signature(hs: Homeserver, path: str) -> None:
    status, answer = await hs.request("GET", f"/_matrix/federation/v1{path}")
    assert (status, answer["errcode"]) == (401, "M_UNAUTHORIZED")


async def test_unreachable_remotes_are_502_and_nothing_is_stored(hs: Homeserver) -> None:
    user = await hs.register("alice")
    token = user["access_token"]
    # 127.0.0.9 is in the default ip_range_denylist; example.org needs discovery.
    for path in (
        "/profile/@bob:127.0.0.9:8448",
        "/profile/@bob:127.0.0.9:8448/displayname",
        "/directory/room/%23a:127.0.0.9:8448",
        "/directory/room/%23a:example.org",
    ):
        status, answer = await hs.request("GET", path, token=token)
        assert (status, answer["errcode"]) == (502, "M_UNKNOWN"), (path, answer)
    # No key or anything else was learned about them.
    keys = hs.services.db.map(MAPS.server_signingkeys)
    assert keys.get(b"127.0.0.9:8448") is None and keys.get(b"example.org") is None


async def test_remote_profile_fields_beyond_the_federated_two_are_404(hs: Homeserver) -> None:
    user = await hs.register("alice")
    status, answer = await hs.request(
        "GET", "/profile/@bob:127.0.0.9:8448/m.tz", token=user["access_token"]
    )
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")


async def test_federation_off_refuses_outbound_queries(start: StartHomeserver) -> None:
    hs = await start(allow_federation=False)
    user = await hs.register("alice")
    status, answer = await hs.request(
        "GET", "/profile/@bob:127.0.0.9:8448", token=user["access_token"]
    )
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
    status, answer = await hs.request("GET", "/_matrix/key/v2/server")
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")


async def test_key_answers_are_canonical_json(hs: Homeserver) -> None:
    """Signatures verify over the bytes as sent (Complement checks exactly that)."""
    for path in ("/_matrix/key/v2/server", f"/_matrix/key/v2/query/{hs.config.server_name}"):
        async with hs.client.get(path) as response:
            raw = await response.read()
        assert raw == canonical_json.encode(json.loads(raw)), path
