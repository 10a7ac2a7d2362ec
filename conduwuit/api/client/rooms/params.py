"""Path and query parameters of room endpoints, parsed once into typed IDs."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.query import int_param, optional_int_param
from conduwuit.core.errors import bad_json, invalid_param
from conduwuit.core.ids import RoomId, UserId


def room_id(request: web.Request) -> RoomId:
    raw = request.match_info["room_id"]
    try:
        return RoomId.parse(raw)
    except ValueError as exc:
        raise invalid_param(f"Invalid room ID: {exc}") from None


def user_id(value: object, what: str = "user_id") -> UserId:
    if not isinstance(value, str):
        raise bad_json(f"{what} must be a string")
    try:
        return UserId.parse(value)
    except ValueError as exc:
        raise invalid_param(f"Invalid {what}: {exc}") from None


def me(request: web.Request) -> UserId:
    return UserId.parse(requester(request).user_id)


def is_guest(request: web.Request) -> bool:
    return requester(request).is_guest


def device(request: web.Request) -> str:
    return requester(request).device_id


def massaged_ts(request: web.Request) -> int | None:
    """The ``ts`` an application service gives an event it sends (Application Service
    API, "Timestamp massaging"); ignored for everyone else, as Synapse does."""
    if requester(request).appservice_id is None:
        return None
    return optional_int_param(request, "ts")


def int_query(request: web.Request, name: str, default: int) -> int:
    return int_param(request, name, default)
