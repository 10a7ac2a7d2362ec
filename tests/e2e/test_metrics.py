"""Prometheus metrics of a real server process (``allow_metrics``) under load: a
client sending and long-polling, a federation peer refusing every transaction; each
listed family is scraped with Prometheus's parser before and after, and moves."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.e2e.test_federation_sender import room_with_failing_peer
from tests.kit.federation import call, federation
from tests.kit.metrics import Families, parse, value
from tests.kit.server import ServerProcess

TOKEN = "scrape-token-1"
SEND = "/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}"
MESSAGES = 5
#: A /sync filter nothing in the test wakes: the long-poll waits out its timeout.
QUIET = urllib.parse.quote(json.dumps({"room": {"rooms": []}, "presence": {"types": []}}))


def scrape(server: ServerProcess) -> Families:
    request = urllib.request.Request(
        f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text: str = response.read().decode()
    return parse(text)


async def scrape_until(
    server: ServerProcess, ready: Callable[[Families], bool], within: float = 20.0
) -> Families:
    """Scrape until ``ready(families)`` holds (bounded in time)."""
    deadline = time.monotonic() + within
    while True:
        families = await asyncio.to_thread(scrape, server)
        if ready(families) or time.monotonic() > deadline:
            return families
        await asyncio.sleep(0.1)


async def test_metrics_move_under_load(tmp_path: Path) -> None:
    with federation(tmp_path) as net:
        hs = net.server(
            2,
            CONDUWUIT_ALLOW_METRICS="true",
            CONDUWUIT_METRICS_TOKEN=TOKEN,
            CONDUWUIT_FEDERATION_TIMEOUT="5",
        )
        # The peer answers 500: the queue grows, failures count.
        token, room, peer = await room_with_failing_peer(net, hs)
        try:
            hs.start()
            before = await asyncio.to_thread(scrape, hs)
            for family in (
                "conduwuit_http_requests",
                "conduwuit_http_request_duration_seconds",
                "conduwuit_event_loop_lag_seconds",
                "conduwuit_sync_waiters",
                "conduwuit_federation_queue_depth",
                "conduwuit_federation_send_failures",
                "conduwuit_federation_incoming_pdus",
                "conduwuit_rocksdb_estimated_keys",
                "conduwuit_rocksdb_memtable_bytes",
                "conduwuit_rocksdb_block_cache_usage_bytes",
                "conduwuit_cache_entries",
                "process_resident_memory_bytes",
            ):
                assert family in before, family

            status, synced = await asyncio.to_thread(
                call, hs, "GET", "/_matrix/client/v3/sync", token=token
            )
            assert status == 200, synced
            since = synced["next_batch"]
            # A long-poll waits while the scrape looks (it ends at its timeout).
            polling = asyncio.ensure_future(
                asyncio.to_thread(
                    call,
                    hs,
                    "GET",
                    f"/_matrix/client/v3/sync?since={since}&timeout=3000&filter={QUIET}",
                    token=token,
                )
            )
            waiting = await scrape_until(hs, lambda f: value(f, "conduwuit_sync_waiters") == 1)
            assert value(waiting, "conduwuit_sync_waiters") == 1
            assert (await polling)[0] == 200
            for i in range(MESSAGES):
                status, reply = await asyncio.to_thread(
                    call,
                    hs,
                    "PUT",
                    f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{i}",
                    {"msgtype": "m.text", "body": f"m{i}"},
                    token=token,
                )
                assert status == 200, reply
            peer_name = peer.server_name
            after = await scrape_until(
                hs,
                lambda f: (
                    value(f, "conduwuit_federation_send_failures", destination=peer_name) > 0
                    and value(f, "conduwuit_sync_waiters") == 0
                ),
            )
        finally:
            await peer.stop()

    # Requests by route template and status, and their latency.
    sends = {"method": "PUT", "endpoint": SEND, "status": "200"}
    requests = "conduwuit_http_requests"
    assert value(after, requests, **sends) - value(before, requests, **sends) == MESSAGES
    latency = "conduwuit_http_request_duration_seconds"
    count = value(after, latency, f"{latency}_count", method="PUT", endpoint=SEND)
    assert count == MESSAGES
    assert (
        value(after, latency, f"{latency}_bucket", method="PUT", endpoint=SEND, le="+Inf") == count
    )
    assert value(after, latency, f"{latency}_sum", method="PUT", endpoint=SEND) > 0
    assert not [
        s for s in after["conduwuit_http_requests"].samples if "!" in s.labels["endpoint"]
    ], "raw paths leak into the endpoint label"
    # The loop-lag probe runs; the long-poll ended; the peer failed and is queued up.
    lag = "conduwuit_event_loop_lag_seconds"
    assert value(after, lag, f"{lag}_count") > value(before, lag, f"{lag}_count")
    assert value(after, "conduwuit_sync_waiters") == 0
    destination = {"destination": peer.server_name}
    assert value(after, "conduwuit_federation_send_failures", **destination) > 0
    assert value(after, "conduwuit_federation_queue_depth", **destination) >= MESSAGES
    # RocksDB and the caches: the events went into the maps.
    keys = "conduwuit_rocksdb_estimated_keys"
    assert value(after, keys, map="eventid_shorteventid") > value(
        before, keys, map="eventid_shorteventid"
    )
    assert value(after, "conduwuit_rocksdb_block_cache_capacity_bytes") > 0
    assert value(after, "conduwuit_cache_entries", cache="state_snapshots") > 0
    assert value(after, "process_resident_memory_bytes") > 10 * 1024 * 1024
