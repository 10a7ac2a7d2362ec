"""What every ``/_synapse/admin`` endpoint checks first, and the paging parameters the
listings share (Synapse's ``assert_requester_is_admin``, ``from``/``limit``/``dir``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from conduwuit.api.client.rooms.params import me
from conduwuit.api.query import int_param
from conduwuit.core.errors import forbidden, invalid_param
from conduwuit.core.ids import UserId

#: Synapse's default page size of the admin listings.
DEFAULT_LIMIT = 100


def require_admin(request: web.Request, is_admin: Callable[[str], bool]) -> UserId:
    """The requester (the router checked the token: 401 without one), 403 M_FORBIDDEN
    unless they are a server admin; called before the body or parameters are read."""
    user = me(request)
    if not is_admin(str(user)):
        raise forbidden("You are not a server admin")
    return user


@dataclass(frozen=True, slots=True)
class Page:
    start: int
    limit: int
    backwards: bool


def page(request: web.Request) -> Page:
    """``from`` (an offset), ``limit`` and ``dir`` (``f`` or ``b``)."""
    start = int_param(request, "from", 0)
    limit = int_param(request, "limit", DEFAULT_LIMIT)
    direction = request.query.get("dir", "f")
    if direction not in ("f", "b"):
        raise invalid_param("dir must be f or b")
    return Page(start, limit, direction == "b")
