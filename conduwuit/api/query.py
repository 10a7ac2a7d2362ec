"""Query parameters: one parser for integers and one for booleans.

Synapse's ``parse_integer`` / ``parse_boolean`` semantics: integers are ASCII
digits (non-negative, within range), booleans exactly ``true`` or ``false``;
anything else is 400 M_INVALID_PARAM naming the parameter.
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.core.canonical_json import MAX_SAFE_INT
from conduwuit.core.errors import invalid_param
from conduwuit.core.numbers import parse_uint


def optional_int_param(
    request: web.Request, name: str, *, maximum: int = MAX_SAFE_INT
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    value = parse_uint(raw, maximum)
    if value is None:
        raise invalid_param(f"{name} must be an integer between 0 and {maximum}")
    return value


def int_param(request: web.Request, name: str, default: int, *, maximum: int = MAX_SAFE_INT) -> int:
    value = optional_int_param(request, name, maximum=maximum)
    return default if value is None else value


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise invalid_param(f"{name} must be true or false")
    return raw == "true"
