"""Layered state diffs: any snapshot reads back exactly, chains stay shallow, and
identical states share one snapshot."""

from __future__ import annotations

import random

from conduwuit.db import Database
from conduwuit.service.rooms.state_store import MAX_LAYERS, StateStore


def test_snapshots_read_back_and_chains_stay_shallow(db: Database) -> None:
    store = StateStore(db)
    rng = random.Random(7)
    state: dict[int, int] = {}
    parent = 0
    saved: list[tuple[int, dict[int, int]]] = []
    event = 1_000_000
    for step in range(400):
        # Mostly one new or replaced key per event, like joins in a growing room.
        for _ in range(1 if step % 50 else 30):
            event += 1
            state[rng.randrange(2000)] = event
        if step % 97 == 0 and state:
            del state[next(iter(state))]
        with db.batch() as b:
            parent = store.save(parent, dict(state), b)
        saved.append((parent, dict(state)))
    fresh = StateStore(db)  # no cache: read from the database
    for shortstatehash, expected in saved:
        assert dict(fresh.full(shortstatehash)) == expected
        assert len(fresh.layers(shortstatehash)) <= MAX_LAYERS + 1


def test_identical_states_share_a_snapshot(db: Database) -> None:
    store = StateStore(db)
    with db.batch() as b:
        first = store.save(0, {1: 10, 2: 20}, b)
    with db.batch() as b:
        second = store.save(first, {1: 11, 2: 20}, b)
    with db.batch() as b:
        again = store.save(second, {1: 10, 2: 20}, b)
    assert again == first
    assert store.get(second, 1) == 11
    assert store.get(first, 3) is None
