"""Member events made through another server (server-server API "Joining Rooms",
"Leaving Rooms", "Knocking upon a room"): ``make_{membership}`` on a resident
server gives a template, which is filled in (our time, the client's content),
hashed and signed, then sent with ``send_{membership}`` to the same server.

``try_servers`` asks the candidate servers in turn, at most ``MAX_SERVERS``.
``M_INCOMPATIBLE_ROOM_VERSION`` ends the attempts at once (every server of the room
would say the same); when all fail, the last server's 4xx is passed on (403 for a
ban or a join rule that does not allow it), anything else is 502 ``M_UNKNOWN``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.membership import MembershipState
from conduwuit.core.room_versions import EventFormat, RoomVersion
from conduwuit.core.room_versions import get as get_room_version
from conduwuit.core.signing import Keypair
from conduwuit.service.clock import Clock
from conduwuit.service.federation.client import (
    DEFAULT_MAX_RESPONSE,
    FederationClient,
    FederationDisabled,
    FederationError,
    ForbiddenServer,
    RemoteError,
)

log = logging.getLogger(__name__)

#: Servers asked at most for one membership change.
MAX_SERVERS = 10
#: Fields of a make_* template that go into the event.
TEMPLATE_FIELDS = ("type", "room_id", "sender", "state_key", "prev_events", "auth_events", "depth")

T = TypeVar("T")


class Failed(Exception):
    """This server could not give us the membership; try the next."""


def _refused(exc: FederationError) -> MatrixError:
    """Federation with that server is off or forbidden here."""
    return MatrixError(ErrCode.FORBIDDEN, str(exc), status=403)


async def try_servers(
    candidates: Sequence[str], attempt: Callable[[str], Awaitable[T]], what: str
) -> T:
    """``attempt`` on each candidate until one succeeds (it raises ``Failed`` to go
    on, ``MatrixError`` to stop); the last failure as a client error otherwise."""
    if not candidates:
        raise MatrixError(ErrCode.NOT_FOUND, f"No server to {what} through", status=404)
    last: MatrixError | None = None
    for server in candidates[:MAX_SERVERS]:
        try:
            return await attempt(server)
        except Failed as exc:
            log.info("%s via %s failed: %s", what, server, exc)
            cause = exc.__cause__
            if isinstance(cause, RemoteError) and 400 <= cause.status < 500:
                last = MatrixError(
                    cause.errcode or ErrCode.UNKNOWN,
                    f"{server} refused to {what}: {cause}",
                    status=cause.status,
                )
            else:
                last = MatrixError(
                    ErrCode.UNKNOWN, f"Could not {what} via {server}: {exc}", status=502
                )
    assert last is not None
    raise last


class MemberTemplates:
    def __init__(
        self,
        server_name: str,
        keypair: Callable[[], Keypair],
        client: FederationClient,
        clock: Clock,
        versions: Sequence[str],
    ) -> None:
        self.server_name = server_name
        self._keypair = keypair
        self._client = client
        self._clock = clock
        self._versions = list(versions)

    async def make(
        self, server: str, membership: str, user_id: str, room_id: str
    ) -> tuple[dict[str, Any], RoomVersion]:
        """``make_join`` / ``make_knock`` (offering our room versions) or
        ``make_leave``: the template and the room's version."""
        path = (
            f"/_matrix/federation/v1/make_{membership}/{quote(room_id, safe='')}/"
            f"{quote(user_id, safe='')}"
        )
        if membership != MembershipState.LEAVE:
            path += "?" + urlencode([("ver", v) for v in self._versions])
        try:
            answer = await self._client.get(server, path)
        except (FederationDisabled, ForbiddenServer) as exc:
            raise _refused(exc) from None
        except RemoteError as exc:
            if exc.errcode == ErrCode.INCOMPATIBLE_ROOM_VERSION:
                body = exc.body if isinstance(exc.body, dict) else {}
                raise MatrixError(
                    ErrCode.INCOMPATIBLE_ROOM_VERSION,
                    f"This server does not support the room's version ({server} says)",
                    status=400,
                    room_version=str(body.get("room_version", "")),
                ) from None
            raise Failed(f"make_{membership}: {exc}") from exc
        except FederationError as exc:
            raise Failed(f"make_{membership}: {exc}") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("event"), dict):
            raise Failed(f"make_{membership} answered without an event")
        version = str(answer.get("room_version", "1"))
        rv = get_room_version(version)
        if rv is None or version not in self._versions:
            raise MatrixError(
                ErrCode.INCOMPATIBLE_ROOM_VERSION,
                f"This server does not support room version {version}",
                status=400,
                room_version=version,
            )
        template: dict[str, Any] = answer["event"]
        return template, rv

    def fill(
        self,
        template: dict[str, Any],
        rv: RoomVersion,
        user_id: str,
        room_id: str,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        """Our event from the resident server's template: its room, prev and auth
        events and depth; our sender, time and content (for a join, its authorising
        user kept), hashed and signed."""
        membership = content["membership"]
        raw = template.get("content")
        given: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if (
            template.get("type") != "m.room.member"
            or template.get("sender") != user_id
            or template.get("state_key") != user_id
            or template.get("room_id", room_id) != room_id
            or given.get("membership", membership) != membership
        ):
            raise Failed(f"make_{membership} answered a template for another event")
        pdu: dict[str, Any] = {k: template[k] for k in TEMPLATE_FIELDS if k in template}
        pdu["room_id"] = room_id
        pdu["content"] = {
            **{k: v for k, v in given.items() if k == "join_authorised_via_users_server"},
            **content,
        }
        return self._finish(pdu, rv)

    def out_of_band(
        self, previous: dict[str, Any], rv: RoomVersion, content: dict[str, Any]
    ) -> dict[str, Any]:
        """A member event made here alone, on the user's previous (out-of-band)
        member event: what Synapse does when no resident server takes a rejection
        (its ``_generate_local_out_of_band_leave``). Its only prev and auth event is
        that previous event; it is never sent, only shown to the user."""
        user_id = str(previous["state_key"])
        depth = previous.get("depth")
        pdu: dict[str, Any] = {
            "type": "m.room.member",
            "room_id": previous["room_id"],
            "sender": user_id,
            "state_key": user_id,
            "content": content,
            "prev_events": [_reference(previous, rv)],
            "auth_events": [_reference(previous, rv)],
            "depth": (depth if isinstance(depth, int) else 0) + 1,
        }
        return self._finish(pdu, rv)

    def _finish(self, pdu: dict[str, Any], rv: RoomVersion) -> dict[str, Any]:
        """Our time (and a v1/v2 event ID), hashed and signed."""
        pdu["origin_server_ts"] = self._clock()
        if rv.event_format is EventFormat.V1:
            pdu["event_id"] = f"${secrets.token_urlsafe(18)}:{self.server_name}"
            pdu["origin"] = self.server_name
        return hash_and_sign_event(pdu, self.server_name, self._keypair(), rv)

    async def send(
        self,
        server: str,
        path: str,
        pdu: dict[str, Any],
        what: str,
        max_response: int = DEFAULT_MAX_RESPONSE,
    ) -> Any:
        """``PUT`` the filled event to ``send_*``; ``Failed`` if that server fails."""
        try:
            return await self._client.request(
                server, "PUT", path, content=pdu, max_response=max_response
            )
        except (FederationDisabled, ForbiddenServer) as exc:
            raise _refused(exc) from None
        except FederationError as exc:
            raise Failed(f"{what}: {exc}") from exc


def _reference(pdu: dict[str, Any], rv: RoomVersion) -> Any:
    """How an event cites another: v1/v2 ``[id, hashes]``, later just the ID."""
    event_id = pdu["event_id"]
    if rv.event_format is EventFormat.V1:
        return [event_id, pdu.get("hashes", {})]
    return event_id
