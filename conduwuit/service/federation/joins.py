"""Joining a room this server is not in (server-server API "Joining Rooms").

``make_join`` on the candidate servers in turn (the client's ``via``/``server_name``,
the alias's servers, the room ID's server), offering our supported room versions;
the first template is filled in (our time, the client's content), hashed and signed,
and sent with ``send_join`` (v2) to the same server. The answer's state and auth
chain are checked — hashes and signatures concurrently through ``PduSignatures``
(events that fail are dropped; one with a bad content hash is used redacted), then
format and auth rules in the event pipeline — and become the room's state, with our
join as its latest event (``EventPipeline.persist_remote_join``).

``M_INCOMPATIBLE_ROOM_VERSION`` from a server ends the attempts at once (every
server of the room would say the same). Otherwise the next server is tried, at most
``MAX_SERVERS``; when all fail, the last server's 4xx is passed on (403 for a ban),
anything else is 502 ``M_UNKNOWN``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.events import Event
from conduwuit.core.membership import MembershipState
from conduwuit.core.room_versions import EventFormat, RoomVersion, supported_versions
from conduwuit.core.room_versions import get as get_room_version
from conduwuit.core.signing import Keypair
from conduwuit.service.clock import Clock
from conduwuit.service.federation.client import (
    FederationClient,
    FederationDisabled,
    FederationError,
    ForbiddenServer,
    RemoteError,
)
from conduwuit.service.federation.event_checks import PduSignatures
from conduwuit.service.federation.queries import FederationQueries
from conduwuit.service.rooms.pipeline import EventPipeline, JoinStateError

log = logging.getLogger(__name__)

#: Servers asked for a join at most.
MAX_SERVERS = 10
#: A room's state and auth chain can be large.
MAX_SEND_JOIN_RESPONSE = 128 * 1024 * 1024
#: Signature checks (and their key fetches) running at once.
CONCURRENT_CHECKS = 64
#: Fields of a make_join template that go into the event.
TEMPLATE_FIELDS = ("type", "room_id", "sender", "state_key", "prev_events", "auth_events", "depth")


class _Failed(Exception):
    """This server could not give us a join; try the next."""


class RemoteJoins:
    def __init__(
        self,
        server_name: str,
        keypair: Callable[[], Keypair],
        client: FederationClient,
        queries: FederationQueries,
        signatures: PduSignatures,
        pipeline: EventPipeline,
        clock: Clock,
        *,
        allow_unstable_room_versions: bool = True,
    ) -> None:
        self._server_name = server_name
        self._keypair = keypair
        self._client = client
        self._queries = queries
        self._signatures = signatures
        self._pipeline = pipeline
        self._clock = clock
        self._versions = supported_versions(allow_unstable_room_versions)

    async def resolve_alias(self, alias: str, server: str) -> tuple[str, list[str]]:
        """Another server's alias: its room and the servers to join through."""
        answer = await self._queries.alias(alias, server)
        return str(answer["room_id"]), [str(s) for s in answer["servers"]]

    async def join(
        self, user_id: str, room_id: str, servers: Sequence[str], content: dict[str, Any]
    ) -> str:
        """Join ``user_id`` through the first of ``servers`` that lets us; the join's ID."""
        candidates = [s for s in dict.fromkeys(servers) if s != self._server_name]
        if not candidates:
            raise MatrixError(ErrCode.NOT_FOUND, "No server to join this room through", status=404)
        last: MatrixError | None = None
        for server in candidates[:MAX_SERVERS]:
            try:
                return await self._join_via(server, user_id, room_id, content)
            except _Failed as exc:
                log.info("join of %s to %s via %s failed: %s", user_id, room_id, server, exc)
                cause = exc.__cause__
                if isinstance(cause, RemoteError) and 400 <= cause.status < 500:
                    last = MatrixError(
                        cause.errcode or ErrCode.UNKNOWN,
                        f"{server} refused the join: {cause}",
                        status=cause.status,
                    )
                else:
                    last = MatrixError(
                        ErrCode.UNKNOWN, f"Could not join through {server}: {exc}", status=502
                    )
        assert last is not None
        raise last

    async def _join_via(
        self, server: str, user_id: str, room_id: str, content: dict[str, Any]
    ) -> str:
        template, rv = await self._make_join(server, user_id, room_id)
        pdu = self._fill(template, rv, user_id, room_id, content)
        event_id = Event(pdu, rv).event_id
        path = (
            f"/_matrix/federation/v2/send_join/{quote(room_id, safe='')}/{quote(event_id, safe='')}"
        )
        try:
            answer = await self._client.request(
                server, "PUT", path, content=pdu, max_response=MAX_SEND_JOIN_RESPONSE
            )
        except (FederationDisabled, ForbiddenServer) as exc:
            raise MatrixError(ErrCode.FORBIDDEN, str(exc), status=403) from None
        except FederationError as exc:
            raise _Failed(f"send_join: {exc}") from exc
        if not isinstance(answer, dict):
            raise _Failed("send_join answered no object")
        state, auth_chain = answer.get("state"), answer.get("auth_chain")
        if not isinstance(state, list) or not isinstance(auth_chain, list):
            raise _Failed("send_join answered without state/auth_chain")
        signed = answer.get("event")
        if isinstance(signed, dict) and _same_event(signed, event_id, rv):
            pdu = signed  # a restricted join, also signed by the resident server
        checked_state, checked_chain = await asyncio.gather(
            self._verified(state, rv), self._verified(auth_chain, rv)
        )
        try:
            event = await self._pipeline.persist_remote_join(
                room_id, rv, checked_state, checked_chain, pdu
            )
        except JoinStateError as exc:
            raise _Failed(str(exc)) from exc
        return event.event_id

    async def _make_join(
        self, server: str, user_id: str, room_id: str
    ) -> tuple[dict[str, Any], RoomVersion]:
        query = urlencode([("ver", v) for v in self._versions])
        path = (
            f"/_matrix/federation/v1/make_join/{quote(room_id, safe='')}/"
            f"{quote(user_id, safe='')}?{query}"
        )
        try:
            answer = await self._client.get(server, path)
        except (FederationDisabled, ForbiddenServer) as exc:
            raise MatrixError(ErrCode.FORBIDDEN, str(exc), status=403) from None
        except RemoteError as exc:
            if exc.errcode == ErrCode.INCOMPATIBLE_ROOM_VERSION:
                body = exc.body if isinstance(exc.body, dict) else {}
                raise MatrixError(
                    ErrCode.INCOMPATIBLE_ROOM_VERSION,
                    f"This server does not support the room's version ({server} says)",
                    status=400,
                    room_version=str(body.get("room_version", "")),
                ) from None
            raise _Failed(f"make_join: {exc}") from exc
        except FederationError as exc:
            raise _Failed(f"make_join: {exc}") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("event"), dict):
            raise _Failed("make_join answered without an event")
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

    def _fill(
        self,
        template: dict[str, Any],
        rv: RoomVersion,
        user_id: str,
        room_id: str,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        """Our join from the resident server's template: its room, prev and auth events
        and depth; our sender, time and content (its authorising user kept)."""
        if (
            template.get("type") != "m.room.member"
            or template.get("sender") != user_id
            or template.get("state_key") != user_id
            or template.get("room_id", room_id) != room_id
        ):
            raise _Failed("make_join answered a template for another event")
        pdu: dict[str, Any] = {k: template[k] for k in TEMPLATE_FIELDS if k in template}
        pdu["room_id"] = room_id
        raw = template.get("content")
        given: dict[str, Any] = raw if isinstance(raw, dict) else {}
        pdu["content"] = {
            **{k: v for k, v in given.items() if k == "join_authorised_via_users_server"},
            **content,
            "membership": MembershipState.JOIN,
        }
        pdu["origin_server_ts"] = self._clock()
        if rv.event_format is EventFormat.V1:
            pdu["event_id"] = f"${secrets.token_urlsafe(18)}:{self._server_name}"
            pdu["origin"] = self._server_name
        return hash_and_sign_event(pdu, self._server_name, self._keypair(), rv)

    async def _verified(self, pdus: list[Any], rv: RoomVersion) -> list[dict[str, Any]]:
        """The PDUs whose required signatures verify (redacted if their content hash
        does not match); the others are dropped."""
        limit = asyncio.Semaphore(CONCURRENT_CHECKS)

        async def check(pdu: Any) -> dict[str, Any] | None:
            if not isinstance(pdu, dict):
                return None
            async with limit:
                try:
                    return await self._signatures.check(pdu, rv, for_join=True)
                except Exception as exc:  # a bad or unverifiable event is dropped, not fatal
                    log.info("dropping an event of a send_join response: %r", exc)
                    return None

        checked = await asyncio.gather(*(check(p) for p in pdus))
        return [p for p in checked if p is not None]


def _same_event(pdu: dict[str, Any], event_id: str, rv: RoomVersion) -> bool:
    try:
        return Event(pdu, rv).event_id == event_id
    except Exception:
        return False
