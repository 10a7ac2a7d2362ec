"""The per-room sections of a sync response: join, invite, knock, leave.

A room's timeline is read from the stream positions between ``since`` and the
response's upper bound ``now``; state is only computed when the timeline does
not already say it all (a gap, a new join, or an initial sync), so a quiet room
costs one short scan.

A section is built in steps of one event: ``joined`` and ``left`` take the response's
``GiveWay`` and pause between events, so one room with a long timeline scan or a big
state does not hold the event loop either (DESIGN.md: no stall over 20 ms).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conduwuit.core.client_event import stripped_state, to_client
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import UserId
from conduwuit.core.membership import MembershipState
from conduwuit.core.timeline_pos import TimelinePos
from conduwuit.service.account_data import AccountData
from conduwuit.service.give_way import GiveWay
from conduwuit.service.push.notifications import Notifications, RoomCounts
from conduwuit.service.rooms.history import Access, RoomHistory
from conduwuit.service.rooms.member_index import MemberIndex, UserRoom
from conduwuit.service.rooms.out_of_band import own_member_event
from conduwuit.service.rooms.receipts import Receipts
from conduwuit.service.rooms.timeline import PduJson, pduid
from conduwuit.service.rooms.typing import Typing
from conduwuit.service.sync.filter import SyncFilter

#: Events examined per room at most to fill a filtered timeline.
MAX_SCAN = 2000
MAX_HEROES = 5


@dataclass(frozen=True)
class Window:
    """What one sync covers: stream positions in ``(since, now]``; ``since`` None = initial."""

    user: UserId
    device_id: str
    since: int | None
    now: int
    full_state: bool
    filter: SyncFilter
    # use_state_after (spec v1.16, MSC4222): state up to the end of the timeline, in
    # ``state_after``, instead of ``state`` up to its start.
    state_after: bool = False

    @property
    def viewer(self) -> tuple[str, str]:
        return (str(self.user), self.device_id)


class RoomSections:
    def __init__(
        self,
        history: RoomHistory,
        typing: Typing,
        receipts: Receipts,
        account_data: AccountData,
        notifications: Notifications,
    ) -> None:
        self.history = history
        self.storage = history.storage
        self.typing = typing
        self.receipts = receipts
        self.account_data = account_data
        self.notifications = notifications

    # -- events --------------------------------------------------------------------
    def client_event(self, pdu: PduJson, window: Window, access: Access) -> dict[str, Any]:
        now_ms = self.storage.clock()
        txn_id = self.storage.transactions.transaction_id(pdu, window.viewer)
        out = to_client(pdu, now_ms, txn_id, include_room_id=False)
        out["unsigned"]["membership"] = self.history.membership_on(window.user, pdu)
        bundled = self.history.aggregations.bundle(
            pdu,
            str(window.user),
            access.until,
            now_ms,
            lambda child: self.history.view(window.user, child, access),
        )
        if bundled:
            out["unsigned"]["m.relations"] = bundled
        return out

    async def client_events(
        self, timeline: list[tuple[int, PduJson]], window: Window, access: Access, pause: GiveWay
    ) -> list[dict[str, Any]]:
        out = []
        for _, pdu in timeline:
            await pause.pause()
            out.append(self.client_event(pdu, window, access))
        return out

    async def timeline_between(
        self,
        room_id: str,
        window: Window,
        access: Access,
        lower: int | None,
        upper: int,
        pause: GiveWay,
    ) -> tuple[list[tuple[int, PduJson]], bool]:
        """The newest visible, matching events in ``(lower, upper]``, oldest first, and
        whether older ones were left out (``limited``). The timeline stops after an
        event that follows a gap (history missing here, ``service.rooms.gaps``):
        limited, so the client paginates from ``prev_batch``, right before that
        event, and ``/messages`` backfills the gap first."""
        shortroomid = self.storage.short.room(room_id)
        limit = window.filter.timeline_limit
        if shortroomid is None:
            return [], False
        found: list[tuple[int, PduJson]] = []
        scanned = 0
        limited = False
        timeline = self.storage.timeline
        rows = timeline.scan_at(shortroomid, TimelinePos.after_count(upper), backwards=True)
        for pos, pdu in rows:
            count = pos.count
            if lower is not None and count <= lower:
                break
            await pause.pause()
            scanned += 1
            seen = None
            if window.filter.timeline.matches(pdu):
                seen = self.history.view(window.user, pdu, access)
            if seen is not None and (seen is pdu or window.filter.timeline.matches(seen)):
                if len(found) >= limit:
                    limited = True
                    break
                found.append((count, seen))
            if scanned >= MAX_SCAN or timeline.gaps.is_gap(pduid(shortroomid, pos)):
                limited = True
                break
        found.reverse()
        return found, limited

    # -- state ---------------------------------------------------------------------
    def _state_before(self, room_id: str, first: tuple[int, PduJson] | None) -> dict[int, int]:
        """The full state (short ids) before the first timeline event, else current."""
        state = self.storage.state
        if first is not None:
            before = state.hash_before(str(first[1]["event_id"]))
            if before is not None:
                return state.store.copy(before)
        return state.store.copy(state.current_hash(room_id))

    def state_at(self, room_id: str, position: int) -> dict[int, int]:
        """The state after the last event at or before ``position`` (empty before the room)."""
        shortroomid = self.storage.short.room(room_id)
        if shortroomid is None:
            return {}
        for _, pdu in self.storage.timeline.scan(shortroomid, position + 1, backwards=True):
            before = self.storage.state.hash_before(str(pdu["event_id"]))
            full = self.storage.state.store.copy(before or 0)
            if "state_key" in pdu:
                sk = self.storage.short.statekey(str(pdu["type"]), str(pdu["state_key"]))
                se = self.storage.short.event(str(pdu["event_id"]))
                if sk is not None and se is not None:
                    full[sk] = se
            return full
        return {}

    async def _state_events(
        self,
        room_id: str,
        window: Window,
        access: Access,
        full: dict[int, int],
        previous: dict[int, int],
        timeline: list[tuple[int, PduJson]],
        pause: GiveWay,
        *,
        with_timeline: bool = False,
    ) -> list[dict[str, Any]]:
        """State entries of ``full`` not in ``previous``, filtered, lazy-loaded members
        limited to the timeline's senders (and the user), timeline events left out
        unless ``with_timeline`` (``state_after`` repeats them)."""
        in_timeline = set() if with_timeline else {str(p["event_id"]) for _, p in timeline}
        state_filter = window.filter.state
        lazy = state_filter.lazy_load_members
        wanted_members = {str(p.get("sender")) for _, p in timeline} | {str(window.user)}
        out = []
        for sk, se in full.items():
            if previous.get(sk) == se:
                continue
            await pause.pause()
            event_id = self.storage.short.event_id(se)
            if event_id is None or event_id in in_timeline:
                continue
            event_type, state_key = self.storage.short.statekey_of(sk)
            if lazy and event_type == "m.room.member" and state_key not in wanted_members:
                continue
            pdu = self.storage.timeline.get(event_id)
            if pdu is None or not state_filter.matches(pdu):
                continue
            out.append(self.client_event(pdu, window, access))
        if lazy and self.storage.partial.is_partial(room_id):
            out.extend(self._members_from_auth(full, timeline, window, access))
        return out

    def _members_from_auth(
        self,
        full: dict[int, int],
        timeline: list[tuple[int, PduJson]],
        window: Window,
        access: Access,
    ) -> list[dict[str, Any]]:
        """A room joined with partial state may lack the member events of the
        timeline's senders: theirs from each event's auth events (Synapse's lazy-loading
        sync does so for partial-state rooms)."""
        short, timeline_store = self.storage.short, self.storage.timeline
        found: dict[str, dict[str, Any]] = {}
        for _, pdu in timeline:
            sender = str(pdu.get("sender"))
            sk = short.statekey(EventType.MEMBER, sender)
            if sender in found or (sk is not None and sk in full):
                continue
            for auth_id in pdu.get("auth_events") or []:
                auth = timeline_store.get(auth_id) if isinstance(auth_id, str) else None
                if (
                    auth is not None
                    and auth.get("type") == EventType.MEMBER
                    and auth.get("state_key") == sender
                    and window.filter.state.matches(auth)
                ):
                    found[sender] = self.client_event(auth, window, access)
                    break
        return list(found.values())

    async def _state_after(
        self,
        room_id: str,
        window: Window,
        access: Access,
        lower: int | None,
        upper: int,
        timeline: list[tuple[int, PduJson]],
        pause: GiveWay,
    ) -> list[dict[str, Any]]:
        """``state_after`` (spec v1.16, MSC4222): the state changes between ``lower``
        (the since token; ``None`` for all of it) and the end of the timeline
        (``upper``), state events of the timeline included, since clients apply only
        these. A room with no event in ``(lower, upper]`` has none."""
        if lower is not None and not window.full_state:
            shortroomid = self.storage.short.room(room_id)
            rows = self.storage.timeline.scan(shortroomid or 0, upper + 1, backwards=True)
            newest = next(iter(rows), None) if shortroomid is not None else None
            if newest is None or newest[0] <= lower:
                return []
        full = self.state_at(room_id, upper)
        previous = {} if lower is None or window.full_state else self.state_at(room_id, lower)
        return await self._state_events(
            room_id, window, access, full, previous, timeline, pause, with_timeline=True
        )

    async def newly_joined(self, room: UserRoom, window: Window, pause: GiveWay) -> set[str]:
        """Users who started sharing joined room ``room`` with the viewer in the window
        (incremental syncs): everyone, if the viewer joined; else the users whose join
        is in ``(since, now]``. Their presence comes down even if it did not change, as
        in Synapse (``newly_joined_or_invited_or_knocked_users``)."""
        since = window.since
        if since is None:
            return set()
        if room.count > since:
            return set(self.storage.member_index.members(room.room_id))
        shortroomid = self.storage.short.room(room.room_id)
        if shortroomid is None:
            return set()
        joined: set[str] = set()
        scanned = 0
        for count, pdu in self.storage.timeline.scan(shortroomid, window.now + 1, backwards=True):
            if count <= since or scanned >= MAX_SCAN:
                break
            scanned += 1
            await pause.pause()
            if pdu.get("type") != EventType.MEMBER or not isinstance(pdu.get("state_key"), str):
                continue
            content = pdu.get("content")
            if isinstance(content, dict) and content.get("membership") == MembershipState.JOIN:
                joined.add(str(pdu["state_key"]))
        return {u for u in joined if self.storage.member_index.is_joined(u, room.room_id)}

    def _history_elsewhere(self, room_id: str) -> bool:
        """Whether the room's timeline here starts after its create event."""
        shortroomid = self.storage.short.room(room_id)
        oldest = self.storage.timeline.oldest(shortroomid) if shortroomid is not None else None
        return oldest is not None and oldest[1].get("type") != EventType.CREATE

    # -- sections ------------------------------------------------------------------
    async def joined(self, room: UserRoom, window: Window, pause: GiveWay) -> dict[str, Any] | None:
        room_id = room.room_id
        access = Access("join", True, None, self.history.ignored_by(str(window.user)))
        newly_joined = window.since is not None and room.count > window.since
        lower = None if window.since is None or newly_joined else window.since
        timeline, limited = await self.timeline_between(
            room_id, window, access, lower, window.now, pause
        )
        if newly_joined:
            # A room joined since the token is always limited, as in Synapse
            # (``limited or newly_joined_room``): the client has none of its history, and
            # prev_batch is where to paginate it from.
            limited = True
        first = timeline[0] if timeline else None
        if window.state_after:
            state = await self._state_after(
                room_id, window, access, lower, window.now, timeline, pause
            )
        elif lower is None or window.full_state:
            full = self._state_before(room_id, first)
            state = await self._state_events(room_id, window, access, full, {}, timeline, pause)
        elif limited:
            full = self._state_before(room_id, first)
            previous = self.state_at(room_id, lower)
            state = await self._state_events(
                room_id, window, access, full, previous, timeline, pause
            )
        elif window.filter.state.lazy_load_members and self.storage.partial.is_partial(room_id):
            state = self._members_from_auth(
                self.state_at(room_id, window.now), timeline, window, access
            )
        else:
            state = []
        ephemeral = self._ephemeral(room_id, window)
        account_data = self._room_account_data(room_id, window)
        counts = self.notifications.room_counts(str(window.user), room_id)
        # A receipt (even a private one) that changed the counts brings the room into
        # an incremental sync, so the client sees the reset.
        counts_changed = window.since is not None and window.since < counts.changed <= window.now
        if lower is not None and not (
            timeline or state or ephemeral or account_data or counts_changed
        ):
            return None
        prev_batch = (
            self.storage.timeline.token_before(timeline[0]) if timeline else str(window.now)
        )
        if lower is None and not limited and self._history_elsewhere(room_id):
            # The room's older history is on other servers (joined over federation, not
            # backfilled yet): limited, and prev_batch is where /messages backfills it.
            limited = True
        if lower is None and not limited:
            # An initial sync that holds the whole room: Synapse gives the current
            # position as prev_batch then (the spec only says "a token that can be
            # supplied to /messages"), and clients rely on it as "the point of this
            # sync", e.g. /members?at=prev_batch (Complement TestGetRoomMembersAtPoint).
            prev_batch = str(window.now)
        section: dict[str, Any] = {
            "timeline": {
                "events": await self.client_events(timeline, window, access, pause),
                "limited": limited,
                "prev_batch": prev_batch,
            },
            "state_after" if window.state_after else "state": {"events": state},
            "ephemeral": {"events": ephemeral},
            "account_data": {"events": account_data},
        }
        if lower is None or _touches_members(timeline, state):
            await pause.pause()
            section["summary"] = self.summary(room_id, str(window.user))
        await pause.pause()
        section.update(_unread(counts, window.filter.timeline.unread_thread_notifications))
        return section

    async def left(self, room: UserRoom, window: Window, pause: GiveWay) -> dict[str, Any] | None:
        """A room the user left or was banned from: events up to and including the leave."""
        room_id = room.room_id
        access = Access(
            room.membership, False, room.count, self.history.ignored_by(str(window.user))
        )
        lower = window.since
        upper = min(room.count, window.now)
        out_of_band = self._out_of_band(room, str(window.user))
        if out_of_band is not None:
            # A room this server never had (an invite rejected, a knock retracted):
            # the user's leave is all there is to show, as in Synapse.
            return {
                "timeline": {
                    "events": await self.client_events([out_of_band], window, access, pause),
                    "limited": False,
                    "prev_batch": str(upper),
                },
                "state_after" if window.state_after else "state": {"events": []},
                "account_data": {"events": self._room_account_data(room_id, window)},
            }
        timeline, limited = await self.timeline_between(
            room_id, window, access, lower, upper, pause
        )
        first = timeline[0] if timeline else None
        if window.state_after:
            # The state up to the leave, the leave included (never state from after it).
            state = await self._state_after(room_id, window, access, lower, upper, timeline, pause)
        elif lower is None or limited or window.full_state:
            # Without a timeline (limit 0) the state is the state at the leave, the
            # leave included: never state from after the user left.
            full = self._state_before(room_id, first) if first else self.state_at(room_id, upper)
            previous = {} if lower is None else self.state_at(room_id, lower)
            state = await self._state_events(
                room_id, window, access, full, previous, timeline, pause
            )
        else:
            state = []
        return {
            "timeline": {
                "events": await self.client_events(timeline, window, access, pause),
                "limited": limited,
                "prev_batch": self.storage.timeline.token_before(timeline[0])
                if timeline
                else str(upper),
            },
            "state_after" if window.state_after else "state": {"events": state},
            "account_data": {"events": self._room_account_data(room_id, window)},
        }

    def _out_of_band(self, room: UserRoom, user: str) -> tuple[int, PduJson] | None:
        """The user's own member event in a room with no timeline here (kept with
        what they are shown of it, ``Persister.persist_out_of_band``)."""
        if self.storage.short.room(room.room_id) is not None:
            return None
        mine = own_member_event(room.stripped_state or [], user)
        pdu = self.storage.timeline.get(str(mine["event_id"])) if mine is not None else None
        return (room.count, pdu) if pdu is not None else None

    def inviter(self, room: UserRoom, user: str) -> str | None:
        """Who sent the user's current invite (or knock answer) in ``room``."""
        for event in room.stripped_state or []:
            if (
                isinstance(event, dict)
                and event.get("type") == EventType.MEMBER
                and event.get("state_key") == user
            ):
                sender = event.get("sender")
                return sender if isinstance(sender, str) else None
        state = self.storage.state
        member = state.pdu_at(state.current_hash(room.room_id), EventType.MEMBER, user)
        return str(member.get("sender")) if member is not None else None

    def removed(self, room: UserRoom, user: str) -> bool:
        """Whether the user was banned or kicked from ``room`` (their membership event
        is not their own leave)."""
        if room.membership == MembershipState.BAN:
            return True
        state = self.storage.state
        member = state.pdu_at(state.current_hash(room.room_id), EventType.MEMBER, user)
        return member is not None and member.get("sender") != user

    def invited(self, room: UserRoom, user: str) -> dict[str, Any]:
        return {"invite_state": {"events": self.stripped_with_member(room, user)}}

    def knocked(self, room: UserRoom, user: str) -> dict[str, Any]:
        return {"knock_state": {"events": self.stripped_with_member(room, user)}}

    def stripped_with_member(self, room: UserRoom, user: str) -> list[dict[str, Any]]:
        events = [e for e in (room.stripped_state or []) if isinstance(e, dict)]
        if not any(e.get("type") == "m.room.member" and e.get("state_key") == user for e in events):
            state = self.storage.state
            member = state.pdu_at(state.current_hash(room.room_id), "m.room.member", user)
            if member is not None:
                events.append(stripped_state(member))
        return events

    def _ephemeral(self, room_id: str, window: Window) -> list[dict[str, Any]]:
        since = window.since or 0
        events: list[dict[str, Any]] = []
        if window.since is None or self.typing.last_change(room_id) > since:
            users = self.typing.typing_users(room_id)
            if users or window.since is not None:
                events.append({"type": "m.typing", "content": {"user_ids": users}})
        receipts = self.receipts.since(room_id, since, window.now, str(window.user))
        if receipts:
            events.append({"type": "m.receipt", "content": receipts})
        return [e for e in events if window.filter.wants(window.filter.ephemeral, e)]

    def _room_account_data(self, room_id: str, window: Window) -> list[dict[str, Any]]:
        events = self.account_data.since(str(window.user), window.since or 0, room_id)
        return [
            e
            for e in latest_by_type(events, window.since is not None)
            if window.filter.wants(window.filter.room_account_data, e)
        ]

    def summary(self, room_id: str, user: str) -> dict[str, Any]:
        members = self.storage.member_index
        return {
            "m.heroes": heroes(members, room_id, user),
            "m.joined_member_count": members.count(room_id, "join"),
            "m.invited_member_count": members.count(room_id, "invite"),
        }


def heroes(members: MemberIndex, room_id: str, user: str) -> list[str]:
    """The room summary's ``m.heroes``: up to ``MAX_HEROES`` joined or invited members
    other than ``user``, by user ID."""
    out: list[str] = []
    for membership in ("join", "invite"):
        for member in members.members(room_id, membership):
            if member != user and len(out) < MAX_HEROES:
                out.append(member)
    return sorted(out)


def latest_by_type(
    changes: Iterable[tuple[int, dict[str, Any]]], incremental: bool
) -> list[dict[str, Any]]:
    """The newest account data event of each type among ``changes`` (in stream order).
    A deletion (MSC3391: content {}) reaches clients that saw the data: an incremental
    sync carries it, an initial one leaves the type out."""
    latest: dict[str, dict[str, Any]] = {}
    for _, event in changes:
        latest[event["type"]] = event
    return [e for e in latest.values() if e.get("content") or incremental]


def _unread(counts: RoomCounts, per_thread: bool) -> dict[str, Any]:
    """``unread_notifications`` of a joined room, and ``unread_thread_notifications``
    when the timeline filter asks for them; then the room's counts are the main
    timeline's only (sync.yaml), and threads without notifications are left out."""
    if not per_thread:
        return {"unread_notifications": counts.total.to_json()}
    out: dict[str, Any] = {"unread_notifications": counts.main.to_json()}
    threads = {root: c.to_json() for root, c in counts.threads.items() if c.notifications}
    if threads:
        out["unread_thread_notifications"] = threads
    return out


def _touches_members(
    timeline: Iterable[tuple[int, PduJson]], state: Iterable[dict[str, Any]]
) -> bool:
    return any(p.get("type") == "m.room.member" for _, p in timeline) or any(
        e.get("type") == "m.room.member" for e in state
    )
