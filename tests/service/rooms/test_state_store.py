"""Layered state diffs: any snapshot reads back exactly, chains stay shallow, and
identical states share one snapshot."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from conduwuit.db import MAPS, Database, DatabaseOptions
from conduwuit.db.codec import u64
from conduwuit.db.migrations import MIGRATIONS
from conduwuit.service.rooms.state_store import MAX_LAYERS, StateStore, state_digest


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


def _reference_digest(full: dict[int, int]) -> bytes:
    """The digest before schema 4: sha256 over the sorted 16-byte entries."""
    packed = b"".join(u64(k) + u64(v) for k, v in sorted(full.items()))
    return hashlib.sha256(packed).digest()


def test_incremental_saves_match_full_saves_at_every_step(db: Database) -> None:
    """Random sequences of state changes (mostly one key set, sometimes many, removals,
    returns to earlier states) give the same states and the same deduplication through
    ``save_changes`` as through ``save`` of the whole state, checked at every step
    against a plain dict, through the cache and read back from the database."""
    store = StateStore(db)
    rng = random.Random(2026)
    model: dict[int, int] = {}
    parent = 0
    seen: dict[frozenset[tuple[int, int]], int] = {}
    event = 10_000
    history: list[dict[int, int]] = []
    for step in range(600):
        roll = rng.random()
        changes: dict[int, int] = {}
        if roll < 0.05 and history:
            # Back to an earlier state (a revert, or state resolution picking it).
            model = dict(rng.choice(history))
            with db.batch() as b:
                parent = store.save(parent, model, b)
        elif roll < 0.12 and model:
            for key in rng.sample(sorted(model), min(len(model), rng.randint(1, 5))):
                del model[key]
            with db.batch() as b:
                parent = store.save(parent, dict(model), b)
        else:
            for _ in range(1 if roll < 0.9 else rng.randint(2, 40)):
                event += 1
                changes[rng.randrange(300)] = event
            if roll < 0.8 and len(changes) == 1 and model:
                # Re-setting a key to its current event changes nothing.
                key = rng.choice(sorted(model))
                changes = {key: model[key]} if rng.random() < 0.1 else changes
            model.update(changes)
            with db.batch() as b:
                parent = store.save_changes(parent, changes, b)
        entries = frozenset(model.items())
        assert seen.setdefault(entries, parent) == parent, f"step {step}: not deduplicated"
        view = store.full(parent)
        assert dict(view.items()) == model
        assert len(view) == len(model)
        copy = store.copy(parent)
        assert copy == model and copy is not view
        for key in range(300):
            assert view.get(key) == model.get(key)
            assert (key in view) == (key in model)
        assert store.layers(parent)[-1].digest == store.digest.sum(model.items())
        history.append(dict(model))
    fresh = StateStore(db)
    for entries, shortstatehash in seen.items():
        assert dict(fresh.full(shortstatehash).items()) == dict(entries)
        assert len(fresh.layers(shortstatehash)) <= MAX_LAYERS + 1
        with db.batch() as b:
            assert fresh.save(0, dict(entries), b) == shortstatehash


def test_migration_4_rekeys_snapshots_by_the_additive_digest(tmp_path: Path) -> None:
    options = DatabaseOptions(path=tmp_path / "db")
    states: list[tuple[int, dict[int, int]]] = []
    with Database.open(options, migrations=MIGRATIONS[:2]) as old:
        assert old.schema_version == 3
        store = StateStore(old)
        rng = random.Random(4)
        model: dict[int, int] = {}
        parent = 0
        for step in range(120):
            model[rng.randrange(80)] = 1000 + step
            if step % 30 == 29:
                del model[next(iter(model))]
            with old.batch() as b:
                parent = store.save(parent, dict(model), b)
            states.append((parent, dict(model)))
        # What the old code wrote: the sha256 keys, none of the new ones.
        by_hash = old.map(MAPS.statehash_shortstatehash)
        for k, _ in list(by_hash.iter_prefix(b"")):
            by_hash.delete(k)
        for shortstatehash, full in states:
            by_hash.put(_reference_digest(full), u64(shortstatehash))
    with Database.open(options) as db:
        assert db.schema_version >= 4
        rows = dict(db.map(MAPS.statehash_shortstatehash).iter_prefix(b""))
        store = StateStore(db)
        assert rows == {state_digest(store.digest, full): u64(sh) for sh, full in states}
        for shortstatehash, full in states:
            with db.batch() as b:
                assert store.save(states[-1][0], full, b) == shortstatehash


def test_the_digest_is_keyed_by_a_secret_kept_per_database(tmp_path: Path) -> None:
    """Nobody outside the database can compute entry hashes (no offline collision
    search), and the key survives a reopen (identical states keep finding each other)."""
    state = {1: 10, 2: 20, 3: 30}
    digests = []
    for name in ("a", "b"):
        options = DatabaseOptions(path=tmp_path / name)
        with Database.open(options) as db:
            first = StateStore(db)
            with db.batch() as b:
                shortstatehash = first.save(0, state, b)
            digests.append(state_digest(first.digest, state))
        with Database.open(options) as db:
            again = StateStore(db)
            assert again.digest == first.digest
            with db.batch() as b:
                assert again.save(0, dict(state), b) == shortstatehash
    assert digests[0] != digests[1]
    assert len(first.digest.key) == 32
