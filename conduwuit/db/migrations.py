"""Schema versions and the ordered list of migrations.

A new database is created at :func:`latest_version` and runs no migrations.
An existing one runs, in order, every migration above its stored version;
each migration's writes and its version bump go in one batch, so a crash
leaves the database either before or after a migration, never inside one.
(A migration too large for one batch may commit its own batches first, as
long as re-running it from the start is harmless.)

To add one: append ``Migration(<previous + 1>, "what and why", function)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .codec import from_u64, key, split
from .maps import MAPS
from .regroup import SHARED_COLUMN_VERSION, move_into_shared
from .state_diff import decode, digest_key, digester

if TYPE_CHECKING:
    from .batch import Batch
    from .database import Database

BASE_VERSION: Final = 1
"""The schema a new database had before any migration existed."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Database, Batch], None]


def _drop_pathless_txn_ids(db: Database, batch: Batch) -> None:
    """Schema 1 keyed room-event transactions (user, device, txnId), without the request
    path the spec scopes them by; no lookup can match those records any more."""
    responses = db.map(MAPS.userdevicetxnid_response)
    for k, _ in responses.iter_prefix(b""):
        if len(split(k)) == 3:
            batch.delete(responses, k)


def _index_thread_subscriptions(db: Database, batch: Batch) -> None:
    """Thread subscriptions gained an index by position (MSC4308's list of changes)."""
    index = db.map(MAPS.userposition_threadsubscription)
    for k, v in db.map(MAPS.userroomthread_threadsubscription).iter_prefix(b""):
        user, room_id, root = split(k)
        position = json.loads(v).get("position")
        if isinstance(position, int):
            batch.put(index, key(user, position), key(room_id, root))


def _additive_state_digests(db: Database, batch: Batch) -> None:
    """Snapshots were deduplicated by the sha256 of a state's sorted entries, which costs
    the whole state per new snapshot; they now use the additive digest, moved by each
    diff (conduwuit/db/state_diff.py). Every snapshot's digest is its parent's plus
    what it adds minus what it removes (the store only writes diffs where that holds),
    and a parent's id is always below its child's, so one pass in id order does it."""
    by_hash = db.map(MAPS.statehash_shortstatehash)
    digest = digester(db)
    for k, _ in by_hash.iter_prefix(b""):
        batch.delete(by_hash, k)
    digests: dict[int, int] = {}
    for k, v in db.map(MAPS.shortstatehash_statediff).iter_prefix(b""):
        parent, added, removed = decode(v)
        value = digest.shift(digests[parent] if parent else 0, added, removed)
        digests[from_u64(k)] = value
        batch.put(by_hash, digest_key(value), k)


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        2,
        "transaction IDs are scoped by request path: drop records keyed without one",
        _drop_pathless_txn_ids,
    ),
    Migration(
        3,
        "index thread subscriptions by the position of their latest change",
        _index_thread_subscriptions,
    ),
    Migration(
        4,
        "deduplicate state snapshots by an additive digest moved by each diff",
        _additive_state_digests,
    ),
    Migration(
        SHARED_COLUMN_VERSION,
        "small maps leave their own column families for a shared one (less memory)",
        move_into_shared,
    ),
)


def latest_version(migrations: Sequence[Migration]) -> int:
    return migrations[-1].version if migrations else BASE_VERSION


def check_order(migrations: Sequence[Migration]) -> None:
    """Versions must rise strictly from above BASE_VERSION; a mistake here is a bug."""
    previous = BASE_VERSION
    for m in migrations:
        if m.version <= previous:
            raise ValueError(
                f"migration {m.version} ({m.description}) is not above version {previous}"
            )
        previous = m.version
