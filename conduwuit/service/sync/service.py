"""GET /sync (client-server API "Syncing"): what changed for a user since a token.

Tokens are stream positions of the one global counter (``s<N>``). A response
covers ``(since, now]`` where ``now`` is read before anything else, so an event
committed while the response is built is delivered by the next sync, never lost
and never twice. With nothing to say, the request waits on the notifier for a
change that concerns the user, never on a timer.

A response is built on the event loop room by room and event by event, giving way to
other tasks every few milliseconds (``GiveWay``), so a cold initial sync of hundreds
of rooms does not hold up other requests. Timelines, receipts and ``next_batch`` stay bounded by
``now``; what is not positioned on the stream (typing, the latest account data of
each type) is read as each room is built.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from conduwuit.core.ids import UserId
from conduwuit.core.invite_permission import InviteRule
from conduwuit.core.stream_token import StreamToken
from conduwuit.db import Database
from conduwuit.service.account_data import AccountData
from conduwuit.service.give_way import GiveWay
from conduwuit.service.notifier import Notifier
from conduwuit.service.presence import Presence
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.sync.filter import SyncFilter
from conduwuit.service.sync.rooms import RoomSections, Window, latest_by_type

log = logging.getLogger(__name__)

MAX_TIMEOUT_MS = 5 * 60 * 1000


class DeviceExtras(Protocol):
    """What the E2EE services add to a sync (to-device, device lists, key counts)."""

    def sync_extras(
        self, user_id: str, device_id: str, since: int | None, now: int
    ) -> dict[str, Any]: ...


def parse_since(token: str | None) -> int | None:
    if token is None or token == "":
        return None
    return StreamToken.parse(token, "since token").position


def make_token(position: int) -> str:
    return str(StreamToken(position))


class SyncService:
    def __init__(
        self,
        db: Database,
        members: MemberIndex,
        rooms: RoomSections,
        account_data: AccountData,
        presence: Presence,
        notifier: Notifier,
        extras: list[DeviceExtras] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        initial_account_data: Callable[[str], dict[str, dict[str, Any]]] | None = None,
        is_partial: Callable[[str], bool] = lambda room_id: False,
    ) -> None:
        self._db = db
        self._members = members
        self._rooms = rooms
        self._account_data = account_data
        self._presence = presence
        self._notifier = notifier
        self.extras = extras if extras is not None else []
        self._monotonic = monotonic
        #: A room joined with partial state (its full state is being fetched).
        self._is_partial = is_partial
        #: Global account data every initial sync carries, as it is now, written or not
        #: (``m.push_rules``: Synapse always includes the user's current push rules).
        self._initial_account_data = initial_account_data
        #: How a response's build gives way to other tasks (tests make it yield always).
        self.give_way: Callable[[], GiveWay] = GiveWay
        # Every change after this position has passed through the notifier, which
        # remembers the last position per room and user: a sync from a later token
        # can skip the rooms that did not change without reading the database.
        self._notified_from = db.current_count()

    async def sync(
        self,
        user: UserId,
        device_id: str,
        *,
        since: int | None,
        timeout_ms: int,
        full_state: bool,
        sync_filter: SyncFilter,
        set_presence: str | None = "online",
        use_state_after: bool = False,
    ) -> dict[str, Any]:
        if since is not None and since > self._db.current_count():
            # A token from the future (e.g. a restored database): start over.
            since = None
        if set_presence in ("online", "unavailable") and self._presence.enabled:
            if self._presence.current(str(user)) != set_presence:
                self._presence.set(user, set_presence)
        deadline = self._monotonic() + min(max(timeout_ms, 0), MAX_TIMEOUT_MS) / 1000
        while True:
            now = self._db.current_count()
            window = Window(user, device_id, since, now, full_state, sync_filter, use_state_after)
            response, empty = await self._build(window)
            remaining_ms = int((deadline - self._monotonic()) * 1000)
            if not empty or since is None or full_state or remaining_ms <= 0:
                return response
            rooms = [r.room_id for r in self._members.rooms_of(str(user), ("join", "invite"))]
            woke = await self._notifier.wait(
                now, rooms=rooms, users=[str(user)], timeout_ms=remaining_ms
            )
            if woke <= now:
                # Timed out: answer with the position the empty response covered.
                return response
            await asyncio.sleep(0)

    async def _build(self, window: Window) -> tuple[dict[str, Any], bool]:
        user = str(window.user)
        sync_filter = window.filter
        join: dict[str, Any] = {}
        invite: dict[str, Any] = {}
        knock: dict[str, Any] = {}
        leave: dict[str, Any] = {}
        since = window.since
        quiet_rooms_skippable = (
            since is not None
            and since >= self._notified_from
            and not window.full_state
            and self._notifier.last_change(users=[user]) <= since
        )
        give_way = self.give_way()
        new_members: set[str] = set()
        ignored = self._account_data.ignored_users(user)
        invite_permission = self._account_data.invite_permission(user)
        for room in self._members.rooms_of(user, ("join", "invite", "knock", "leave", "ban")):
            await give_way.pause()
            if not sync_filter.wants_room(room.room_id) or room.count > window.now:
                continue
            changed = since is None or room.count > since
            if (
                quiet_rooms_skippable
                and since is not None
                and not changed
                and self._notifier.last_change(rooms=[room.room_id]) <= since
            ):
                continue
            if room.membership == "join" and (
                not sync_filter.state.lazy_load_members and self._is_partial(room.room_id)
            ):
                # Synapse's: an eager sync (all members' state) leaves a room joined
                # with partial state out until its resync ends; then the room comes
                # down as newly joined (the resync moves our membership's position).
                continue
            if room.membership == "join":
                section = await self._rooms.joined(room, window, give_way)
                if section is not None:
                    join[room.room_id] = section
                    new_members |= await self._rooms.newly_joined(room, window, give_way)
            elif room.membership == "invite" and changed:
                # "Servers must not send room invites from ignored users to clients";
                # nor invites the user's invite permission ignores or blocks ("Invite
                # permission": one that came before a block stays hidden too).
                inviter = self._rooms.inviter(room, user)
                if inviter is not None and (
                    inviter in ignored or invite_permission.rule_for(inviter) != InviteRule.ALLOW
                ):
                    continue
                invite[room.room_id] = self._rooms.invited(room, user)
            elif room.membership == "knock" and changed:
                knock[room.room_id] = self._rooms.knocked(room, user)
            elif room.membership in ("leave", "ban"):
                # A forgotten room stays out of initial syncs, but a leave since the
                # token still comes down incrementally, so the user's other devices see
                # it (as Synapse does; Complement's "Leave for forgotten room shows up in
                # v2 incremental /sync" says so against the spec's wording).
                if since is None and self._members.is_forgotten(user, room.room_id):
                    continue
                # An initial sync carries the rooms the user left only with
                # include_leave, but always those they were banned or kicked from:
                # Synapse's rule (the spec says only "rooms that the user has left").
                if since is None and not (
                    sync_filter.include_leave or self._rooms.removed(room, user)
                ):
                    continue
                if since is None or changed:
                    leave[room.room_id] = await self._rooms.left(room, window, give_way)
        account_data = self._global_account_data(window)
        presence = [
            e
            for e in self._presence.changes_since(user, since or 0, also=new_members)
            if sync_filter.wants(sync_filter.presence, e)
        ]
        response: dict[str, Any] = {
            "next_batch": make_token(window.now),
            # Empty sections are left out, as Synapse does (clients and Complement
            # tell "no invites" by the missing key).
            "rooms": {
                section: rooms
                for section, rooms in (
                    ("join", join),
                    ("invite", invite),
                    ("knock", knock),
                    ("leave", leave),
                )
                if rooms
            },
            "account_data": {"events": account_data},
            "presence": {"events": presence},
        }
        extras_changed = False
        for extra in self.extras:
            for key, value in extra.sync_extras(user, window.device_id, since, window.now).items():
                response[key] = value
                if key in ("to_device",) and value.get("events"):
                    extras_changed = True
                if key == "device_lists" and (value.get("changed") or value.get("left")):
                    extras_changed = True
        empty = not (join or invite or knock or leave or account_data or presence or extras_changed)
        log.debug(
            "sync of %s built: %d rooms, %d yields, longest step %.1f ms (%.1f ms of CPU)",
            user,
            len(join) + len(invite) + len(knock) + len(leave),
            give_way.yields,
            give_way.longest_s * 1000,
            give_way.longest_cpu_s * 1000,
        )
        return response, empty

    def _global_account_data(self, window: Window) -> list[dict[str, Any]]:
        return [
            e
            for e in self.global_account_data(str(window.user), window.since)
            if window.filter.wants(window.filter.account_data, e)
        ]

    def global_account_data(self, user: str, since: int | None) -> list[dict[str, Any]]:
        """The user's global account data changed after ``since`` (all of it if None)."""
        changes = list(self._account_data.since(user, since or 0))
        if since is None and self._initial_account_data is not None:
            for event_type, content in self._initial_account_data(user).items():
                changes.append((0, {"type": event_type, "content": content}))
        return latest_by_type(changes, since is not None)
