"""Canonical JSON (appendices: "Canonical JSON").

Keys sorted by code point, no insignificant whitespace, UTF-8 output, and
integers only within [-(2**53)+1, (2**53)-1]; floats are refused.
"""

from __future__ import annotations

import json
from typing import Any

MAX_SAFE_INT = 2**53 - 1
MIN_SAFE_INT = -(2**53) + 1


class CanonicalJsonError(ValueError):
    """The value cannot be represented as canonical JSON."""


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not MIN_SAFE_INT <= value <= MAX_SAFE_INT:
            raise CanonicalJsonError(f"integer out of range at {path or '$'}")
        return
    if isinstance(value, float):
        raise CanonicalJsonError(f"float at {path or '$'} is not allowed in canonical JSON")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJsonError(f"non-string key at {path or '$'}")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise CanonicalJsonError(f"unsupported type {type(value).__name__} at {path or '$'}")


def encode(value: Any) -> bytes:
    """Serialise ``value`` canonically; ``CanonicalJsonError`` if it has no canonical form."""
    _check(value, "")
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")


def _check_lenient(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise CanonicalJsonError(f"float at {path or '$'} is not allowed in canonical JSON")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJsonError(f"non-string key at {path or '$'}")
            _check_lenient(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_lenient(item, f"{path}[{index}]")


def encode_lenient(value: Any) -> bytes:
    """Canonical form without the integer range check, for room versions 1-5.

    The spec asks servers to handle events from those versions whose integers lie
    outside the safe range (appendices: "Canonical JSON" warning); Synapse does
    the same by only enforcing the range for v6+.
    """
    _check_lenient(value, "")
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")
