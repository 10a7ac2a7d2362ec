"""Synapse's side of the ``sign`` micro-benchmark; runs with Synapse's own Python.

    .cache/bench/synapse-venv/bin/python bench/synapse_core.py SECONDS

The same work as ``bench/core_bench.py``'s ``bench_signing``: hash, sign and derive
the event ID of a room-version-11 message event, as many times as fit in SECONDS.
Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import time

from signedjson.key import generate_signing_key
from synapse.api.room_versions import KNOWN_ROOM_VERSIONS
from synapse.crypto.event_signing import add_hashes_and_signatures
from synapse.events import make_event_from_dict

TEMPLATE = {
    "type": "m.room.message",
    "room_id": "!room:example.org",
    "sender": "@alice:example.org",
    "content": {"msgtype": "m.text", "body": "Hello, world! " * 8},
    "origin_server_ts": 1_700_000_000_000,
    "depth": 42,
    "prev_events": ["$" + "a" * 43],
    "auth_events": ["$" + "b" * 43, "$" + "c" * 43, "$" + "d" * 43],
}


def main() -> None:
    seconds = min(float(sys.argv[1]), 60.0)
    version = KNOWN_ROOM_VERSIONS["11"]
    key = generate_signing_key("bench")
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        event = dict(TEMPLATE, depth=count)
        add_hashes_and_signatures(version, event, "example.org", key)
        # Synapse derives the ID from its event object (pruning is in its Rust module)
        event_id = make_event_from_dict(event, version).event_id
        assert len(event_id) == 44
        count += 1
    elapsed = time.perf_counter() - started
    print(json.dumps({"events": count, "events_per_s": round(count / elapsed, 1)}))


if __name__ == "__main__":
    main()
