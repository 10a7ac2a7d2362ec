"""End-to-end encryption across two of our server processes (tests/kit/federation.py).

Alice on A and Bob on B share an encrypted room. Their matrix-nio clients fetch
each other's device keys through ``/keys/query`` (A asks B with
``/user/keys/query``), claim one-time keys remotely (``/user/keys/claim``), share
the Megolm room key over to-device through federation, and each decrypts the
other's messages. Bob's new device reaches Alice as an ``m.device_list_update``
EDU (``device_lists.changed`` in her sync) and gets the room key for what she
sends next; so does Alice's new device on Bob's side.

The same conversation runs with Synapse as Bob's server (tests/kit/synapse_peer.py;
skipped without the ``crosscheck`` extra): Synapse asks us with its own
``/user/keys/query`` and ``/user/keys/claim``, and we ask it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from nio import AsyncClient, LoginResponse, RoomSendResponse

from tests.kit.e2ee import FakeDevice
from tests.kit.federation import FederationNet, HasBaseUrl, call, federation, register, running
from tests.kit.nio_e2ee import (
    ENCRYPTION,
    decrypted_texts,
    device_ids,
    encrypted_pair,
    nio_client,
    nio_sync,
    sync_until,
    trust_all,
)
from tests.kit.server import ServerProcess
from tests.kit.synapse_peer import synapse_available

pytest.importorskip("vodozemac")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with running(tmp_path_factory.mktemp("fed-e2ee"), 2, 3) as net:
        yield net


@pytest.fixture(scope="module")
def synapse_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    if not synapse_available():
        pytest.skip("matrix-synapse (the crosscheck extra) is not installed")
    with federation(tmp_path_factory.mktemp("fed-e2ee-synapse")) as net:
        net.server(2).start(wait=True, timeout=60)
        net.synapse(5).start()
        yield net


async def test_encrypted_conversation_across_servers(net: FederationNet, tmp_path: Path) -> None:
    a, b = net.servers
    await _conversation(a, b, tmp_path)


async def test_encrypted_conversation_with_synapse(
    synapse_net: FederationNet, tmp_path: Path
) -> None:
    [a], [s] = synapse_net.servers, synapse_net.synapses
    await _conversation(a, s, tmp_path)


async def _conversation(a: ServerProcess, b: HasBaseUrl, tmp_path: Path) -> None:
    alice, bob, room_id = await encrypted_pair(a, b, tmp_path)
    alice_id, bob_id = alice.user_id, bob.user_id
    alice2: AsyncClient | None = None
    bob2: AsyncClient | None = None
    try:
        # Each side's keys reached the other through its own server's /keys/query.
        bob_saw: list[str] = []
        bob_got_text = decrypted_texts(bob, room_id, bob_saw)
        sent = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hello bob, over there"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await sync_until(bob, bob_got_text)
        assert bob_saw == ["hello bob, over there"]
        # The room key came over an Olm session: a one-time key claimed from B.
        assert bob.olm is not None and alice.olm is not None
        assert bob.olm.session_store.get(alice.olm.account.identity_keys["curve25519"])

        alice_saw: list[str] = []
        decrypted_texts(alice, room_id, alice_saw)
        sent = await bob.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hi alice, from afar"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await sync_until(alice, lambda: "hi alice, from afar" in alice_saw)

        # Bob's new device: B sends an m.device_list_update to A, Alice's sync says
        # Bob changed, her client queries again and shares the room key with it.
        bob2 = nio_client(b, tmp_path, "bob", "BOBLAPTOP")
        login = await bob2.login("bob password!", device_name="laptop")
        assert isinstance(login, LoginResponse), login
        await nio_sync(bob2)
        await sync_until(alice, lambda: "BOBLAPTOP" in device_ids(alice, bob_id))
        trust_all(alice, [bob_id])
        await sync_until(bob2, lambda: "ALICEPHONE" in device_ids(bob2, alice_id))
        trust_all(bob2, [alice_id])
        laptop_saw: list[str] = []
        decrypted_texts(bob2, room_id, laptop_saw)
        sent = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "welcome, laptop"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await sync_until(bob2, lambda: "welcome, laptop" in laptop_saw)

        # And the other way: Alice's new device reaches Bob's server as an EDU.
        alice2 = nio_client(a, tmp_path, "alice", "ALICETABLET")
        login = await alice2.login("alice password!", device_name="tablet")
        assert isinstance(login, LoginResponse), login
        await nio_sync(alice2)
        await sync_until(bob, lambda: "ALICETABLET" in device_ids(bob, alice_id))
        await sync_until(bob, lambda: "BOBLAPTOP" in device_ids(bob, bob_id))
        trust_all(bob, [alice_id, bob_id])
        await sync_until(alice2, lambda: "BOBPHONE" in device_ids(alice2, bob_id))
        trust_all(alice2, [bob_id])
        tablet_saw: list[str] = []
        decrypted_texts(alice2, room_id, tablet_saw)
        sent = await bob.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hello, tablet"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await sync_until(alice2, lambda: "hello, tablet" in tablet_saw)
    finally:
        for client in (alice, alice2, bob, bob2):
            if client is not None:
                await client.close()


def _device_lists(server: ServerProcess, token: str, since: str) -> tuple[str, list[str]]:
    status, answer = call(
        server, "GET", f"/_matrix/client/v3/sync?since={since}&timeout=1000", token=token
    )
    assert status == 200, answer
    changed: list[str] = sorted(answer.get("device_lists", {}).get("changed", []))
    return answer["next_batch"], changed


def _until_changed(server: ServerProcess, token: str, since: str, want: list[str]) -> str:
    for _ in range(20):
        since, changed = _device_lists(server, token, since)
        if changed:
            assert changed == sorted(want)
            return since
    raise AssertionError(f"no device_lists.changed; wanted {want}")


def test_device_list_changes_cross_once(net: FederationNet) -> None:
    """As Complement's TestDeviceListsUpdateOverFederation: after Bob joins Alice's
    room from B, each hears of the other once (the EDU B sends to announce Bob's
    devices on his join tells Alice nothing new), and Alice's new device reaches Bob."""
    a, b = net.servers
    alice, alice_token = register(a, "carla")
    bob, bob_token = register(b, "dmitri")
    status, room = call(
        a,
        "POST",
        "/_matrix/client/v3/createRoom",
        {"preset": "private_chat", "invite": [bob], "initial_state": [ENCRYPTION]},
        token=alice_token,
    )
    assert status == 200, room
    room_id = room["room_id"]
    _, answer = call(a, "GET", "/_matrix/client/v3/sync?timeout=0", token=alice_token)
    alice_since = answer["next_batch"]
    _, answer = call(b, "GET", "/_matrix/client/v3/sync?timeout=0", token=bob_token)
    bob_since = answer["next_batch"]
    path = f"/_matrix/client/v3/join/{urllib.parse.quote(room_id)}?server_name={a.server_name}"
    status, answer = call(b, "POST", path, {}, token=bob_token)
    assert status == 200, answer

    alice_since = _until_changed(a, alice_token, alice_since, [bob])
    bob_since = _until_changed(b, bob_token, bob_since, [alice, bob])
    # B's announcement of Bob's device arrives: nothing more for Alice.
    for _ in range(3):
        alice_since, changed = _device_lists(a, alice_token, alice_since)
        assert changed == []

    status, login = call(
        a,
        "POST",
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "carla"},
            "password": "pw-123456",
            "device_id": "NEW_DEVICE",
        },
    )
    assert status == 200, login
    new_device = FakeDevice(alice, "NEW_DEVICE")
    status, _ = call(
        a,
        "POST",
        "/_matrix/client/v3/keys/upload",
        {"device_keys": new_device.device_keys()},
        token=login["access_token"],
    )
    assert status == 200
    _until_changed(a, alice_token, alice_since, [alice])
    _until_changed(b, bob_token, bob_since, [alice])
