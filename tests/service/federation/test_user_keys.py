"""Device lists and keys across servers, against a federation peer on loopback TLS
(tests/kit/federation_peer.py) that signs its requests and checks ours.

Served: /user/devices, /user/keys/query and /user/keys/claim answer for our users
only, without device names by default. Sent: m.device_list_update EDUs in one
stream_id/prev_id chain, m.signing_key_update. Received: EDUs about the origin's
users reach local users' /keys/changes; a gap resyncs through /user/devices. Asked:
/keys/query and /keys/claim report an unreachable or slow server in ``failures``
while the others answer.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conduwuit.core.signing import sign_json
from conduwuit.db import MAPS
from conduwuit.service.federation.user_keys import UserKeys
from tests.kit.e2ee import FakeCrossSigning, FakeDevice
from tests.kit.federation_peer import (
    FederationPeer,
    homeserver_with_peer,
    join_peer_user,
    signed,
)
from tests.kit.homeserver import Homeserver

OURS = "test.example"
ALICE = f"@alice:{OURS}"


@pytest.fixture
async def peer_and_hs(tmp_path: Path) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    async with homeserver_with_peer(tmp_path, "127.0.0.8", sender=True) as pair:
        try:
            yield pair
        finally:
            await pair[1].services.federation.remote_keys.stop()


async def alice_with_peer_roommate(hs: Homeserver, peer: FederationPeer) -> tuple[str, str]:
    """(alice's token, room ID): alice on our server, ``@dave`` of the peer joined."""
    reply = await hs.register("alice", device_id="PHONE", initial_device_display_name="phone")
    token = reply["access_token"]
    status, created = await hs.request(
        "POST", "/createRoom", {"preset": "public_chat", "room_version": "10"}, token=token
    )
    assert status == 200, created
    room = created["room_id"]
    await join_peer_user(hs.services.rooms.storage, room, peer)
    return token, room


def edus(peer: FederationPeer, edu_type: str) -> list[dict[str, Any]]:
    """Contents of the EDUs of a type the peer received, in order, once per txn."""
    seen: dict[str, Any] = {}
    for received in peer.received:
        seen[received.txn_id] = received.body
    return [
        e["content"] for body in seen.values() for e in body["edus"] if e["edu_type"] == edu_type
    ]


async def test_served_keys_are_our_users_only_and_without_device_names(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, _ = await alice_with_peer_roommate(hs, peer)
    phone = FakeDevice(ALICE, "PHONE")
    status, _ = await hs.request(
        "POST",
        "/keys/upload",
        {"device_keys": phone.device_keys(), "one_time_keys": phone.one_time_keys(1)},
        token=token,
    )
    assert status == 200
    cross = FakeCrossSigning(ALICE)
    status, _ = await hs.request(
        "POST", "/keys/device_signing/upload", cross.upload_body(), token=token
    )
    assert status == 200

    quoted = urllib.parse.quote(ALICE, safe="@:")
    status, devices = await signed(hs, peer, "GET", f"/_matrix/federation/v1/user/devices/{quoted}")
    assert status == 200, devices
    [device] = devices["devices"]
    assert device == {"device_id": "PHONE", "keys": phone.device_keys()}  # no name
    assert devices["user_id"] == ALICE and devices["stream_id"] > 0
    assert devices["master_key"]["usage"] == ["master"]
    assert devices["self_signing_key"]["usage"] == ["self_signing"]

    status, answer = await signed(
        hs, peer, "POST", "/_matrix/federation/v1/user/keys/query", {"device_keys": {ALICE: []}}
    )
    assert status == 200, answer
    assert answer["device_keys"][ALICE]["PHONE"] == phone.device_keys()
    assert ALICE in answer["master_keys"] and "user_signing_keys" not in answer

    claim = {"one_time_keys": {ALICE: {"PHONE": "signed_curve25519"}}}
    status, answer = await signed(hs, peer, "POST", "/_matrix/federation/v1/user/keys/claim", claim)
    assert status == 200, answer
    assert list(answer["one_time_keys"][ALICE]["PHONE"]) == ["signed_curve25519:K1"]
    status, answer = await signed(hs, peer, "POST", "/_matrix/federation/v1/user/keys/claim", claim)
    assert (status, answer) == (200, {"one_time_keys": {}})

    # Other servers' users, and unsigned requests, are refused.
    other = urllib.parse.quote(f"@someone:{peer.server_name}", safe="@:")
    for method, path, body in (
        ("GET", f"/_matrix/federation/v1/user/devices/{other}", None),
        ("POST", "/_matrix/federation/v1/user/keys/query", {"device_keys": {"@x:else.where": []}}),
    ):
        status, answer = await signed(hs, peer, method, path, body)
        assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM"), answer
    status, answer = await hs.request("GET", f"/_matrix/federation/v1/user/devices/{quoted}")
    assert status == 401


async def test_device_changes_go_out_as_one_chain_of_updates(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, _ = await alice_with_peer_roommate(hs, peer)
    phone, laptop = FakeDevice(ALICE, "PHONE"), FakeDevice(ALICE, "LAPTOP")
    await hs.request("POST", "/keys/upload", {"device_keys": phone.device_keys()}, token=token)
    laptop_token = (await hs.login("alice", device_id="LAPTOP"))["access_token"]
    await hs.request(
        "POST", "/keys/upload", {"device_keys": laptop.device_keys()}, token=laptop_token
    )
    status, _ = await hs.request(
        "PUT", "/devices/PHONE", {"display_name": "renamed phone"}, token=token
    )
    assert status == 200
    await hs.request("POST", "/logout", {}, token=laptop_token)
    await hs.request(
        "POST", "/keys/device_signing/upload", FakeCrossSigning(ALICE).upload_body(), token=token
    )
    await peer.wait_for(lambda p: len(edus(p, "m.signing_key_update")) == 1)
    await peer.wait_for(lambda p: len(edus(p, "m.device_list_update")) == 4)

    updates = edus(peer, "m.device_list_update")
    assert [(u["device_id"], "keys" in u, u.get("deleted", False)) for u in updates] == [
        ("PHONE", True, False),
        ("LAPTOP", True, False),
        ("PHONE", True, False),  # the rename (its name is not sent)
        ("LAPTOP", False, True),
    ]
    assert all(u["user_id"] == ALICE and "device_display_name" not in u for u in updates)
    assert updates[2]["keys"] == phone.device_keys()
    assert updates[0]["prev_id"] == []
    for before, after in itertools.pairwise(updates):
        assert after["prev_id"] == [before["stream_id"]]
        assert after["stream_id"] > before["stream_id"]
    [signing] = edus(peer, "m.signing_key_update")
    assert signing["user_id"] == ALICE
    assert set(signing) == {"user_id", "master_key", "self_signing_key"}
    # /user/devices continues the same chain.
    quoted = urllib.parse.quote(ALICE, safe="@:")
    _, devices = await signed(hs, peer, "GET", f"/_matrix/federation/v1/user/devices/{quoted}")
    assert devices["stream_id"] == updates[-1]["stream_id"]


async def _send_edus(hs: Homeserver, peer: FederationPeer, *edu_list: dict[str, Any]) -> None:
    txn = f"t{time.monotonic_ns()}"
    body = {"origin": peer.server_name, "origin_server_ts": 0, "pdus": [], "edus": list(edu_list)}
    status, answer = await signed(hs, peer, "PUT", f"/_matrix/federation/v1/send/{txn}", body)
    assert status == 200, answer


async def _changed_since(hs: Homeserver, token: str, since: str) -> list[str]:
    status, answer = await hs.request("GET", "/keys/changes", token=token, params={"from": since})
    assert status == 200, answer
    changed: list[str] = answer["changed"]
    return changed


async def test_remote_updates_are_applied_and_a_gap_resyncs(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, _ = await alice_with_peer_roommate(hs, peer)
    dave = f"@dave:{peer.server_name}"
    one, two = FakeDevice(dave, "ONE"), FakeDevice(dave, "TWO")
    peer.user_devices[dave] = {
        "user_id": dave,
        "stream_id": 5,
        "devices": [{"device_id": "ONE", "keys": one.device_keys()}],
    }
    since = str(hs.services.db.current_count())

    # A query for some devices is not cached; an update then is only news.
    peer.user_keys[dave] = {"device_keys": {"ONE": one.device_keys()}}
    status, answer = await hs.request(
        "POST", "/keys/query", {"device_keys": {dave: ["ONE"]}}, token=token
    )
    assert status == 200 and answer["device_keys"][dave] == {"ONE": one.device_keys()}
    update = {"user_id": dave, "device_id": "ONE", "stream_id": 4, "prev_id": [3]}
    await _send_edus(hs, peer, {"edu_type": "m.device_list_update", "content": update})
    assert await _changed_since(hs, token, since) == [dave]
    # A query for all of them asks the peer and is cached.
    status, answer = await hs.request(
        "POST", "/keys/query", {"device_keys": {dave: []}}, token=token
    )
    assert status == 200 and answer["device_keys"][dave] == {"ONE": one.device_keys()}
    assert peer.key_requests == ["/_matrix/federation/v1/user/keys/query"] * 2

    # Cached now (without a stream ID): the next update is a gap; /user/devices refills.
    since = str(hs.services.db.current_count())
    update = {"user_id": dave, "device_id": "ONE", "stream_id": 5, "prev_id": [4]}
    await _send_edus(hs, peer, {"edu_type": "m.device_list_update", "content": update})
    assert await _changed_since(hs, token, since) == [dave]
    remote = hs.services.federation.remote_keys
    deadline = time.monotonic() + 10
    while (remote.cached(dave) or {}).get("stream_id") != 5:
        assert time.monotonic() < deadline, peer.key_requests
        await peer.wait_for(lambda p: True, within=0.2)

    # In sequence: applied to the cache, no request to the peer.
    requests = len(peer.key_requests)
    update = {
        "user_id": dave,
        "device_id": "TWO",
        "stream_id": 6,
        "prev_id": [5],
        "keys": two.device_keys(),
    }
    signing = {"user_id": dave, "master_key": FakeCrossSigning(dave).upload_body()["master_key"]}
    await _send_edus(
        hs,
        peer,
        {"edu_type": "m.device_list_update", "content": update},
        {"edu_type": "m.signing_key_update", "content": signing},
    )
    status, answer = await hs.request(
        "POST", "/keys/query", {"device_keys": {dave: []}}, token=token
    )
    assert set(answer["device_keys"][dave]) == {"ONE", "TWO"}
    assert answer["master_keys"][dave] == signing["master_key"]
    assert len(peer.key_requests) == requests

    # Alice verifies Dave: her user-signing key signs his (remote) master key; only
    # she sees the signature, and his new master key drops it.
    alice_keys = FakeCrossSigning(ALICE)
    status, _ = await hs.request(
        "POST", "/keys/device_signing/upload", alice_keys.upload_body(), token=token
    )
    assert status == 200
    master = signing["master_key"]
    [master_id] = master["keys"]
    signed_master = sign_json(dict(master), ALICE, alice_keys.user_signing)
    status, answer = await hs.request(
        "POST",
        "/keys/signatures/upload",
        {dave: {master_id.split(":", 1)[1]: signed_master}},
        token=token,
    )
    assert (status, answer["failures"]) == (200, {}), answer
    bob_token = (await hs.register("bob"))["access_token"]
    seen = {}
    for who, who_token in ((ALICE, token), ("bob", bob_token)):
        status, answer = await hs.request(
            "POST", "/keys/query", {"device_keys": {dave: []}}, token=who_token
        )
        seen[who] = answer["master_keys"][dave].get("signatures", {})
    assert seen[ALICE][ALICE] == signed_master["signatures"][ALICE]
    assert ALICE not in seen["bob"]
    new_master = {"user_id": dave, "master_key": FakeCrossSigning(dave).upload_body()["master_key"]}
    await _send_edus(hs, peer, {"edu_type": "m.signing_key_update", "content": new_master})
    status, answer = await hs.request(
        "POST", "/keys/query", {"device_keys": {dave: []}}, token=token
    )
    assert answer["master_keys"][dave] == new_master["master_key"]

    # About a user of another server, or nobody here tracks: ignored.
    since = str(hs.services.db.current_count())
    for user in ("@eve:elsewhere.example", f"@stranger:{peer.server_name}"):
        update = {"user_id": user, "device_id": "X", "stream_id": 9, "prev_id": []}
        await _send_edus(hs, peer, {"edu_type": "m.device_list_update", "content": update})
    assert await _changed_since(hs, token, since) == []


async def test_unreachable_and_slow_servers_are_failures(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, _ = await alice_with_peer_roommate(hs, peer)
    dave, gone = f"@dave:{peer.server_name}", "@nobody:127.0.0.9:1"
    peer.user_keys[dave] = {"device_keys": {}}
    body = {"device_keys": {dave: ["X"], gone: [], ALICE: []}, "timeout": 5000}
    status, answer = await hs.request("POST", "/keys/query", body, token=token)
    assert status == 200, answer
    assert set(answer["failures"]) == {"127.0.0.9:1"}
    assert answer["device_keys"][dave] == {} and answer["device_keys"][ALICE] == {}

    peer.keys_delay = 3
    started = time.monotonic()
    body = {"device_keys": {dave: ["X"]}, "timeout": 300}
    status, answer = await hs.request("POST", "/keys/query", body, token=token)
    assert status == 200, answer
    assert answer["failures"][peer.server_name]["status"] == 504
    assert time.monotonic() - started < 2.5

    claim = {"one_time_keys": {gone: {"D": "signed_curve25519"}}, "timeout": 1000}
    status, answer = await hs.request("POST", "/keys/claim", claim, token=token)
    assert (status, answer["one_time_keys"]) == (200, {})
    assert set(answer["failures"]) == {"127.0.0.9:1"}


async def test_a_join_announces_the_joiners_devices_to_the_rooms_servers(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    _, room = await alice_with_peer_roommate(hs, peer)
    carol = f"@carol:{OURS}"
    carol_token = (await hs.register("carol", device_id="TABLET"))["access_token"]
    tablet = FakeDevice(carol, "TABLET")
    await hs.request(
        "POST", "/keys/upload", {"device_keys": tablet.device_keys()}, token=carol_token
    )
    assert edus(peer, "m.device_list_update") == []  # no room shared with the peer yet
    since = str(hs.services.db.current_count())
    status, _ = await hs.request("POST", f"/join/{room}", {}, token=carol_token)
    assert status == 200
    # Carol's own devices hear of the announcement too (as with Synapse).
    dave = f"@dave:{peer.server_name}"
    assert await _changed_since(hs, carol_token, since) == sorted([ALICE, carol, dave])
    await peer.wait_for(lambda p: len(edus(p, "m.device_list_update")) == 1)
    [update] = edus(peer, "m.device_list_update")
    assert (update["user_id"], update["device_id"]) == (carol, "TABLET")
    assert update["keys"] == tablet.device_keys()


async def test_device_names_go_out_only_when_allowed(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, _ = await alice_with_peer_roommate(hs, peer)
    phone = FakeDevice(ALICE, "PHONE")
    await hs.request("POST", "/keys/upload", {"device_keys": phone.device_keys()}, token=token)
    services = hs.services
    named = UserKeys(
        services.db,
        OURS,
        services.e2ee,
        services.users.devices,
        services.federation.sender,
        allow_device_names=True,
    )
    [device] = named.devices(ALICE)["devices"]
    assert device["device_display_name"] == "phone"
    keys = named.query({ALICE: []})["device_keys"][ALICE]["PHONE"]
    assert keys["unsigned"] == {"device_display_name": "phone"}
    # The server's own (allow_device_name_federation = false): no name anywhere.
    served = services.federation.user_keys
    assert "device_display_name" not in served.devices(ALICE)["devices"][0]
    assert "unsigned" not in served.query({ALICE: []})["device_keys"][ALICE]["PHONE"]


async def test_an_answer_that_may_predate_an_update_is_not_cached(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, _ = await alice_with_peer_roommate(hs, peer)
    dave = f"@dave:{peer.server_name}"
    one = FakeDevice(dave, "ONE")
    peer.user_keys[dave] = {"device_keys": {"ONE": one.device_keys()}}
    peer.keys_delay = 1
    query = asyncio.create_task(
        hs.request("POST", "/keys/query", {"device_keys": {dave: []}}, token=token)
    )
    await peer.wait_for(lambda p: bool(p.key_requests), within=5)
    update = {"user_id": dave, "device_id": "TWO", "stream_id": 7, "prev_id": [6]}
    await _send_edus(hs, peer, {"edu_type": "m.device_list_update", "content": update})
    status, answer = await query
    assert status == 200 and set(answer["device_keys"][dave]) == {"ONE"}
    assert hs.services.federation.remote_keys.cached(dave) is None
    # Asked again, with nothing arriving meanwhile: cached.
    peer.keys_delay = 0
    await hs.request("POST", "/keys/query", {"device_keys": {dave: []}}, token=token)
    assert hs.services.federation.remote_keys.cached(dave) is not None


async def test_a_cached_list_goes_when_no_room_is_shared_any_more(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, room = await alice_with_peer_roommate(hs, peer)
    dave = f"@dave:{peer.server_name}"
    peer.user_keys[dave] = {"device_keys": {"ONE": FakeDevice(dave, "ONE").device_keys()}}
    await hs.request("POST", "/keys/query", {"device_keys": {dave: []}}, token=token)
    cache = hs.services.db.map(MAPS.userid_remotedevicelist)
    assert cache.get(dave.encode()) is not None
    status, _ = await hs.request("POST", f"/rooms/{room}/leave", {}, token=token)
    assert status == 200
    # Dropped at the leave, not when next read: a rejoin must not find it stale.
    assert cache.get(dave.encode()) is None


async def test_the_announcement_of_a_join_is_not_news(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, _ = await alice_with_peer_roommate(hs, peer)  # dave's join: alice told
    dave = f"@dave:{peer.server_name}"
    since = str(hs.services.db.current_count())
    announcement = {"user_id": dave, "device_id": "ONE", "stream_id": 1, "prev_id": []}
    await _send_edus(hs, peer, {"edu_type": "m.device_list_update", "content": announcement})
    assert await _changed_since(hs, token, since) == []
    # Once a list was handed out, an update is news again.
    peer.user_keys[dave] = {"device_keys": {}}
    status, _ = await hs.request(
        "POST", "/keys/query", {"device_keys": {dave: ["ONE"]}}, token=token
    )
    assert status == 200
    update = {"user_id": dave, "device_id": "TWO", "stream_id": 2, "prev_id": [1]}
    await _send_edus(hs, peer, {"edu_type": "m.device_list_update", "content": update})
    assert await _changed_since(hs, token, since) == [dave]
