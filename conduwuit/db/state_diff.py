"""The stored form of a state snapshot's diff and its order-independent digest.

A record of ``shortstatehash_statediff`` is ``u64 parent, u64 n_added, n_added
16-byte entries added, then the entries removed``; an entry is ``u64
shortstatekey, u64 shorteventid``. Shared by the state store and the migration
that rewrote the digests (here because migrations sit below the services).

The digest of a state (the key of ``statehash_shortstatehash``) is the sum,
modulo 2**512, of a keyed 512-bit BLAKE2b hash of every entry: an additive
multiset hash, so a snapshot's digest is its parent's plus the entries it adds
minus those it removes — O(size of the diff), not O(size of the state).

The key is a random secret of the database (``GLOBAL_STATE_DIGEST_KEY``, made on
first use). Additive hashes are weaker than the hash they sum against
generalised-birthday searches, which need the attacker to compute entry hashes
offline; with a secret key nobody outside the database can, so two different
states sharing one snapshot cannot be engineered. Losing the key (a restore
without it) would only make identical states miss each other, never merge
different ones.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .codec import from_u64, u64
from .maps import GLOBAL_STATE_DIGEST_KEY, MAPS

if TYPE_CHECKING:
    from .database import Database

Entry = tuple[int, int]  # (shortstatekey, shorteventid)

DIGEST_BYTES = 64
KEY_BYTES = 32  # BLAKE2b takes keys up to 64 bytes
_MODULUS = 1 << (8 * DIGEST_BYTES)


def pack(entries: Iterable[Entry]) -> bytes:
    return b"".join(u64(k) + u64(v) for k, v in sorted(entries))


def unpack(raw: bytes) -> set[Entry]:
    return {
        (from_u64(raw[i : i + 8]), from_u64(raw[i + 8 : i + 16])) for i in range(0, len(raw), 16)
    }


def encode(parent: int, added: Iterable[Entry], removed: Iterable[Entry]) -> bytes:
    added = list(added)
    return u64(parent) + u64(len(added)) + pack(added) + pack(removed)


def decode(raw: bytes) -> tuple[int, set[Entry], set[Entry]]:
    """``(parent, added, removed)`` of a stored record."""
    parent = from_u64(raw[:8])
    cut = 16 + 16 * from_u64(raw[8:16])
    return parent, unpack(raw[16:cut]), unpack(raw[cut:])


@dataclass(frozen=True, slots=True)
class Digester:
    """The additive digest under one database's secret ``key``."""

    key: bytes

    def entry(self, k: int, v: int) -> int:
        raw = hashlib.blake2b(u64(k) + u64(v), digest_size=DIGEST_BYTES, key=self.key).digest()
        return int.from_bytes(raw, "big")

    def sum(self, entries: Iterable[Entry]) -> int:
        return sum(self.entry(k, v) for k, v in entries) % _MODULUS

    def shift(self, digest: int, added: Iterable[Entry], removed: Iterable[Entry]) -> int:
        """``digest`` with ``added`` entries put in and ``removed`` taken out."""
        return (digest + self.sum(added) - self.sum(removed)) % _MODULUS


def digester(db: Database) -> Digester:
    """The database's digester; its secret key is made and stored on first use."""
    glob = db.map(MAPS.global_)
    key = glob.get(GLOBAL_STATE_DIGEST_KEY)
    if key is None:
        key = secrets.token_bytes(KEY_BYTES)
        glob.put(GLOBAL_STATE_DIGEST_KEY, key)
    return Digester(key)


def digest_key(digest: int) -> bytes:
    return digest.to_bytes(DIGEST_BYTES, "big")
