"""Sliding sync extensions (MSC3885 to_device, MSC3884 e2ee, MSC3959 account_data,
MSC3960 receipts, MSC3961 typing, MSC4308 thread subscriptions), in the shapes
Synapse gives them.

Each reads the same sources as /sync. The per-room ones answer for the rooms in
their scope: those of the named lists' ranges and the named room subscriptions
(``None``: all of them). A room the connection had not sent before gets its current
receipts, typing and account data; the others what changed since ``pos``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conduwuit.service.account_data import AccountData
from conduwuit.service.e2ee.sync_reader import E2eeSyncReader
from conduwuit.service.rooms.receipts import Receipts
from conduwuit.service.rooms.thread_subscriptions import ThreadSubscriptions, changes_json
from conduwuit.service.rooms.typing import Typing
from conduwuit.service.sync.rooms import latest_by_type

if TYPE_CHECKING:  # the request types load with the api's first request
    from conduwuit.service.sliding_sync.config import Extensions, Scope


@dataclass(frozen=True)
class ExtensionRooms:
    """The rooms each list and subscription covers in this response."""

    lists: dict[str, list[str]]
    subscriptions: list[str]
    #: Rooms the connection had never sent before this response.
    new: frozenset[str]

    def scoped(self, scope: Scope) -> list[str]:
        names = self.lists.keys() if scope.lists is None else scope.lists
        rooms: dict[str, None] = {}
        for name in names:
            rooms.update(dict.fromkeys(self.lists.get(name, ())))
        subscribed = self.subscriptions
        if scope.rooms is not None:
            subscribed = [r for r in scope.rooms if r in self.subscriptions]
        rooms.update(dict.fromkeys(subscribed))
        return list(rooms)


THREAD_SUBSCRIPTIONS = "io.element.msc4308.thread_subscriptions"


class SlidingExtensions:
    def __init__(
        self,
        e2ee: E2eeSyncReader,
        account_data: AccountData,
        receipts: Receipts,
        typing: Typing,
        global_account_data: Callable[[str, int | None], list[dict[str, Any]]],
        thread_subscriptions: ThreadSubscriptions,
    ) -> None:
        self.e2ee = e2ee
        self.account_data = account_data
        self.receipts = receipts
        self.typing = typing
        self.global_account_data = global_account_data
        self.thread_subscriptions = thread_subscriptions

    def build(
        self,
        user: str,
        device_id: str,
        config: Extensions,
        rooms: ExtensionRooms,
        since: int | None,
        now: int,
    ) -> tuple[dict[str, Any], bool]:
        """The ``extensions`` object, and whether it has news (for the long-poll)."""
        out: dict[str, Any] = {}
        news = False
        if config.to_device.enabled:
            to_device = config.to_device
            out["to_device"] = self._to_device(
                user, device_id, to_device.since, to_device.limit, now
            )
            news |= bool(out["to_device"]["events"])
        if config.e2ee:
            out["e2ee"], changed = self._e2ee(user, device_id, since, now)
            news |= changed
        if config.account_data.enabled:
            scoped = rooms.scoped(config.account_data)
            out["account_data"] = self._account_data(user, scoped, rooms.new, since)
            news |= bool(out["account_data"]["global"] or out["account_data"]["rooms"])
        if config.receipts.enabled:
            scoped = rooms.scoped(config.receipts)
            out["receipts"] = self._receipts(user, scoped, rooms.new, since, now)
            news |= bool(out["receipts"]["rooms"])
        if config.typing.enabled:
            out["typing"] = self._typing(rooms.scoped(config.typing), rooms.new, since)
            news |= bool(out["typing"]["rooms"])
        threads = config.thread_subscriptions
        if threads.enabled:
            changes = self.thread_subscriptions.changes(user, since or 0, now, threads.limit)
            if changes:
                # Left out when empty, as Synapse does.
                out[THREAD_SUBSCRIPTIONS] = changes_json(changes, threads.limit, "prev_batch")
                news = True
        return out, news

    def _to_device(
        self, user: str, device_id: str, since: int | None, limit: int, now: int
    ) -> dict[str, Any]:
        """Messages after the extension's own ``since`` (its last ``next_batch``), which
        acknowledges (deletes) the ones up to it; at most ``limit``, ``next_batch`` at
        the last one sent when more may wait."""
        if since is not None:
            self.e2ee.acknowledge_to_device(user, device_id, since)
        batch = self.e2ee.to_device_events(user, device_id, since or 0, now, limit)
        full = len(batch.events) >= limit
        next_batch = batch.last_position if full else max(now, since or 0)
        return {"next_batch": str(next_batch), "events": batch.events}

    def _e2ee(
        self, user: str, device_id: str, since: int | None, now: int
    ) -> tuple[dict[str, Any], bool]:
        out: dict[str, Any] = {
            "device_one_time_keys_count": self.e2ee.one_time_key_counts(user, device_id),
            "device_unused_fallback_key_types": self.e2ee.unused_fallback_key_types(
                user, device_id
            ),
        }
        if since is None:
            return out, False
        lists = self.e2ee.device_list_changes(user, since, now)
        out["device_lists"] = lists.to_json()
        changed = bool(lists.changed or lists.left) or self.e2ee.one_time_keys_changed(user, since)
        return out, changed

    def _account_data(
        self, user: str, rooms: list[str], new: Collection[str], since: int | None
    ) -> dict[str, Any]:
        per_room = {}
        for room_id in rooms:
            room_since = None if since is None or room_id in new else since
            changes = self.account_data.since(user, room_since or 0, room_id)
            events = latest_by_type(changes, room_since is not None)
            if events:
                per_room[room_id] = events
        return {"global": self.global_account_data(user, since), "rooms": per_room}

    def _receipts(
        self, user: str, rooms: list[str], new: Collection[str], since: int | None, now: int
    ) -> dict[str, Any]:
        out = {}
        for room_id in rooms:
            room_since = 0 if since is None or room_id in new else since
            content = self.receipts.since(room_id, room_since, now, user)
            if content:
                out[room_id] = {"type": "m.receipt", "content": content}
        return {"rooms": out}

    def _typing(self, rooms: list[str], new: Collection[str], since: int | None) -> dict[str, Any]:
        out = {}
        for room_id in rooms:
            initial = since is None or room_id in new
            if not initial and self.typing.last_change(room_id) <= (since or 0):
                continue
            users = self.typing.typing_users(room_id)
            if users or not initial:
                out[room_id] = {"type": "m.typing", "content": {"user_ids": users}}
        return {"rooms": out}
