"""The stored form of a state snapshot's diff and its order-independent digest.

A record of ``shortstatehash_statediff`` is ``u64 parent, u64 n_added, n_added
16-byte entries added, then the entries removed``; an entry is ``u64
shortstatekey, u64 shorteventid``. Shared by the state store and the migration
that rewrote the digests (here because migrations sit below the services).

The digest of a state (the key of ``statehash_shortstatehash``) is the sum,
modulo 2**512, of the sha512 of every entry: an additive multiset hash, so a
snapshot's digest is its parent's plus the entries it adds minus those it
removes — O(size of the diff), not O(size of the state).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .codec import from_u64, u64

Entry = tuple[int, int]  # (shortstatekey, shorteventid)

DIGEST_BYTES = 64
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


def entry_hash(key: int, value: int) -> int:
    return int.from_bytes(hashlib.sha512(u64(key) + u64(value)).digest(), "big")


def digest_sum(entries: Iterable[Entry]) -> int:
    return sum(entry_hash(k, v) for k, v in entries) % _MODULUS


def shift(digest: int, added: Iterable[Entry], removed: Iterable[Entry]) -> int:
    """``digest`` with ``added`` entries put in and ``removed`` taken out."""
    return (digest + digest_sum(added) - digest_sum(removed)) % _MODULUS


def digest_key(digest: int) -> bytes:
    return digest.to_bytes(DIGEST_BYTES, "big")
