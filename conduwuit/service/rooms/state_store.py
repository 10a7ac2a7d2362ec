"""State snapshots stored as layered diffs (conduwuit's ``state_compressor``).

A snapshot is a set of entries ``(shortstatekey, shorteventid)``. Each stored
snapshot names a parent and the entries it adds and removes; the chain from a
root (parent 0, a full state) to any snapshot is at most a few layers deep,
because a diff that grows large relative to its parent's is merged into the
layer above (the same rule as conduwuit: ``diff² >= 2·sibling·parent_diff``, and
never more than four layers). So a new state event in a room of 20,000 members
writes a small diff, and reading any snapshot reads at most ~4 records.

Identical states share one snapshot: ``statehash_shortstatehash`` maps the
sha256 of the sorted entries to the snapshot id.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, u64

Entry = tuple[int, int]  # (shortstatekey, shorteventid)
FullState = dict[int, int]  # shortstatekey -> shorteventid

MAX_LAYERS = 3
CACHE_SIZE = 128


@dataclass(frozen=True, slots=True)
class Layer:
    shortstatehash: int
    full: Mapping[int, int]
    added: frozenset[Entry]
    removed: frozenset[Entry]


def _pack(entries: frozenset[Entry] | set[Entry]) -> bytes:
    return b"".join(u64(k) + u64(v) for k, v in sorted(entries))


def _unpack(raw: bytes) -> set[Entry]:
    return {
        (from_u64(raw[i : i + 8]), from_u64(raw[i + 8 : i + 16])) for i in range(0, len(raw), 16)
    }


def state_digest(full: Mapping[int, int]) -> bytes:
    return hashlib.sha256(_pack(set(full.items()))).digest()


class StateStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._diffs = db.map(MAPS.shortstatehash_statediff)
        self._by_hash = db.map(MAPS.statehash_shortstatehash)
        self._layers: OrderedDict[int, list[Layer]] = OrderedDict()

    # -- reading ---------------------------------------------------------------------
    def _read(self, shortstatehash: int) -> tuple[int, set[Entry], set[Entry]]:
        raw = self._diffs.get(u64(shortstatehash))
        if raw is None:
            raise KeyError(f"unknown shortstatehash {shortstatehash}")
        parent = from_u64(raw[:8])
        n_added = from_u64(raw[8:16])
        cut = 16 + 16 * n_added
        return parent, _unpack(raw[16:cut]), _unpack(raw[cut:])

    def layers(self, shortstatehash: int) -> list[Layer]:
        """The chain root..snapshot, each layer with the full state at that layer."""
        cached = self._layers.get(shortstatehash)
        if cached is not None:
            self._layers.move_to_end(shortstatehash)
            return cached
        parent, added, removed = self._read(shortstatehash)
        chain = list(self.layers(parent)) if parent else []
        full: dict[int, int] = dict(chain[-1].full) if chain else {}
        for k, v in removed:
            if full.get(k) == v:
                del full[k]
        full.update(added)
        chain.append(Layer(shortstatehash, full, frozenset(added), frozenset(removed)))
        self._layers[shortstatehash] = chain
        if len(self._layers) > CACHE_SIZE:
            self._layers.popitem(last=False)
        return chain

    def full(self, shortstatehash: int) -> Mapping[int, int]:
        """shortstatekey -> shorteventid of a snapshot (read-only; copy to change)."""
        if not shortstatehash:
            return {}
        return self.layers(shortstatehash)[-1].full

    def get(self, shortstatehash: int, shortstatekey: int) -> int | None:
        return self.full(shortstatehash).get(shortstatekey)

    # -- writing ---------------------------------------------------------------------
    def save(self, parent: int, new_full: Mapping[int, int], batch: Batch) -> int:
        """The snapshot id of ``new_full``, stored as a diff against ``parent`` if new."""
        digest = state_digest(new_full)
        existing = self._by_hash.get(digest)
        if existing is not None:
            return from_u64(existing)
        shortstatehash = batch.next_count()
        batch.put(self._by_hash, digest, u64(shortstatehash))
        old = self.full(parent) if parent else {}
        added = {(k, v) for k, v in new_full.items() if old.get(k) != v}
        removed = {(k, v) for k, v in old.items() if new_full.get(k) != v}
        chain = list(self.layers(parent)) if parent else []
        self._save_diff(shortstatehash, added, removed, 2, chain, batch)
        return shortstatehash

    def _save_diff(
        self,
        shortstatehash: int,
        added: set[Entry],
        removed: set[Entry],
        diff_to_sibling: int,
        parents: list[Layer],
        batch: Batch,
    ) -> None:
        diffsum = len(added) + len(removed)
        if parents and (
            len(parents) > MAX_LAYERS
            or diffsum * diffsum
            >= 2 * diff_to_sibling * (len(parents[-1].added) + len(parents[-1].removed))
        ):
            # Too many layers, or the diff is large next to its parent's: fold the
            # parent's diff into ours and attach one layer higher.
            parent = parents.pop()
            merged_added = set(parent.added)
            merged_removed = set(parent.removed)
            for entry in removed:
                if entry in merged_added:
                    merged_added.discard(entry)
                else:
                    merged_removed.add(entry)
            for entry in added:
                if entry in merged_removed:
                    merged_removed.discard(entry)
                else:
                    merged_added.add(entry)
            self._save_diff(shortstatehash, merged_added, merged_removed, diffsum, parents, batch)
            return
        parent_id = parents[-1].shortstatehash if parents else 0
        if not parents:
            removed = set()  # a root layer is a full state
        value = u64(parent_id) + u64(len(added)) + _pack(added) + _pack(removed)
        batch.put(self._diffs, u64(shortstatehash), value)
