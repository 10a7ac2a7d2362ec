"""Build rooms of fake events for auth-rule and state-resolution tests."""

from __future__ import annotations

import itertools
from typing import Any

from conduwuit.core.auth_rules import auth_types_for_event
from conduwuit.core.events import Event
from conduwuit.core.power_levels import StateKey
from conduwuit.core.room_versions import RoomVersion

CREATOR = "@creator:a"
_counter = itertools.count()


class Room:
    def __init__(
        self,
        rv: RoomVersion,
        creator: str = CREATOR,
        join_rule: str | None = "public",
        users: dict[str, int] | None = None,
        create_content: dict[str, Any] | None = None,
    ) -> None:
        self.rv = rv
        self.state: dict[StateKey, Event] = {}
        self.events: dict[str, Event] = {}
        self.ts = 0
        content: dict[str, Any] = {"room_version": rv.identifier}
        if not rv.implicit_room_creator:
            content["creator"] = creator
        content.update(create_content or {})
        self.room_id = "!create" if rv.room_id_from_create_event else "!room:a"
        self.create = self.send("m.room.create", "", creator, content, event_id="$create")
        self.send("m.room.member", creator, creator, {"membership": "join"})
        pl_users = {} if rv.privileged_creators else {creator: 100}
        pl_users.update(users or {})
        self.send("m.room.power_levels", "", creator, {"users": pl_users})
        if join_rule is not None:
            self.send("m.room.join_rules", "", creator, {"join_rule": join_rule})

    def make(
        self,
        type_: str,
        state_key: str | None,
        sender: str,
        content: dict[str, Any],
        *,
        event_id: str | None = None,
        prev: list[str] | None = None,
        auth_from: dict[StateKey, Event] | None = None,
        **extra: Any,
    ) -> Event:
        self.ts += 1
        event_id = event_id or f"$e{next(_counter)}:{sender.split(':', 1)[1]}"
        pdu: dict[str, Any] = {
            "type": type_,
            "sender": sender,
            "content": content,
            "origin_server_ts": self.ts,
            "depth": self.ts,
            "signatures": {sender.split(":", 1)[1]: {"ed25519:1": "sig"}},
            "hashes": {"sha256": "x"},
        }
        if not (self.rv.room_id_from_create_event and type_ == "m.room.create"):
            pdu["room_id"] = self.room_id
        if state_key is not None:
            pdu["state_key"] = state_key
        pdu.update(extra)
        state = self.state if auth_from is None else auth_from
        auth_ids = [state[k].event_id for k in auth_types_for_event(pdu, self.rv) if k in state]
        if type_ == "m.room.create":
            auth_ids = []
        if prev is None:
            prev = [] if type_ == "m.room.create" else [self.last]
        if self.rv.identifier in ("1", "2"):
            pdu["event_id"] = event_id
            pdu["prev_events"] = [[p, {"sha256": "x"}] for p in prev]
            pdu["auth_events"] = [[a, {"sha256": "x"}] for a in auth_ids]
        else:
            pdu["prev_events"] = prev
            pdu["auth_events"] = auth_ids
        return Event(pdu, self.rv, event_id=event_id)

    def send(self, *args: Any, **kwargs: Any) -> Event:
        """Make an event and apply it to the room's state (no auth check)."""
        event = self.make(*args, **kwargs)
        self.apply(event)
        return event

    def apply(self, event: Event) -> None:
        self.events[event.event_id] = event
        self.last = event.event_id
        if event.state_key is not None:
            self.state[(event.type, event.state_key)] = event

    def join(self, user: str) -> Event:
        return self.send("m.room.member", user, user, {"membership": "join"})

    def auth_state(self) -> dict[StateKey, Event]:
        return dict(self.state)
