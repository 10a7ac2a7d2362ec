"""What a user reads from a room: single events, the timeline in pages (/messages),
context around an event, state and members. History visibility is checked on
every event served (``core.visibility``); users who left read up to their leave,
as Synapse allows.

Pagination tokens are timeline positions (``core.timeline_pos``): token ``N`` sits
right after event ``N`` and the history inserted after it (a backwards token: right
before event ``N + 1``); ``N.S`` sits right after the sub-position ``(N, S)`` (``N.0``:
right after event ``N`` itself, before history inserted after it, whenever that
comes: the forward tokens handed out). Backwards from a token includes the event
before it; forwards starts after it.

A backwards page about to cross a gap in the timeline (``service.rooms.gaps``)
stops there; ``paginate`` has it filled from other servers (``backfill``) and reads
the page again, so the history of the gap comes in order, between the events around
it. A gap that cannot be filled now is crossed with what is here.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Container, Iterable
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core import visibility
from conduwuit.core.client_event import room_of, to_client
from conduwuit.core.errors import ErrCode, MatrixError, forbidden, invalid_param, not_found
from conduwuit.core.event_filter import RoomEventFilter
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.core.stream_token import StreamToken
from conduwuit.core.timeline_pos import TimelinePos, parse_token
from conduwuit.service.rooms.actions import RoomActions
from conduwuit.service.rooms.aggregations import Aggregations
from conduwuit.service.rooms.timeline import PduJson, pduid

MAX_LIMIT = 1000
# Events examined per page at most when a filter rejects most of them.
MAX_SCAN = 5000
#: Backfills one /messages request may wait for (each fetches up to 100 events, so a
#: page of MAX_LIMIT fits).
MAX_BACKFILL_ROUNDS = 10
#: Seconds after which a /messages request starts no further backfill (one takes at
#: most 30 s: federation's ``FILL_DEADLINE``).
BACKFILL_BUDGET_S = 45.0


@dataclass
class Page:
    """Events of one page, the token after the last examined event (None: the
    timeline ran out), and the pduid of the event whose gap the page stopped at."""

    found: list[tuple[TimelinePos, PduJson]] = field(default_factory=list)
    end: TimelinePos | None = None
    gap: bytes | None = None


class _Every:
    """Every gap (a page told to cross them all)."""

    def __contains__(self, _key: object) -> bool:
        return True


CROSS_ALL: Container[bytes] = _Every()


@dataclass(frozen=True)
class Access:
    """How much of a room a user may read: all (joined or world-readable), or up to
    the stream position of their leave/ban."""

    membership: str | None
    joined: bool
    until: int | None
    #: Senders whose non-state events the viewer does not get (``m.ignored_user_list``).
    ignored: frozenset[str] = frozenset()


class RoomHistory:
    def __init__(
        self,
        actions: RoomActions,
        is_erased: Callable[[str], bool] = lambda _: False,
        ignored_by: Callable[[str], frozenset[str]] = lambda _: frozenset(),
    ) -> None:
        self.actions = actions
        # The users a viewer ignores (their account data): "the client will no longer
        # receive events sent by that user, with the exception of state events".
        self.ignored_by = ignored_by
        # Whether a user asked for erasure when deactivating (their events are then
        # served redacted to viewers not joined when they were sent).
        self.is_erased = is_erased
        self.storage = actions.storage
        self.clock = actions.storage.clock
        self.aggregations = Aggregations(actions.storage)
        #: Fetches from other servers a room's history missing before the timeline
        #: event at a pduid, or before its oldest event (None) (federation's
        #: ``Backfill.fill``); whether the timeline changed there.
        self.backfill: Callable[[str, bytes | None], Awaitable[bool]] | None = None

    # -- access and visibility ---------------------------------------------------------
    def _visibility_now(self, room_id: str) -> str:
        state = self.storage.state
        content = state.content_at(state.current_hash(room_id), EventType.HISTORY_VISIBILITY)
        return visibility.effective_visibility((content or {}).get("history_visibility"))

    def access(self, user: UserId, room_id: RoomId | str) -> Access:
        """Synapse's ``check_user_in_room_or_world_readable``: joined users, users who
        left (up to their leave) and anyone in a world-readable room; else 403."""
        room = str(room_id)
        if self.storage.state.room_version(room) is None:
            # An unknown room is one the user is not in: 403, as in Synapse (which
            # does not tell rooms it does not know from rooms it will not show).
            raise forbidden(f"User {user} not in room {room}, and room previews are disabled")
        found = self.storage.member_index.get(str(user), room)
        membership = found.membership if found else None
        ignored = self.ignored_by(str(user))
        if membership == MembershipState.JOIN:
            return Access(membership, True, None, ignored)
        if (
            found is not None
            and membership in (MembershipState.LEAVE, MembershipState.BAN)
            # A forgotten room's history is no longer the user's to read (Synapse's
            # pagination refuses it; sytest "Forgotten room messages cannot be paginated").
            and not self.storage.member_index.is_forgotten(str(user), room)
        ):
            event_id = self.storage.state.event_id_at(
                self.storage.state.current_hash(room), EventType.MEMBER, str(user)
            )
            located = self.storage.timeline.get_timeline(event_id) if event_id else None
            if located is not None:
                return Access(membership, False, located[0], ignored)
        if self._visibility_now(room) == "world_readable":
            return Access(membership, False, None, ignored)
        raise forbidden(f"User {user} not in room {room}, and room previews are disabled")

    def _seen_at(self, user: UserId, pdu: PduJson) -> tuple[str, str | None, str]:
        """The visibility governing ``pdu``, the viewer's membership before it and at it."""
        state = self.storage.state
        before = state.hash_before(str(pdu["event_id"])) or 0
        vis_content = state.content_at(before, EventType.HISTORY_VISIBILITY) or {}
        vis = visibility.visibility_at(
            pdu, visibility.effective_visibility(vis_content.get("history_visibility"))
        )
        member = state.content_at(before, EventType.MEMBER, str(user)) or {}
        before_membership = member.get("membership")
        return vis, before_membership, visibility.membership_at(pdu, str(user), before_membership)

    def membership_on(self, user: UserId | str, pdu: PduJson) -> str:
        """``unsigned.membership`` (spec v1.11, MSC4115): the viewer's membership at the
        event; after it for their own member event (as Synapse); ``leave`` if none."""
        viewer = str(user)
        if pdu.get("type") == EventType.MEMBER and pdu.get("state_key") == viewer:
            after = (pdu.get("content") or {}).get("membership")
            return after if isinstance(after, str) else MembershipState.LEAVE
        state = self.storage.state
        before = state.hash_before(str(pdu["event_id"])) or 0
        member = state.content_at(before, EventType.MEMBER, viewer) or {}
        membership = member.get("membership")
        return membership if isinstance(membership, str) else MembershipState.LEAVE

    def view(self, user: UserId, pdu: PduJson, access: Access) -> PduJson | None:
        """What ``user`` may see of ``pdu``: nothing (history visibility, or a non-state
        event of a user the viewer ignores), a redacted copy (its sender was erased and
        the viewer was not joined at it), or the event.
        Every read of events (sync, /messages, /context, /event, relations, threads,
        search, bundled aggregations, initialSync) filters through here.
        """
        if access.ignored and "state_key" not in pdu and pdu.get("sender") in access.ignored:
            return None
        vis, before_membership, at = self._seen_at(user, pdu)
        if not visibility.own_leave_visible(
            pdu, str(user), before_membership
        ) and not visibility.may_see(vis, at, access.joined):
            return None
        if not self.is_erased(str(pdu.get("sender"))):
            return pdu
        room = room_of(pdu)
        room_version = self.storage.state.room_version(str(room))
        if room_version is None:
            return None
        return visibility.erased_form(pdu, at, room_version)

    def may_see(self, user: UserId, pdu: PduJson, access: Access) -> bool:
        return self.view(user, pdu, access) is not None

    def may_see_state_at(self, user: UserId, pdu: PduJson, access: Access) -> bool:
        """Whether the room's state right after ``pdu`` is readable (``/members?at=``)."""
        vis, before_membership, at = self._seen_at(user, pdu)
        if visibility.own_leave_visible(pdu, str(user), before_membership):
            return True
        return visibility.may_see_state(vis, at, access.joined)

    def _client(
        self, pdu: PduJson, device: tuple[str, str] | None, access: Access | None = None
    ) -> dict[str, Any]:
        """Client format, with aggregations bundled when the viewer's access is given."""
        now = self.clock()
        out = to_client(pdu, now, self.storage.transactions.transaction_id(pdu, device))
        if device is not None:
            out["unsigned"]["membership"] = self.membership_on(device[0], pdu)
        if access is not None and device is not None:
            user = UserId.parse(device[0])
            bundled = self.aggregations.bundle(
                pdu, device[0], access.until, now, lambda c: self.view(user, c, access)
            )
            if bundled:
                out["unsigned"]["m.relations"] = bundled
        return out

    # -- single events ---------------------------------------------------------------
    def event(
        self, user: UserId, room_id: RoomId, event_id: str, device_id: str | None = None
    ) -> dict[str, Any]:
        _, seen, access = self._visible(user, room_id, event_id)
        return self._client(seen, (str(user), device_id or ""), access)

    def visible_event(self, user: UserId, room_id: RoomId, event_id: str) -> tuple[int, PduJson]:
        """``(stream position, event as the user sees it)`` of an event of the room the
        user may see; 404 ``M_NOT_FOUND`` otherwise (as ``GET /event``)."""
        count, seen, _ = self._visible(user, room_id, event_id)
        return count, seen

    def _visible(self, user: UserId, room_id: RoomId, event_id: str) -> tuple[int, PduJson, Access]:
        try:
            access = self.access(user, room_id)
        except MatrixError as exc:
            if exc.errcode != ErrCode.FORBIDDEN:
                raise
            # Synapse filters the event like any other and answers 404 when it may not
            # be seen (sytest "/event/ on non world readable room does not work").
            raise not_found("Event not found") from None
        located = self.storage.timeline.get_timeline(event_id)
        if located is None or room_of(located[1]) != str(room_id):
            raise not_found("Event not found")
        count, pdu = located
        if access.until is not None and count > access.until:
            raise not_found("Event not found")
        seen = self.view(user, pdu, access)
        if seen is None:
            raise not_found("Event not found")
        return count, seen, access

    # -- the timeline ----------------------------------------------------------------
    def _page(
        self,
        user: UserId,
        room: str,
        access: Access,
        start: TimelinePos,
        backwards: bool,
        limit: int,
        event_filter: RoomEventFilter,
        stop: TimelinePos | None = None,
        crossed: Container[bytes] = CROSS_ALL,
    ) -> Page:
        """Up to ``limit`` visible, matching events from token ``start``. Backwards, a
        page that is not full stops at a gap not in ``crossed``."""
        timeline = self.storage.timeline
        shortroomid = self.storage.short.room(room)
        if shortroomid is None:
            return Page()
        until = TimelinePos(access.until) if access.until is not None else None
        if until is not None and start > until:
            start = until

        def gap_at(pos: TimelinePos) -> bytes | None:
            key = pduid(shortroomid, pos)
            return key if key not in crossed and timeline.gaps.is_gap(key) else None

        if backwards:
            # The token may sit in a gap: the event right above it follows one.
            above = next(iter(timeline.scan_at(shortroomid, start, False)), None)
            if above is not None and (until is None or above[0] <= until):
                gap = gap_at(above[0])
                if gap is not None:
                    return Page([], start, gap)
        found: list[tuple[TimelinePos, PduJson]] = []
        scanned = 0
        last: TimelinePos | None = None

        def end() -> TimelinePos:
            if last is None:
                return start
            # Forwards, right after the event itself ("N.0", see the module's notes).
            return last.before() if backwards else last

        for pos, pdu in timeline.scan_at(shortroomid, start, backwards):
            if stop is not None and (pos <= stop if backwards else pos > stop):
                return Page(found, stop)
            if until is not None and pos > until:
                return Page(found, until)
            scanned += 1
            last = pos
            seen = self.view(user, pdu, access) if event_filter.matches(pdu) else None
            if seen is not None and seen is not pdu and not event_filter.matches(seen):
                seen = None  # the filter matched content an erased copy does not have
            if seen is not None:
                found.append((pos, seen))
                if len(found) >= limit:
                    return Page(found, end())
            if backwards:
                gap = gap_at(pos)
                if gap is not None:
                    return Page(found, end(), gap)
            if scanned >= MAX_SCAN:
                return Page(found, end())
        return Page(found, None if backwards else end())

    def _lazy_members(self, room: str, pdus: Iterable[PduJson]) -> list[dict[str, Any]]:
        state = self.storage.state
        current = state.current_hash(room)
        out = []
        for sender in sorted({str(p.get("sender")) for p in pdus}):
            member = state.pdu_at(current, EventType.MEMBER, sender)
            if member is not None:
                out.append(to_client(member, self.clock()))
        return out

    def messages(self, user: UserId, room_id: RoomId, **kw: Any) -> dict[str, Any]:
        """A page of ``/messages`` (the keywords of ``_messages``), crossing gaps
        with what is here."""
        body, _ = self._messages(user, room_id, **kw)
        return body

    def _messages(
        self,
        user: UserId,
        room_id: RoomId,
        *,
        from_token: str | None = None,
        to_token: str | None = None,
        direction: str = "b",
        limit: int = 10,
        event_filter: RoomEventFilter | None = None,
        device_id: str | None = None,
        crossed: Container[bytes] = CROSS_ALL,
    ) -> tuple[dict[str, Any], bytes | None]:
        if direction not in ("b", "f"):
            raise invalid_param("dir must be 'b' or 'f'")
        room = str(room_id)
        access = self.access(user, room)
        event_filter = event_filter or RoomEventFilter()
        limit = max(1, min(limit, event_filter.limit or limit, MAX_LIMIT))
        backwards = direction == "b"
        if from_token is not None:
            start = parse_token(from_token)
        else:
            start = TimelinePos.after_count(self.storage.db.current_count() if backwards else 0)
        stop = parse_token(to_token) if to_token is not None else None
        page = self._page(user, room, access, start, backwards, limit, event_filter, stop, crossed)
        if page.gap is not None:
            return {}, page.gap
        device = (str(user), device_id or "")
        body: dict[str, Any] = {
            "chunk": [self._client(p, device, access) for _, p in page.found],
            "start": start.token(),
        }
        if page.end is not None and (page.found or not backwards):
            body["end"] = page.end.token()
        if event_filter.lazy_load_members:
            body["state"] = self._lazy_members(room, (p for _, p in page.found))
        return body, None

    async def paginate(self, user: UserId, room_id: RoomId, **kw: Any) -> dict[str, Any]:
        """``messages``, backfilling from other servers (client-server API: "the
        server may need to backfill") backwards across a gap in the timeline or past
        the oldest event here, then reading the page again, until it is full or there
        is nothing more to fetch (at most ``MAX_BACKFILL_ROUNDS`` fetches per
        request, none started after ``BACKFILL_BUDGET_S``). A gap that gave nothing
        is crossed with what is here."""
        room = str(room_id)
        if kw.get("direction", "b") != "b" or self.backfill is None:
            return self.messages(user, room_id, **kw)
        crossed: set[bytes] = set()
        deadline = time.monotonic() + BACKFILL_BUDGET_S
        for _ in range(MAX_BACKFILL_ROUNDS):
            if time.monotonic() > deadline:
                break
            body, gap = self._messages(user, room_id, crossed=crossed, **kw)
            if gap is not None:
                if not await self.backfill(room, gap):
                    crossed.add(gap)
                continue
            if "end" in body or not await self.backfill(room, None):
                return body
        return self.messages(user, room_id, **kw)

    def context(
        self,
        user: UserId,
        room_id: RoomId,
        event_id: str,
        limit: int = 10,
        event_filter: RoomEventFilter | None = None,
        device_id: str | None = None,
    ) -> dict[str, Any]:
        room = str(room_id)
        access = self.access(user, room)
        located = self.storage.timeline.get_timeline(event_id)
        position = self.storage.timeline.position(event_id)
        if located is None or position is None or room_of(located[1]) != room:
            raise not_found("Event not found")
        count, original = located
        seen = None
        if access.until is None or count <= access.until:
            seen = self.view(user, original, access)
        if seen is None:
            raise not_found("Event not found")
        pdu = seen
        event_filter = event_filter or RoomEventFilter()
        limit = max(0, min(limit, MAX_LIMIT))
        before_limit = limit // 2
        after_limit = limit - before_limit
        before: list[tuple[TimelinePos, PduJson]] = []
        after: list[tuple[TimelinePos, PduJson]] = []
        start = position.before()
        end = position
        if before_limit:
            page = self._page(user, room, access, start, True, before_limit, event_filter)
            before = page.found
            if page.end is not None:
                start = page.end
            elif before:
                start = before[-1][0].before()
        if after_limit:
            page = self._page(user, room, access, position, False, after_limit, event_filter)
            after = page.found
            if page.end is not None:
                end = page.end
        device = (str(user), device_id or "")
        last = after[-1][1] if after else pdu
        state_hash = self.storage.state.hash_before(str(last["event_id"])) or 0
        state_ids = self.storage.state.state_ids(state_hash)
        if "state_key" in last:
            state_ids[(str(last["type"]), str(last["state_key"]))] = str(last["event_id"])
        if event_filter.lazy_load_members:
            shown = [pdu, *(p for _, p in before), *(p for _, p in after)]
            senders = {str(p.get("sender")) for p in shown}
            state_ids = {
                k: v for k, v in state_ids.items() if k[0] != EventType.MEMBER or k[1] in senders
            }
        state = [self.storage.timeline.get(e) for e in state_ids.values()]
        return {
            "event": self._client(pdu, device, access),
            "events_before": [self._client(p, device, access) for _, p in before],
            "events_after": [self._client(p, device, access) for _, p in after],
            "start": start.token(),
            "end": end.token(),
            "state": [to_client(s, self.clock()) for s in state if s is not None],
        }

    # -- state and members -------------------------------------------------------------
    def state_ids_for(self, user: UserId, room_id: RoomId | str) -> dict[tuple[str, str], str]:
        """The state a user may read: current, or the state at their leave (inclusive)."""
        room = str(room_id)
        access = self.access(user, room)
        state = self.storage.state
        current = state.current_hash(room)
        if access.until is None:
            return state.state_ids(current)
        event_id = state.event_id_at(current, EventType.MEMBER, str(user))
        if event_id is None:
            return state.state_ids(current)
        ids = state.state_ids(state.hash_before(event_id) or 0)
        ids[(EventType.MEMBER, str(user))] = event_id
        return ids

    def state(self, user: UserId, room_id: RoomId) -> list[dict[str, Any]]:
        pdus = (self.storage.timeline.get(e) for e in self.state_ids_for(user, room_id).values())
        return [to_client(p, self.clock()) for p in pdus if p is not None]

    def state_event(
        self, user: UserId, room_id: RoomId, event_type: str, state_key: str
    ) -> PduJson:
        room = str(room_id)
        access = self.access(user, room)
        pdu = None
        if access.until is None:
            state = self.storage.state
            pdu = state.pdu_at(state.current_hash(room), event_type, state_key)
        else:
            event_id = self.state_ids_for(user, room).get((event_type, state_key))
            pdu = self.storage.timeline.get(event_id) if event_id else None
        if pdu is None:
            raise not_found("Event not found")
        return pdu

    async def full_state(self, room_id: RoomId) -> None:
        """Return once the room's full state is here (a partial-state join waits for
        its resync)."""
        await self.storage.partial.wait_full(str(room_id))

    def members(
        self,
        user: UserId,
        room_id: RoomId,
        at: str | None = None,
        membership: str | None = None,
        not_membership: str | None = None,
    ) -> list[dict[str, Any]]:
        if at is None:
            ids = self.state_ids_for(user, room_id)
        else:
            # `at`: the state after the last event at or before that stream position,
            # no later than the requester's leave, and only if they may read the state
            # there (Synapse's get_state_events: invitees too, unless history is for
            # joined members only), else 403.
            access = self._access_at(user, room_id)
            position = StreamToken.parse_pagination(at).position
            if access.until is not None:
                position = min(position, access.until)
            ids = {}
            shortroomid = self.storage.short.room(str(room_id)) or 0
            for _, last in self.storage.timeline.scan(shortroomid, position + 1, True):
                if not self.may_see_state_at(user, last, access):
                    raise forbidden(f"User {user} may not see the room's members at {at}")
                ids = self.storage.state.state_ids(
                    self.storage.state.hash_before(str(last["event_id"])) or 0
                )
                if "state_key" in last:
                    ids[(str(last["type"]), str(last["state_key"]))] = str(last["event_id"])
                break
        out = []
        for (event_type, _), event_id in sorted(ids.items()):
            if event_type != EventType.MEMBER:
                continue
            member = self.storage.timeline.get(event_id)
            if member is None:
                continue
            value = (member.get("content") or {}).get("membership")
            if membership is not None and value != membership:
                continue
            if not_membership is not None and value == not_membership:
                continue
            out.append(to_client(member, self.clock()))
        return out

    def _access_at(self, user: UserId, room_id: RoomId) -> Access:
        """``access``, except that an invitee passes: whether they may read the state at
        a point is then decided per event (``may_see_state_at``)."""
        room = str(room_id)
        if self.storage.state.room_version(room) is None:
            # An unknown room is one the user is not in: 403, as in Synapse (which
            # does not tell rooms it does not know from rooms it will not show).
            raise forbidden(f"User {user} not in room {room}, and room previews are disabled")
        found = self.storage.member_index.get(str(user), room)
        if found is not None and found.membership == MembershipState.INVITE:
            return Access("invite", False, None)
        return self.access(user, room)

    def joined_members(self, user: UserId, room_id: RoomId) -> dict[str, Any]:
        room = str(room_id)
        if not self.storage.member_index.is_joined(str(user), room):
            self.actions.room_version(room)
            raise forbidden("You aren't a member of the room")
        state = self.storage.state
        current = state.current_hash(room)
        joined: dict[str, Any] = {}
        for member in self.storage.member_index.members(room, MembershipState.JOIN):
            content = state.content_at(current, EventType.MEMBER, member) or {}
            joined[member] = {
                "display_name": content.get("displayname"),
                "avatar_url": content.get("avatar_url"),
            }
        return joined

    def joined_rooms(self, user: UserId) -> list[str]:
        return [
            r.room_id
            for r in self.storage.member_index.rooms_of(str(user), (MembershipState.JOIN,))
        ]
