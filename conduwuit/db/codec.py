"""Key codec: tuples of parts joined by 0xFF, integers as big-endian u64.

Byte order of encoded keys is the semantic order: ``u64`` is big-endian, so
comparing encoded integers bytewise compares them numerically, and 0xFF never
occurs in UTF-8, so a string part always ends before the separator.
Integer parts are fixed-width (8 bytes) and may themselves contain 0xFF, so
:func:`split` is only meaningful for keys whose parts are all strings, or
when the caller slices fixed-width integers off by position.
"""

from __future__ import annotations

from typing import Final

SEP: Final = b"\xff"
U64_MAX: Final = 2**64 - 1


def u64(n: int) -> bytes:
    """Encode ``0 <= n < 2**64`` as 8 big-endian bytes."""
    if not 0 <= n <= U64_MAX:
        raise ValueError(f"u64 out of range: {n}")
    return n.to_bytes(8, "big")


def from_u64(b: bytes) -> int:
    """Decode 8 big-endian bytes."""
    if len(b) != 8:
        raise ValueError(f"u64 needs exactly 8 bytes, got {len(b)}")
    return int.from_bytes(b, "big")


def part(p: bytes | str | int) -> bytes:
    """Encode one key part: bytes as is, str as UTF-8, int as u64."""
    if isinstance(p, bytes):
        return p
    if isinstance(p, str):
        return p.encode()
    if isinstance(p, bool):
        raise TypeError("bool is not a key part; use an int")
    return u64(p)


def key(*parts: bytes | str | int) -> bytes:
    """Join encoded parts with 0xFF: ``key("@a:x", 5) == b"@a:x\\xff" + u64(5)``."""
    return SEP.join(part(p) for p in parts)


def prefix(*parts: bytes | str | int) -> bytes:
    """A key prefix that matches keys starting with these whole parts (ends with 0xFF)."""
    return key(*parts) + SEP


def split(k: bytes) -> list[bytes]:
    """Split a key on 0xFF (see the module docstring about integer parts)."""
    return k.split(SEP)


def prefix_end(p: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``p``.

    The exclusive upper bound of a prefix scan; ``None`` when there is none
    (``p`` is empty or all 0xFF bytes), meaning "scan to the end".
    """
    stripped = p.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
