"""POST /sync of Simplified Sliding Sync (MSC4186): lists, room subscriptions and
extensions for one connection, from the position its ``pos`` names.

A response covers stream positions up to ``now``, read before anything else. A room
comes down when the connection never had it or it changed since the position the
connection had it at; with nothing to say and a ``pos``, the request waits on the
notifier (the user's rooms and the user) for at most ``timeout``, as /sync does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conduwuit.core.ids import UserId
from conduwuit.core.membership import MembershipState
from conduwuit.db import Database
from conduwuit.service.give_way import GiveWay
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.member_index import UserRoom
from conduwuit.service.sliding_sync.connections import (
    Connections,
    ConnState,
    make_pos,
    parse_pos,
    unknown_pos,
)
from conduwuit.service.sliding_sync.extensions import ExtensionRooms, SlidingExtensions
from conduwuit.service.sliding_sync.lists import RoomFacts, in_ranges, select
from conduwuit.service.sliding_sync.room_data import RoomRequest, SlidingRooms
from conduwuit.service.sync.service import MAX_TIMEOUT_MS

if TYPE_CHECKING:  # the request types load with the api's first request
    from conduwuit.service.sliding_sync.config import RoomConfig, SlidingRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Built:
    body: dict[str, Any]
    state: ConnState
    news: bool


class SlidingSyncService:
    def __init__(
        self,
        db: Database,
        facts: RoomFacts,
        rooms: SlidingRooms,
        extensions: SlidingExtensions,
        notifier: Notifier,
        connections: Connections,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._facts = facts
        self._rooms = rooms
        self._extensions = extensions
        self._notifier = notifier
        self.connections = connections
        self._monotonic = monotonic
        self._members = facts.storage.member_index
        #: How a response's build gives way to other tasks (tests make it yield always).
        self.give_way: Callable[[], GiveWay] = GiveWay

    async def sync(
        self,
        user: UserId,
        device_id: str,
        request: SlidingRequest,
        *,
        pos: str | None,
        timeout_ms: int,
    ) -> dict[str, Any]:
        key = (str(user), device_id, request.conn_id)
        conn_pos, since = parse_pos(pos) if pos is not None else (None, None)
        if since is not None and since > self._db.current_count():
            raise unknown_pos("the position is from the future")
        if conn_pos is not None:
            await self.connections.read_back(key)
        state = self.connections.state_at(key, conn_pos)
        deadline = self._monotonic() + min(max(timeout_ms, 0), MAX_TIMEOUT_MS) / 1000
        while True:
            now = self._db.current_count()
            built = await self._build(user, device_id, request, state, since, now)
            remaining_ms = int((deadline - self._monotonic()) * 1000)
            if built.news or since is None or remaining_ms <= 0:
                break
            rooms = [r.room_id for r in self._members.rooms_of(str(user), ("join", "invite"))]
            woke = await self._notifier.wait(
                now, rooms=rooms, users=[str(user)], timeout_ms=remaining_ms
            )
            if woke <= now:
                break
            await asyncio.sleep(0)
        new_pos = self.connections.commit(key, conn_pos, built.state)
        await self.connections.written(key)
        return {"pos": make_pos(new_pos, now), **built.body}

    async def _build(
        self,
        user: UserId,
        device_id: str,
        request: SlidingRequest,
        state: ConnState,
        since: int | None,
        now: int,
    ) -> _Built:
        give_way = self.give_way()
        rooms = self._visible_rooms(str(user), since)
        configs: dict[str, RoomConfig] = {}
        list_rooms: dict[str, list[str]] = {}
        lists: dict[str, Any] = {}
        counts: dict[str, int] = {}
        for name, list_config in request.lists.items():
            await give_way.pause()
            candidates = select(self._facts, str(user), rooms.values(), list_config, now)
            counts[name] = len(candidates)
            lists[name] = {"count": len(candidates)}
            chosen = [c.room.room_id for c in in_ranges(candidates, list_config.ranges)]
            list_rooms[name] = chosen
            for room_id in chosen:
                configs[room_id] = _merged(configs.get(room_id), list_config.room)
        subscribed = []
        for room_id, room_config in request.subscriptions.items():
            room = rooms.get(room_id) or self._members.get(str(user), room_id)
            if room is None or self._members.is_forgotten(str(user), room_id):
                # Rooms the user has no membership in are left out (as Synapse).
                continue
            rooms[room_id] = room
            subscribed.append(room_id)
            configs[room_id] = _merged(configs.get(room_id), room_config)
        direct = self._facts.direct_rooms(str(user))
        out: dict[str, Any] = {}
        sent = dict(state.rooms)
        for room_id, room_config in configs.items():
            await give_way.pause()
            room = rooms[room_id]
            result = await self._rooms.build(
                user,
                device_id,
                RoomRequest(
                    room,
                    room_config,
                    state.rooms.get(room_id),
                    self._facts.bump_stamp(room, now),
                    self._facts.is_dm(room, str(user), direct),
                    since,
                    now,
                ),
                give_way,
            )
            if result.body is not None:
                out[room_id] = result.body
            sent[room_id] = result.sent
        extension_rooms = ExtensionRooms(
            list_rooms, subscribed, frozenset(r for r in configs if r not in state.rooms)
        )
        extensions, extension_news = self._extensions.build(
            str(user), device_id, request.extensions, extension_rooms, since, now
        )
        body = {"lists": lists, "rooms": out, "extensions": extensions}
        news = bool(out) or extension_news or counts != state.list_counts
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "sliding sync of %s built: %d rooms, %d yields, connections kept: %s",
                user,
                len(out),
                give_way.yields,
                self.connections.stats(),
            )
        return _Built(body, ConnState(sent, counts), news)

    def _visible_rooms(self, user: str, since: int | None) -> dict[str, UserRoom]:
        """The rooms lists choose from; invites from ignored users are left out
        ("Servers must not send room invites from ignored users to clients")."""
        ignored = self._facts.account_data.ignored_users(user)
        out = {}
        for room in self._facts.rooms(user, since):
            if room.membership == MembershipState.INVITE and ignored:
                if self._rooms.sections.inviter(room, user) in ignored:
                    continue
            out[room.room_id] = room
        return out


def _merged(current: RoomConfig | None, more: RoomConfig) -> RoomConfig:
    return more if current is None else current.merge(more)
