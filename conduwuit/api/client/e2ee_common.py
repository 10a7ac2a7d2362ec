"""What the e2ee endpoints need from the rest of the API layer, injected.

The access-token authenticator records who made a request; the accounts API's
``requester`` reads it. User-interactive auth belongs to the accounts service.
Both are passed in by the composition root so these modules depend on neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from conduwuit.core.errors import invalid_param
from conduwuit.core.ids import UserId
from conduwuit.core.stream_token import StreamToken


class Who(Protocol):
    """The authenticated caller: user and device of the access token."""

    @property
    def user_id(self) -> str: ...

    @property
    def device_id(self) -> str: ...


#: ``request -> Who`` for a route with ``Auth.ACCESS_TOKEN``.
RequesterOf = Callable[[web.Request], Who]

#: Complete user-interactive auth for this user with this ``auth`` dict, or raise
#: the 401 that tells the client what to do.
UiaGate = Callable[[dict[str, Any] | None, str], Awaitable[object]]

#: A /sync ``next_batch`` token -> its stream position (owned by /sync).
PositionOf = Callable[[str], int]


def plain_position(token: str) -> int:
    """A sync token's stream count: ``s<N>`` (this server's /sync) or a bare ``N``
    (conduwuit's)."""
    return StreamToken.parse(token, "sync token").position


def check_user_ids(user_ids: Any) -> None:
    for user_id in user_ids:
        if not UserId.is_valid(user_id):
            raise invalid_param(f"Invalid user ID: {user_id!r}")
