"""Which local users an event notifies, and how: push rules over a persisted event.

For every local joined member except the sender (plus a local invitee of an
invite, as Synapse's bulk evaluator does, so ``.m.rule.invite_for_me`` can fire)
this gives the actions of the first matching rule of that user's push rules.
What is per event is computed once: the room context (joined member count, the
sender's power level and ``notifications`` levels from the power levels in the
state before the event, as Synapse reads them) and the flattened event; users
with default rules share one compiled ruleset, narrowed once for the event.

With MSC4306's rules on (``subscriptions`` given), an event in a thread carries a
lookup of each recipient's subscription to that thread (one point read per user
whose rules reach the thread condition); other events carry none and skip it.

It runs inside each event's write batch (``Notifications.stage_event``), so the
member index and state it reads are those before the event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conduwuit.core.power_levels import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels, to_int
from conduwuit.core.push import Actions, PushEvent, RoomContext
from conduwuit.service.push.rules import PushRules
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.state import RoomState
from conduwuit.service.rooms.thread_subscriptions import ThreadSubscriptions, thread_root_of


class PushEvaluator:
    def __init__(
        self,
        server_name: str,
        members: MemberIndex,
        state: RoomState,
        rules: PushRules,
        subscriptions: ThreadSubscriptions | None = None,
    ) -> None:
        self._server_name = server_name
        self._members = members
        self._state = state
        self._rules = rules
        self._subscriptions = subscriptions

    def recipients(self, pdu: Mapping[str, Any], event_id: str) -> list[str]:
        """The local users whose rules are checked for this event."""
        sender = pdu.get("sender")
        room_id = str(pdu.get("room_id", ""))
        users = [u for u in self._members.members(room_id) if u != sender and self._is_local(u)]
        if pdu.get("type") == "m.room.member" and pdu.get("content", {}).get("membership") == (
            "invite"
        ):
            invitee = pdu.get("state_key")
            if isinstance(invitee, str) and invitee != sender and self._is_local(invitee):
                if invitee not in users:
                    users.append(invitee)
        return users

    def _is_local(self, user_id: str) -> bool:
        return user_id.partition(":")[2] == self._server_name

    def room_context(
        self, pdu: Mapping[str, Any], event_id: str, snapshot: int | None = None
    ) -> tuple[RoomContext, int]:
        """The room as conditions see it, and the state snapshot it was read from
        (``snapshot``, the state before the event, when the caller knows it: an event
        being persisted has no stored state-before yet)."""
        room_id = str(pdu.get("room_id", ""))
        if not snapshot:
            snapshot = self._state.hash_before(event_id) or self._state.current_hash(room_id)
        rv = self._state.room_version(room_id)
        sender_power, levels = 0, {}
        if rv is not None:
            auth_state = self._state.auth_state(snapshot, (CREATE_KEY, POWER_LEVELS_KEY), rv)
            power = PowerLevels(auth_state, rv)
            sender_power = power.user_level(str(pdu.get("sender", "")))
            pl_event = auth_state.get(POWER_LEVELS_KEY)
            notifications = pl_event.content.get("notifications") if pl_event else None
            if isinstance(notifications, dict):
                for key, value in notifications.items():
                    level = to_int(value, rv)
                    if level is not None:
                        levels[key] = level
        room = RoomContext(self._members.count(room_id), sender_power, levels)
        return room, snapshot

    def evaluate(
        self,
        pdu: Mapping[str, Any],
        event_id: str,
        snapshot: int | None = None,
        thread: str | None = None,
    ) -> dict[str, Actions]:
        """``user -> actions`` for each recipient whose rules matched (no entry: no rule
        matched, so no notification; ``actions.notify`` says whether a matched rule
        notifies and ``actions.highlight`` whether it highlights). ``thread``: the
        event's thread root as ``Notifications.thread_of`` finds it (``""``: the main
        timeline), as Synapse's thread ID (a reaction to a thread reply is in the
        thread); None: only a direct ``m.thread`` relation counts."""
        room, snapshot = self.room_context(pdu, event_id, snapshot)
        if thread is None:
            thread = thread_root_of(pdu)
        event = PushEvent({**pdu, "event_id": event_id}, room, self._thread_lookup(pdu, thread))
        out: dict[str, Actions] = {}
        for user_id in self.recipients(pdu, event_id):
            ruleset = self._rules.compiled(user_id)
            name = self._display_name(snapshot, user_id) if ruleset.uses_display_name else None
            found = event.prepare(ruleset).for_user(user_id, name)
            if found is not None:
                out[user_id] = found
        return out

    def _thread_lookup(
        self, pdu: Mapping[str, Any], root: str | None
    ) -> Callable[[str], bool] | None:
        """For an event in a thread, with MSC4306's rules on: is a user subscribed?"""
        subscriptions = self._subscriptions
        if subscriptions is None or not root:
            return None
        room_id = str(pdu.get("room_id", ""))
        return lambda user_id: subscriptions.is_subscribed(user_id, room_id, root)

    def _display_name(self, snapshot: int, user_id: str) -> str | None:
        content = self._state.content_at(snapshot, "m.room.member", user_id)
        name = content.get("displayname") if isinstance(content, dict) else None
        return name if isinstance(name, str) else None
