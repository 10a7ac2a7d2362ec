"""State snapshots stored as layered diffs (conduwuit's ``state_compressor``).

A snapshot is a set of entries ``(shortstatekey, shorteventid)``. Each stored
snapshot names a parent and the entries it adds and removes; the chain from a
root (parent 0, a full state) to any snapshot is at most a few layers deep,
because a diff that grows large relative to its parent's is merged into the
layer above (the same rule as conduwuit: ``diff² >= 2·sibling·parent_diff``, and
never more than four layers). So a new state event in a room of 20,000 members
writes a small diff, and reading any snapshot reads at most ~4 records.

In memory a snapshot is a :class:`StateView` over its parent's: the root layer
is a dict, every layer above holds only its own changes, so reading a snapshot
whose parent is cached, and saving a new one, cost the size of the diff, not of
the state (docs/development/state-storage.md).

Identical states share one snapshot: ``statehash_shortstatehash`` maps the
additive digest of the entries (:mod:`conduwuit.db.state_diff`), kept per
snapshot and moved by each diff, to the snapshot id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import ItemsView, Iterator, Mapping
from dataclasses import dataclass

from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, u64
from conduwuit.db.state_diff import Digester, Entry, decode, digest_key, digester, encode

FullState = dict[int, int]  # shortstatekey -> shorteventid

MAX_LAYERS = 3
CACHE_SIZE = 128


class StateView(Mapping[int, int]):
    """A snapshot as its parent's mapping plus its own changes (``None``: removed).

    Lookups walk at most the chain's few layers; iterating materialises the state.
    """

    __slots__ = ("_changes", "_len", "_parent")

    def __init__(self, parent: Mapping[int, int], changes: dict[int, int | None], length: int):
        self._parent = parent
        self._changes = changes
        self._len = length

    def __getitem__(self, key: int) -> int:
        if key in self._changes:
            value = self._changes[key]
            if value is None:
                raise KeyError(key)
            return value
        return self._parent[key]

    def get(self, key: int, default: int | None = None) -> int | None:  # type: ignore[override]
        if key in self._changes:
            value = self._changes[key]
            return default if value is None else value
        return self._parent.get(key, default)

    def __contains__(self, key: object) -> bool:
        if key in self._changes:
            return self._changes[key] is not None
        return key in self._parent

    def __len__(self) -> int:
        return self._len

    def materialize(self) -> dict[int, int]:
        parent = self._parent
        full = parent.materialize() if isinstance(parent, StateView) else dict(parent)
        for key, value in self._changes.items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        return full

    def __iter__(self) -> Iterator[int]:
        return iter(self.materialize())

    def items(self) -> ItemsView[int, int]:
        return self.materialize().items()


@dataclass(frozen=True, slots=True)
class Layer:
    shortstatehash: int
    full: Mapping[int, int]
    added: frozenset[Entry]
    removed: frozenset[Entry]
    digest: int  # the additive digest of ``full``


def _layer(
    shortstatehash: int,
    parent: Layer | None,
    added: set[Entry],
    removed: set[Entry],
    digest: Digester,
) -> Layer:
    """A layer over ``parent`` in O(diff), with the same meaning as applying the diff to
    a copy of the parent's state: drop removed entries still present, then add."""
    if parent is None:
        full = dict(added)
        return Layer(shortstatehash, full, frozenset(added), frozenset(), digest.sum(full.items()))
    base = parent.full
    wanted: dict[int, int | None] = {}
    for k, v in removed:
        if base.get(k) == v:
            wanted[k] = None
    for k, v in added:
        wanted[k] = v
    changes: dict[int, int | None] = {}
    length = len(base)
    plus: list[Entry] = []
    minus: list[Entry] = []
    for k, new in wanted.items():
        old = base.get(k)
        if old == new:
            continue
        changes[k] = new
        if old is not None:
            minus.append((k, old))
            length -= 1
        if new is not None:
            plus.append((k, new))
            length += 1
    view = StateView(base, changes, length)
    return Layer(
        shortstatehash,
        view,
        frozenset(added),
        frozenset(removed),
        digest.shift(parent.digest, plus, minus),
    )


def state_digest(digest: Digester, full: Mapping[int, int]) -> bytes:
    """The dedup key of a whole state (O(n); the store moves digests by diffs instead)."""
    return digest_key(digest.sum(full.items()))


class StateStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._diffs = db.map(MAPS.shortstatehash_statediff)
        self._by_hash = db.map(MAPS.statehash_shortstatehash)
        self.digest = digester(db)
        self._layers: OrderedDict[int, list[Layer]] = OrderedDict()

    @property
    def cached_entries(self) -> int:
        """Snapshot chains held in memory (at most ``CACHE_SIZE``)."""
        return len(self._layers)

    # -- reading ---------------------------------------------------------------------
    def _read(self, shortstatehash: int) -> tuple[int, set[Entry], set[Entry]]:
        raw = self._diffs.get(u64(shortstatehash))
        if raw is None:
            raise KeyError(f"unknown shortstatehash {shortstatehash}")
        return decode(raw)

    def layers(self, shortstatehash: int) -> list[Layer]:
        """The chain root..snapshot, each layer with the full state at that layer."""
        cached = self._layers.get(shortstatehash)
        if cached is not None:
            self._layers.move_to_end(shortstatehash)
            return cached
        parent, added, removed = self._read(shortstatehash)
        chain = list(self.layers(parent)) if parent else []
        chain.append(
            _layer(shortstatehash, chain[-1] if chain else None, added, removed, self.digest)
        )
        self._layers[shortstatehash] = chain
        if len(self._layers) > CACHE_SIZE:
            self._layers.popitem(last=False)
        return chain

    def full(self, shortstatehash: int) -> Mapping[int, int]:
        """shortstatekey -> shorteventid of a snapshot (read-only; copy to change)."""
        if not shortstatehash:
            return {}
        return self.layers(shortstatehash)[-1].full

    def copy(self, shortstatehash: int) -> FullState:
        """A snapshot as a new dict to change (``dict(view)`` would look up every key
        through the layers, ~100 times slower than this at 10,000 entries)."""
        full = self.full(shortstatehash)
        return full.materialize() if isinstance(full, StateView) else dict(full)

    def get(self, shortstatehash: int, shortstatekey: int) -> int | None:
        return self.full(shortstatehash).get(shortstatekey)

    # -- writing ---------------------------------------------------------------------
    def save(self, parent: int, new_full: Mapping[int, int], batch: Batch) -> int:
        """The snapshot id of ``new_full``, stored as a diff against ``parent`` if new.
        O(size of the state): prefer :meth:`save_changes` when the changes are known."""
        old = self.full(parent)
        added = {(k, v) for k, v in new_full.items() if old.get(k) != v}
        removed = {(k, v) for k, v in old.items() if new_full.get(k) != v}
        return self._save_delta(parent, added, removed, batch)

    def save_changes(self, parent: int, changes: Mapping[int, int], batch: Batch) -> int:
        """The snapshot id of ``parent``'s state with ``changes`` set over it (the same
        id :meth:`save` gives for that full state), in O(len(changes))."""
        old = self.full(parent)
        added: set[Entry] = set()
        removed: set[Entry] = set()
        for k, v in changes.items():
            previous = old.get(k)
            if previous != v:
                added.add((k, v))
                if previous is not None:
                    removed.add((k, previous))
        return self._save_delta(parent, added, removed, batch)

    def _save_delta(self, parent: int, added: set[Entry], removed: set[Entry], batch: Batch) -> int:
        chain = list(self.layers(parent)) if parent else []
        base = chain[-1].digest if chain else 0
        digest = digest_key(self.digest.shift(base, added, removed))
        existing = self._by_hash.get(digest)
        if existing is not None:
            return from_u64(existing)
        shortstatehash = batch.next_count()
        batch.put(self._by_hash, digest, u64(shortstatehash))
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
        batch.put(self._diffs, u64(shortstatehash), encode(parent_id, added, removed))


__all__ = ["Entry", "FullState", "Layer", "StateStore", "StateView", "state_digest"]
