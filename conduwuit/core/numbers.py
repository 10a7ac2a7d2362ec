"""Decimal numbers in query parameters and tokens.

``str.isdigit`` and ``int()`` accept far more than ASCII digits: ``"²".isdigit()``
is true (and ``int("²")`` raises), ``int("٣")`` is 3, ``int(" 1_0 ")`` is 10. Every
number a client sends as text goes through ``parse_uint`` instead.
"""

from __future__ import annotations

from conduwuit.core.canonical_json import MAX_SAFE_INT

_DIGITS = frozenset("0123456789")


def parse_uint(text: str, maximum: int = MAX_SAFE_INT) -> int | None:
    """``text`` as a non-negative integer if it is 1+ ASCII digits and at most
    ``maximum`` (default: the largest integer canonical JSON allows), else None."""
    if not text or len(text) > len(str(maximum)) or not _DIGITS.issuperset(text):
        return None
    value = int(text)
    return value if value <= maximum else None
