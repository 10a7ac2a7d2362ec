"""What every response must be, whatever the request: strict JSON."""

from __future__ import annotations

import json
import math
from typing import Any


def strict_json_error(body: bytes) -> str | None:
    """Why ``body`` is not strict JSON (I-JSON, RFC 7493), or None if it is."""

    def reject_constant(name: str) -> Any:
        raise ValueError(f"non-finite number {name}")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(items)

    def check_strings(value: Any) -> None:
        if isinstance(value, str):
            value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError
        elif isinstance(value, dict):
            for key, item in value.items():
                check_strings(key)
                check_strings(item)
        elif isinstance(value, list):
            for item in value:
                check_strings(item)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError("non-finite number")

    try:
        parsed = json.loads(
            body.decode("utf-8"), parse_constant=reject_constant, object_pairs_hook=pairs
        )
        check_strings(parsed)
    except (UnicodeError, ValueError, RecursionError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
