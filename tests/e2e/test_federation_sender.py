"""The federation sender in a real server process: what it queued and the peer did
not acknowledge survives a SIGKILL and is sent after the restart (startup_netburst).

The peer is tests/kit/federation_peer.py (it checks X-Matrix with the key the process
publishes). Its user's join enters the process's database through the event pipeline
while the process is stopped (the inbound federation API is another part).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from conduwuit.db import Database
from conduwuit.server import database_options, services_over
from tests.kit.federation import FederationNet, call, federation, register
from tests.kit.federation_peer import FederationPeer, join_peer_user
from tests.kit.homeserver import homeserver_config
from tests.kit.server import ServerProcess


async def add_peer_member(server: ServerProcess, room: str, peer: FederationPeer) -> None:
    """The peer's user joins ``room``, through the pipeline of the stopped server's DB."""
    config = homeserver_config(server.workdir / "db", server_name=server.server_name)
    db = Database.open(database_options(config))
    try:
        await join_peer_user(services_over(config, db).rooms.storage, room, peer)
    finally:
        db.close()


async def room_with_failing_peer(
    net: FederationNet, hs: ServerProcess
) -> tuple[str, str, FederationPeer]:
    """alice's public room on ``hs`` (started here, left stopped) with the user of a
    peer joined, the peer (started) answering 500 to every transaction: (alice's
    token, the room, the peer, for the caller to stop)."""
    hs.start()
    _, token = await asyncio.to_thread(register, hs, "alice")
    status, created = await asyncio.to_thread(
        call,
        hs,
        "POST",
        "/_matrix/client/v3/createRoom",
        {"preset": "public_chat", "room_version": "10"},
        token=token,
    )
    assert status == 200, created
    room = created["room_id"]
    hs.stop()
    peer = await FederationPeer(net.ca, "127.0.0.9", {hs.server_name: hs.base_url}).start()
    try:
        await add_peer_member(hs, room, peer)
    except BaseException:
        await peer.stop()
        raise
    peer.fail_next = 1_000
    return token, room, peer


async def test_unacknowledged_events_survive_a_kill(tmp_path: Path) -> None:
    with federation(tmp_path) as net:
        hs = net.server(2, CONDUWUIT_FEDERATION_TIMEOUT="5")
        token, room, peer = await room_with_failing_peer(net, hs)
        try:
            hs.start()
            for i in range(3):
                status, reply = await asyncio.to_thread(
                    call,
                    hs,
                    "PUT",
                    f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{i}",
                    {"msgtype": "m.text", "body": f"m{i}"},
                    token=token,
                )
                assert status == 200, reply
            await peer.wait_for(lambda p: len(p.received) >= 1)
            assert hs.stop(signal.SIGKILL) != 0
            failed = len(peer.received)
            peer.fail_next = 0
            hs.start()
            await peer.wait_for(lambda p: len(bodies_after(p, failed)) == 3, within=30)
            assert bodies_after(peer, failed) == ["m0", "m1", "m2"]
            assert peer.refused == []
        finally:
            await peer.stop()


def bodies_after(peer: FederationPeer, skip: int) -> list[str]:
    out: list[str] = []
    for received in peer.received[skip:]:
        for pdu in received.body["pdus"]:
            body = pdu.get("content", {}).get("body")
            if pdu["type"] == "m.room.message" and body not in out:
                out.append(body)
    return out
