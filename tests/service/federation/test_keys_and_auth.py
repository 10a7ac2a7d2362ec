"""Remote keys and inbound X-Matrix checks, against a real key server on loopback TLS.

The "remote" is an in-process aiohttp TLS server on 127.0.0.2 publishing the key
document of a real :class:`ServerKeys`; our side is a real FederationClient and a
real RocksDB. Refusals show that nothing was stored or fetched.
"""

from __future__ import annotations

import asyncio
import copy
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from conduwuit.core.errors import MatrixError
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS
from conduwuit.core.signing import SignatureError
from conduwuit.core.x_matrix import sign_request
from conduwuit.db import MAPS, Database, DatabaseOptions
from conduwuit.service.federation.auth import RequestAuth
from conduwuit.service.federation.client import ClientSettings, FederationClient
from conduwuit.service.federation.event_checks import PduSignatures
from conduwuit.service.federation.keys import (
    InvalidKeyDocument,
    KeySettings,
    RemoteKeys,
    verified_keys,
)
from conduwuit.service.ip_denylist import IpDenylist
from conduwuit.service.server_keys import KEY_VALIDITY_MS, ServerKeys
from tests.kit.server import free_port
from tests.service.federation.netkit import ip_literal_resolver

ME = "me.test"
V10 = KNOWN_ROOM_VERSIONS["10"]
START = 1_700_000_000_000


@dataclass
class Clock:
    now: int = START

    def __call__(self) -> int:
        return self.now


@dataclass
class KeyServer:
    """Another server's key endpoint; ``tamper`` corrupts what it serves."""

    keys: ServerKeys
    ca_file: Path
    requests: int = 0
    tamper: bool = False
    delay_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.keys.server_name


class MemoryMap(dict[bytes, bytes]):
    def put(self, key: bytes, value: bytes) -> None:
        self[key] = value


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(DatabaseOptions(path=tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[KeyServer]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.2").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    server = KeyServer(ServerKeys(f"127.0.0.2:{port}", MemoryMap(), Clock()), ca_file)

    async def key_document(request: web.Request) -> web.Response:
        server.requests += 1
        await asyncio.sleep(server.delay_s)
        document = copy.deepcopy(server.keys.key_document())
        if server.tamper:
            document["valid_until_ts"] += 1
        return web.json_response(document)

    app = web.Application()
    app.router.add_get("/_matrix/key/v2/server", key_document)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.2", port, ssl_context=context).start()
    yield server
    await runner.cleanup()


@dataclass
class Local:
    keys: RemoteKeys
    auth: RequestAuth
    client: FederationClient
    clock: Clock
    db: Database

    def stored(self, server_name: str) -> bytes | None:
        return self.db.map(MAPS.server_signingkeys).get(server_name.encode())


@pytest.fixture
async def local(db: Database, remote: KeyServer) -> AsyncIterator[Local]:
    clock = Clock()
    own = ServerKeys(ME, db.map(MAPS.global_), clock)
    client = FederationClient(
        ME,
        lambda: own.keypair,
        ip_literal_resolver(clock),
        IpDenylist([]),
        ClientSettings(ca_file=remote.ca_file, conn_timeout_s=2, timeout_s=5),
        clock,
    )
    keys = RemoteKeys(own, db.map(MAPS.server_signingkeys), client, KeySettings(), clock)
    auth = RequestAuth(ME, keys, clock, allow_federation=True, forbidden_servers=frozenset())
    yield Local(keys, auth, client, clock, db)
    await client.close()


def document_of(remote: KeyServer) -> dict[str, Any]:
    return copy.deepcopy(remote.keys.key_document())


# -- documents ----------------------------------------------------------------------


def test_a_self_signed_document_gives_its_keys(remote: KeyServer) -> None:
    remote.keys.rotate()
    keys = verified_keys(document_of(remote), remote.name)
    current = remote.keys.keypair
    assert keys[current.key_id].key == current.public_key
    assert keys[current.key_id].valid_until_ts == START + KEY_VALIDITY_MS
    [old_id] = remote.keys.old_keys
    assert keys[old_id].old and keys[old_id].valid_until_ts == START


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d.update(valid_until_ts=d["valid_until_ts"] + 1),  # tampered
        lambda d: d.update(server_name="other.test"),
        lambda d: d.pop("signatures"),
        lambda d: d.update(verify_keys={}),
        lambda d: d.update(signatures={"x": {}}),
        lambda d: (
            d["verify_keys"].update({"ed25519:new": {"key": "AAAA"}}) or d["signatures"].update()
        ),
    ],
)
def test_bad_documents_are_refused(remote: KeyServer, spoil: Any) -> None:
    document = document_of(remote)
    spoil(document)
    with pytest.raises(InvalidKeyDocument):
        verified_keys(document, remote.name)


# -- fetching and the cache ------------------------------------------------------------


async def test_concurrent_lookups_share_one_fetch_and_then_the_cache(
    local: Local, remote: KeyServer
) -> None:
    remote.delay_s = 0.2
    key_id = remote.keys.keypair.key_id
    found = await asyncio.gather(*(local.keys.key(remote.name, key_id) for _ in range(10)))
    assert {k.key if k else None for k in found} == {remote.keys.keypair.public_key}
    assert remote.requests == 1
    await local.keys.key(remote.name, key_id)
    assert remote.requests == 1  # cached, in RocksDB
    assert local.stored(remote.name) is not None


async def test_a_key_needed_valid_later_than_cached_is_fetched_again(
    local: Local, remote: KeyServer
) -> None:
    key_id = remote.keys.keypair.key_id
    await local.keys.key(remote.name, key_id)
    until = START + KEY_VALIDITY_MS
    assert (await local.keys.key(remote.name, key_id, valid_at=until)) is not None
    assert remote.requests == 1
    # The remote re-signs with a later valid_until_ts once its clock moved on.
    assert isinstance(remote.keys._clock, Clock)
    remote.keys._clock.now = START + KEY_VALIDITY_MS
    found = await local.keys.key(remote.name, key_id, valid_at=until + 1)
    assert found is not None and found.valid_until_ts == START + 2 * KEY_VALIDITY_MS
    assert remote.requests == 2


async def test_a_tampered_document_is_not_stored(local: Local, remote: KeyServer) -> None:
    remote.tamper = True
    assert await local.keys.key(remote.name, remote.keys.keypair.key_id) is None
    assert local.stored(remote.name) is None


# -- inbound requests ------------------------------------------------------------------


def signed(remote: KeyServer, uri: str, destination: str = ME, content: Any = None) -> str:
    auth = sign_request(remote.keys.keypair, "PUT", uri, remote.name, destination, content)
    return auth.header()


async def test_a_correctly_signed_request_is_accepted(local: Local, remote: KeyServer) -> None:
    alive: list[str] = []
    local.auth.origin_listeners.append(alive.append)
    header = signed(remote, "/_matrix/federation/v1/x?a=1", content={"k": [1]})
    origin = await local.auth.authenticate(
        "PUT", "/_matrix/federation/v1/x?a=1", header, {"k": [1]}
    )
    assert origin == remote.name
    # The listeners (the sender's end of backoff) hear of signed requests only.
    assert alive == [remote.name]
    await refused(local, signed(remote, "/x"), "/y")
    assert alive == [remote.name]


async def refused(
    local: Local, header: str | None, uri: str = "/x", content: Any = None
) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        await local.auth.authenticate("PUT", uri, header, content)
    return info.value


async def test_bad_signatures_and_destinations_are_401(local: Local, remote: KeyServer) -> None:
    cases = [
        (None, "/x", None),
        ("Bearer x", "/x", None),
        (signed(remote, "/x"), "/y", None),  # another URI
        (signed(remote, "/x", content={"a": 1}), "/x", {"a": 2}),  # another body
        (signed(remote, "/x", destination="other.test"), "/x", None),
        (signed(remote, "/x").replace(remote.keys.keypair.key_id, "ed25519:unknown"), "/x", None),
    ]
    for header, uri, content in cases:
        error = await refused(local, header, uri, content)
        assert (error.status, error.errcode) == (401, "M_UNAUTHORIZED"), header


async def test_an_expired_or_rotated_key_is_refused(local: Local, remote: KeyServer) -> None:
    header = signed(remote, "/x")
    assert await local.auth.authenticate("PUT", "/x", header, None) == remote.name
    # Past valid_until_ts, with the remote gone quiet: refused.
    remote.tamper = True
    local.clock.now = START + KEY_VALIDITY_MS + 1
    error = await refused(local, header)
    assert (error.status, error.errcode) == (401, "M_UNAUTHORIZED")
    # A key the remote has retired into old_verify_keys no longer signs requests.
    remote.tamper = False
    old = remote.keys.keypair
    assert isinstance(remote.keys._clock, Clock)
    remote.keys._clock.now = local.clock.now
    remote.keys.rotate()
    local.client.backoff.succeeded(remote.name)
    header = sign_request(old, "PUT", "/x", remote.name, ME).header()
    error = await refused(local, header)
    assert (error.status, error.errcode) == (401, "M_UNAUTHORIZED")
    retired = local.keys.cached(remote.name)[old.key_id]
    assert retired.old and retired.valid_until_ts == local.clock.now
    # ... while the new one does.
    header = signed(remote, "/x")
    assert await local.auth.authenticate("PUT", "/x", header, None) == remote.name


async def test_forbidden_servers_and_federation_off_are_403_without_a_fetch(
    local: Local, remote: KeyServer
) -> None:
    header = signed(remote, "/x")
    for auth in (
        RequestAuth(
            ME,
            local.keys,
            local.clock,
            allow_federation=True,
            forbidden_servers=frozenset({remote.name}),
        ),
        RequestAuth(
            ME, local.keys, local.clock, allow_federation=False, forbidden_servers=frozenset()
        ),
    ):
        with pytest.raises(MatrixError) as info:
            await auth.authenticate("PUT", "/x", header, None)
        assert (info.value.status, info.value.errcode) == (403, "M_FORBIDDEN")
    assert remote.requests == 0
    assert local.stored(remote.name) is None


# -- incoming events -------------------------------------------------------------------


def remote_event(remote: KeyServer, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "m.room.message",
        "room_id": "!room:me.test",
        "sender": f"@u:{remote.name}",
        "origin_server_ts": START + 5,
        "content": {"body": "hi", "msgtype": "m.text"},
        "depth": 3,
        "prev_events": [],
        "auth_events": [],
        **fields,
    }
    return hash_and_sign_event(event, remote.name, remote.keys.keypair, V10)


async def test_a_signed_event_passes_and_a_changed_body_is_redacted(
    local: Local, remote: KeyServer
) -> None:
    checker = PduSignatures(local.keys)
    event = remote_event(remote)
    assert await checker.check(event, V10) == event
    changed = {**event, "content": {"body": "changed", "msgtype": "m.text"}}
    assert (await checker.check(changed, V10))["content"] == {}


async def test_bad_or_missing_signatures_reject_the_event(local: Local, remote: KeyServer) -> None:
    checker = PduSignatures(local.keys)
    event = remote_event(remote)
    for bad in (
        {**event, "signatures": {}},
        {**event, "sender": "@u:other.test"},  # not signed by the sender's server
        {**event, "type": "m.room.topic"},  # the signed, redacted form changed
        # Sent after the key's valid_until_ts (rooms v5+).
        remote_event(remote, origin_server_ts=START + KEY_VALIDITY_MS + 1),
    ):
        with pytest.raises(SignatureError):
            await checker.check(bad, V10)


async def test_a_restricted_join_needs_the_authorising_servers_signature(
    local: Local, remote: KeyServer
) -> None:
    join = remote_event(
        remote,
        type="m.room.member",
        state_key=f"@u:{remote.name}",
        content={"membership": "join", "join_authorised_via_users_server": "@admin:third.test"},
    )
    with pytest.raises(SignatureError, match=r"third\.test"):
        await PduSignatures(local.keys).check(join, V10)
