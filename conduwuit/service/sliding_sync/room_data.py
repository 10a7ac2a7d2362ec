"""One room of a sliding sync response (MSC4186 "rooms"), built from what the
connection already sent of it.

The timeline, its events in client format, the state at a position, the stripped
state of invites and the unread counts are the ones /sync uses (``RoomSections``,
the push evaluator's counts), so both syncs agree. Field shapes follow Synapse
(``SlidingSyncRestServlet.encode_rooms``): ``name``, ``avatar``, ``heroes``,
``joined_count`` and ``invited_count`` come when the room is sent for the first time
or they changed; ``bump_stamp`` when it changed; ``initial`` and ``is_dm`` only when
true; ``invite_state`` instead of timeline and state for invites and knocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conduwuit.core.event_filter import RoomEventFilter
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import UserId
from conduwuit.core.membership import MembershipState
from conduwuit.service.give_way import GiveWay
from conduwuit.service.rooms.history import Access
from conduwuit.service.rooms.member_index import UserRoom
from conduwuit.service.rooms.timeline import PduJson
from conduwuit.service.sliding_sync.connections import MAX_LAZY_MEMBERS, SentRoom
from conduwuit.service.sliding_sync.patterns import LAZY, ME, WILDCARD
from conduwuit.service.sync.filter import SyncFilter
from conduwuit.service.sync.rooms import RoomSections, Window

if TYPE_CHECKING:  # the request types load with the api's first request
    from conduwuit.service.sliding_sync.config import RoomConfig

#: Memberships whose rooms come down as stripped state (``invite_state``).
STRIPPED = (MembershipState.INVITE, MembershipState.KNOCK)


@dataclass(frozen=True)
class RoomRequest:
    """One room to answer for: the user's membership, its list config, what the
    connection has of it, and the stream positions of the request."""

    room: UserRoom
    config: RoomConfig
    sent: SentRoom | None
    bump_stamp: int
    is_dm: bool
    #: The stream position of the request's ``pos`` (None: a new connection).
    since: int | None
    now: int


@dataclass(frozen=True)
class RoomResult:
    body: dict[str, Any] | None
    sent: SentRoom


class SlidingRooms:
    def __init__(self, sections: RoomSections) -> None:
        self.sections = sections
        self.storage = sections.storage

    async def build(
        self, user: UserId, device_id: str, req: RoomRequest, pause: GiveWay
    ) -> RoomResult:
        room, sent = req.room, req.sent
        if room.membership in STRIPPED:
            # An invite or knock comes again when it is new (a re-invite too).
            fresh = sent is None or sent.membership != room.membership or room.count > sent.since
            return self._stripped(user, req, fresh)
        # A room the client had only the stripped state of (invited, now joined)
        # starts over, with its timeline and state (as Synapse).
        initial = sent is None or sent.membership in STRIPPED
        return await self._with_timeline(user, device_id, req, initial, pause)

    def _stripped(self, user: UserId, req: RoomRequest, fresh: bool) -> RoomResult:
        room = req.room
        sent = SentRoom(req.now, room.membership, req.config.required_state, req.bump_stamp)
        if not fresh:
            return RoomResult(None, sent)
        body: dict[str, Any] = {
            "initial": True,
            "invite_state": self.sections.stripped_with_member(room, str(user)),
            "bump_stamp": req.bump_stamp,
            "notification_count": 0,
            "highlight_count": 0,
        }
        if req.is_dm:
            body["is_dm"] = True
        return RoomResult(body, sent)

    async def _with_timeline(
        self, user: UserId, device_id: str, req: RoomRequest, initial: bool, pause: GiveWay
    ) -> RoomResult:
        room, config, sent = req.room, req.config, req.sent
        joined = room.membership == MembershipState.JOIN
        # A room the user left or was banned from ends at the membership event.
        upper = req.now if joined else min(room.count, req.now)
        lower = None if initial or sent is None else sent.since
        window = Window(
            user,
            device_id,
            lower,
            upper,
            False,
            SyncFilter(timeline=RoomEventFilter(limit=config.timeline_limit)),
        )
        ignored = self.sections.history.ignored_by(str(user))
        access = (
            Access("join", True, None, ignored)
            if joined
            else Access(room.membership, False, room.count, ignored)
        )
        # A larger timeline_limit than the room was sent with (a room opened from the
        # list) sends the room's latest events again, marked
        # ``unstable_expanded_timeline`` (Synapse's behaviour, which matrix-rust-sdk
        # follows).
        expanded = sent is not None and not initial and config.timeline_limit > sent.timeline_limit
        timeline, limited = await self.sections.timeline_between(
            room.room_id, window, access, None if expanded else lower, upper, pause
        )
        if config.timeline_limit == 0 and lower is None:
            limited = self._has_events_after(room.room_id, -1, upper)
        counts = self.sections.notifications.room_counts(str(user), room.room_id)
        new_keys = config.required_state - (sent.required_state if sent else frozenset())
        bump_changed = sent is None or sent.bump_stamp != req.bump_stamp
        counts_changed = lower is not None and lower < counts.changed <= req.now
        events = lower is not None and self._has_events_after(room.room_id, lower, upper)
        if sent is not None and not (
            initial or expanded or timeline or events or new_keys or counts_changed or bump_changed
        ):
            # Nothing new: the room's state is not even read.
            return RoomResult(None, sent)
        full = dict(self._state(room, upper))
        changed = await self._changed_state(room.room_id, lower if events else None, full, pause)
        lazy_before = frozenset() if initial or sent is None else sent.lazy_members
        lazy = _lazy_users(timeline) - lazy_before
        if not initial and not limited:
            # Clients that hold the member list keep it up to date from every
            # membership change of an unlimited incremental timeline (as Synapse).
            lazy |= {key for (kind, key) in changed if kind == EventType.MEMBER}
        chosen = _chosen_state(
            full,
            self.storage.short.statekey_of,
            config,
            str(user),
            lazy,
            only=None if initial else changed | self._keys_matching(full, new_keys, str(user)),
        )
        body: dict[str, Any] = {}
        if initial:
            body["initial"] = True
        if expanded:
            body["unstable_expanded_timeline"] = True
        body["required_state"] = await self._client_events(chosen, window, access, pause)
        body["timeline"] = await self.sections.client_events(timeline, window, access, pause)
        body["limited"] = limited
        body["prev_batch"] = (
            self.storage.timeline.token_before(timeline[0]) if timeline else str(upper)
        )
        body["num_live"] = (
            0 if req.since is None else sum(1 for count, _ in timeline if count > req.since)
        )
        if bump_changed:
            body["bump_stamp"] = req.bump_stamp
        self._metadata(body, room, full, changed, initial, str(user))
        body["notification_count"] = counts.total.notifications
        body["highlight_count"] = counts.total.highlights
        if req.is_dm:
            body["is_dm"] = True
        lazy_sent = lazy_before | lazy
        if len(lazy_sent) > MAX_LAZY_MEMBERS:
            lazy_sent = frozenset(lazy)
        return RoomResult(
            body,
            SentRoom(
                upper,
                room.membership,
                config.required_state,
                req.bump_stamp,
                lazy_sent,
                config.timeline_limit,
            ),
        )

    # -- state -----------------------------------------------------------------------
    def _state(self, room: UserRoom, upper: int) -> Mapping[int, int]:
        if room.membership == MembershipState.JOIN:
            state = self.storage.state
            return state.store.full(state.current_hash(room.room_id))
        return self.sections.state_at(room.room_id, upper)

    def _keys_matching(
        self, full: Mapping[int, int], patterns: frozenset[tuple[str, str]], user: str
    ) -> set[tuple[str, str]]:
        """The state keys of ``full`` that ``patterns`` (newly requested) ask for."""
        if not patterns:
            return set()
        keys = {self.storage.short.statekey_of(sk) for sk in full}
        return {k for k in keys if any(_pattern_matches(p, k, user, frozenset()) for p in patterns)}

    async def _changed_state(
        self, room_id: str, lower: int | None, full: dict[int, int], pause: GiveWay
    ) -> set[tuple[str, str]]:
        """The state keys whose event changed between ``lower`` and ``full`` (none
        without ``lower``: the caller passes it only when events came after it)."""
        if lower is None:
            return set()
        await pause.pause()
        before = self.sections.state_at(room_id, lower)
        statekey_of = self.storage.short.statekey_of
        keys = {sk for sk, se in full.items() if before.get(sk) != se}
        keys |= {sk for sk in before if sk not in full}
        return {statekey_of(sk) for sk in keys}

    def _has_events_after(self, room_id: str, lower: int, upper: int) -> bool:
        shortroomid = self.storage.short.room(room_id)
        if shortroomid is None:
            return False
        newest = next(iter(self.storage.timeline.scan(shortroomid, upper + 1, True)), None)
        return newest is not None and newest[0] > lower

    async def _client_events(
        self, short_events: Iterable[int], window: Window, access: Access, pause: GiveWay
    ) -> list[dict[str, Any]]:
        out = []
        for se in short_events:
            await pause.pause()
            event_id = self.storage.short.event_id(se)
            pdu = self.storage.timeline.get(event_id) if event_id else None
            if pdu is not None:
                out.append(self.sections.client_event(pdu, window, access))
        return out

    def _pdu(self, full: Mapping[int, int], event_type: str, state_key: str) -> PduJson | None:
        sk = self.storage.short.statekey(event_type, state_key)
        se = full.get(sk) if sk is not None else None
        event_id = self.storage.short.event_id(se) if se is not None else None
        return self.storage.timeline.get(event_id) if event_id else None

    def _metadata(
        self,
        body: dict[str, Any],
        room: UserRoom,
        full: Mapping[int, int],
        changed: set[tuple[str, str]],
        initial: bool,
        user: str,
    ) -> None:
        """``name``, ``avatar``, ``heroes`` and the member counts, when first sent or changed."""
        name_pdu = self._pdu(full, EventType.NAME, "")
        name = (name_pdu or {}).get("content", {}).get("name")
        if (initial or (EventType.NAME, "") in changed) and isinstance(name, str) and name:
            body["name"] = name
        if initial or (EventType.AVATAR, "") in changed:
            avatar = (self._pdu(full, EventType.AVATAR, "") or {}).get("content", {}).get("url")
            if isinstance(avatar, str):
                body["avatar"] = avatar
        members_changed = any(kind == EventType.MEMBER for kind, _ in changed)
        if not (initial or members_changed) or room.membership != MembershipState.JOIN:
            return
        summary = self.sections.summary(room.room_id, user)
        body["joined_count"] = summary["m.joined_member_count"]
        body["invited_count"] = summary["m.invited_member_count"]
        if isinstance(name, str) and name:
            return
        heroes = []
        for hero in summary["m.heroes"]:
            content = (self._pdu(full, EventType.MEMBER, hero) or {}).get("content", {})
            entry = {"user_id": hero}
            for field, key in (("displayname", "displayname"), ("avatar_url", "avatar_url")):
                if isinstance(content.get(key), str):
                    entry[field] = content[key]
            heroes.append(entry)
        if heroes:
            body["heroes"] = heroes


def _lazy_users(timeline: Iterable[tuple[int, PduJson]]) -> frozenset[str]:
    """Everyone the client needs the membership of to show the timeline: senders and
    the targets of membership events (Synapse's ``$LAZY``)."""
    users = set()
    for _, pdu in timeline:
        users.add(str(pdu.get("sender")))
        if pdu.get("type") == EventType.MEMBER and isinstance(pdu.get("state_key"), str):
            users.add(str(pdu["state_key"]))
    return frozenset(users)


def _pattern_matches(
    pattern: tuple[str, str], key: tuple[str, str], user: str, lazy: frozenset[str] | set[str]
) -> bool:
    want_type, want_key = pattern
    event_type, state_key = key
    if want_type != WILDCARD and want_type != event_type:
        return False
    if want_key == WILDCARD:
        return True
    if want_key == LAZY:
        return event_type == EventType.MEMBER and state_key in lazy
    return state_key == (user if want_key == ME else want_key)


def _chosen_state(
    full: Mapping[int, int],
    statekey_of: Any,
    config: RoomConfig,
    user: str,
    lazy: frozenset[str] | set[str],
    only: set[tuple[str, str]] | None,
) -> list[int]:
    """Short event ids of the state ``required_state`` asks for (restricted to the
    keys in ``only`` for an incremental response), in state-key order."""
    patterns = config.required_state
    if not patterns:
        return []
    out = []
    for sk, se in full.items():
        key = statekey_of(sk)
        if (
            only is not None
            and key not in only
            and not (key[0] == EventType.MEMBER and key[1] in lazy)
        ):
            continue
        if any(_pattern_matches(p, key, user, lazy) for p in patterns):
            out.append((key, se))
    out.sort()
    return [se for _, se in out]
