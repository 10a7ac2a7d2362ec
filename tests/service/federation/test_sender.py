"""The federation sender against a real receiving peer (tests/kit/federation_peer.py):
an HTTPS server on 127.0.0.N with the test CA that checks every X-Matrix signature
with the key our server publishes, and records the transactions.

The room has a member of the peer's server because a join signed by the peer was
taken through the event pipeline (``receive``), as the inbound side will.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conduwuit.service.federation.sender import MAX_PDUS, txn_id_for
from tests.kit.federation_peer import FederationPeer, homeserver_with_peer, join_peer_user
from tests.kit.homeserver import Homeserver

OURS = "test.example"


@pytest.fixture
async def peer_and_hs(tmp_path: Path) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    async with homeserver_with_peer(tmp_path, "127.0.0.7", sender=True) as pair:
        yield pair


async def room_with_peer_member(hs: Homeserver, peer: FederationPeer) -> tuple[str, str]:
    """(alice's token, room ID) of a v10 room that a user of the peer joined."""
    reply = await hs.register("alice")
    token = reply["access_token"]
    status, created = await hs.request(
        "POST", "/createRoom", {"preset": "public_chat", "room_version": "10"}, token=token
    )
    assert status == 200, created
    room = created["room_id"]
    await join_peer_user(hs.services.rooms.storage, room, peer)
    return token, room


async def send(hs: Homeserver, token: str, room: str, body: str) -> str:
    path = f"/rooms/{room}/send/m.room.message/{body}"
    status, reply = await hs.request("PUT", path, {"msgtype": "m.text", "body": body}, token=token)
    assert status == 200, reply
    return str(reply["event_id"])


def bodies(peer: FederationPeer) -> list[str]:
    out: list[str] = []
    for received in peer.received:
        for pdu in received.body["pdus"]:
            if pdu["type"] == "m.room.message" and pdu["content"]["body"] not in out:
                out.append(pdu["content"]["body"])
    return out


async def test_events_reach_the_peer_signed_and_in_order(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, room = await room_with_peer_member(hs, peer)
    await send(hs, token, room, "m1")
    await send(hs, token, room, "m2")
    await peer.wait_for(lambda p: bodies(p) == ["m1", "m2"])
    assert peer.refused == []
    first = peer.received[0]
    assert first.origin == OURS and first.body["origin"] == OURS
    pdu = first.body["pdus"][0]
    # Federation format of v10: no event_id, no unsigned, our signature.
    assert "event_id" not in pdu and "unsigned" not in pdu
    assert OURS in pdu["signatures"]
    assert hs.services.federation.sender.pending(peer.server_name) == 0
    # The peer's own join, received from it, is never sent back.
    assert all(p["sender"].endswith(f":{OURS}") for r in peer.received for p in r.body["pdus"])


async def test_a_retry_after_a_500_sends_the_same_transaction_after_backoff(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, room = await room_with_peer_member(hs, peer)
    peer.fail_next = 1
    await send(hs, token, room, "m1")
    await peer.wait_for(lambda p: len(p.received) >= 2, within=20)
    failed, retried = peer.received[0], peer.received[1]
    assert failed.txn_id == retried.txn_id
    assert failed.body["pdus"] == retried.body["pdus"]
    # The first backoff is 5 s (the client's, shared by every caller).
    assert retried.at - failed.at >= 4.5
    assert hs.services.federation.sender.pending(peer.server_name) == 0


async def test_transactions_carry_at_most_50_pdus(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, room = await room_with_peer_member(hs, peer)
    sender = hs.services.federation.sender
    await sender.stop()  # queue while stopped, then start: everything is in the queue
    for i in range(MAX_PDUS + 10):
        await send(hs, token, room, f"m{i}")
    assert sender.pending(peer.server_name) == MAX_PDUS + 10
    sender.settings = type(sender.settings)(startup_netburst_keep=-1)
    sender.start()
    await peer.wait_for(lambda p: len(bodies(p)) == MAX_PDUS + 10)
    assert [len(r.body["pdus"]) for r in peer.received] == [MAX_PDUS, 10]
    assert bodies(peer) == [f"m{i}" for i in range(MAX_PDUS + 10)]
    assert len({r.txn_id for r in peer.received}) == 2


async def test_startup_netburst_keep_trims_the_queue(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, room = await room_with_peer_member(hs, peer)
    sender = hs.services.federation.sender
    await sender.stop()
    for i in range(5):
        await send(hs, token, room, f"m{i}")
    sender.settings = type(sender.settings)(startup_netburst_keep=2)
    sender.start()
    await peer.wait_for(lambda p: len(bodies(p)) == 2)
    assert bodies(peer) == ["m3", "m4"]


async def test_typing_and_receipts_are_edus_to_the_room_servers(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, room = await room_with_peer_member(hs, peer)
    event_id = await send(hs, token, room, "m1")
    user = "@alice:test.example"
    status, _ = await hs.request(
        "PUT", f"/rooms/{room}/typing/{user}", {"typing": True, "timeout": 20000}, token=token
    )
    assert status == 200
    status, _ = await hs.request(
        "POST", f"/rooms/{room}/receipt/m.read/{event_id}", {}, token=token
    )
    assert status == 200
    status, _ = await hs.request(
        "POST", f"/rooms/{room}/receipt/m.read.private/{event_id}", {}, token=token
    )
    assert status == 200

    def edus(p: FederationPeer) -> list[dict[str, Any]]:
        return [e for r in p.received for e in r.body["edus"]]

    await peer.wait_for(lambda p: len(edus(p)) >= 2)
    typing = [e for e in edus(peer) if e["edu_type"] == "m.typing"]
    assert typing == [
        {"edu_type": "m.typing", "content": {"room_id": room, "user_id": user, "typing": True}}
    ]
    (receipt,) = [e for e in edus(peer) if e["edu_type"] == "m.receipt"]
    assert receipt["content"][room]["m.read"][user]["event_ids"] == [event_id]
    # The private receipt never leaves the server.
    assert json.dumps(edus(peer)).count("m.read.private") == 0


async def test_nothing_is_sent_to_a_server_whose_users_left(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, room = await room_with_peer_member(hs, peer)
    # Alice kicks dave: the kick goes to dave's server (it must learn of it)...
    dave = f"@dave:{peer.server_name}"
    status, reply = await hs.request("POST", f"/rooms/{room}/kick", {"user_id": dave}, token=token)
    assert status == 200, reply
    await peer.wait_for(
        lambda p: any(pdu["type"] == "m.room.member" for r in p.received for pdu in r.body["pdus"])
    )
    seen = len(peer.received)
    # ... and later events go nowhere: no member of the peer's server is left.
    await send(hs, token, room, "after")
    assert hs.services.federation.sender.pending(peer.server_name) == 0
    assert len(peer.received) == seen


def test_txn_ids_are_stable_per_batch() -> None:
    keys = [b"a\xff" + (n).to_bytes(8, "big") for n in (5, 6, 9)]
    assert txn_id_for(keys) == txn_id_for(list(keys))
    assert txn_id_for(keys) != txn_id_for(keys[:2])


async def test_to_device_messages_for_remote_users_are_edus(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token = (await hs.register("alice"))["access_token"]
    dave = f"@dave:{peer.server_name}"
    messages = {"messages": {dave: {"DEV": {"hello": "there"}}}}
    status, reply = await hs.request("PUT", "/sendToDevice/m.test/t1", messages, token=token)
    assert status == 200, reply
    status, reply = await hs.request("PUT", "/sendToDevice/m.test/t1", messages, token=token)
    assert status == 200, reply  # the same transaction again: sent once

    def edus(p: FederationPeer) -> list[dict[str, Any]]:
        return [e for r in p.received for e in r.body["edus"]]

    await peer.wait_for(lambda p: len(edus(p)) >= 1)
    (edu,) = edus(peer)
    assert edu["edu_type"] == "m.direct_to_device"
    content = edu["content"]
    assert content["sender"] == "@alice:test.example" and content["type"] == "m.test"
    assert content["messages"] == {dave: {"DEV": {"hello": "there"}}}
    assert isinstance(content["message_id"], str)
    bad = {"messages": {dave: {"DEV": "not an object"}}}
    status, reply = await hs.request("PUT", "/sendToDevice/m.test/t2", bad, token=token)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    assert hs.services.federation.sender.pending(peer.server_name) == 0


async def test_presence_changes_are_edus_to_servers_sharing_a_room(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token, _ = await room_with_peer_member(hs, peer)
    user = "@alice:test.example"
    path = f"/presence/{user}/status"
    for body in (
        {"presence": "online", "status_msg": "tea"},
        {"presence": "online", "status_msg": "tea"},  # no change: nothing sent
        {"presence": "unavailable"},
    ):
        status, reply = await hs.request("PUT", path, body, token=token)
        assert status == 200, reply
    bad = {"presence": "asleep"}
    status, reply = await hs.request("PUT", path, bad, token=token)
    assert status == 400, reply

    def pushes(p: FederationPeer) -> list[dict[str, Any]]:
        return [
            push
            for r in p.received
            for e in r.body["edus"]
            if e["edu_type"] == "m.presence"
            for push in e["content"]["push"]
        ]

    await peer.wait_for(lambda p: len(pushes(p)) >= 2)
    assert [(p["user_id"], p["presence"], p.get("status_msg")) for p in pushes(peer)] == [
        (user, "online", "tea"),
        (user, "unavailable", None),
    ]
    assert hs.services.federation.sender.pending(peer.server_name) == 0
