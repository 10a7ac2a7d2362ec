"""Device-list tracking: who must hear that a user's devices or keys changed.

Spec: "Tracking the device list for a user" and the ``device_lists`` extension to
/sync. A change is fanned out when it is written: one ``keychangeid_userid`` entry
per local user who must hear of it, keyed by that observer and the stream count,
so a /sync or /keys/changes reads one prefix from its since position, in
proportion to what changed and not to how many rooms the user is in.

Who must hear:
- the user's own devices, and every user who shares a joined room with them;
- on a join, the joiner and the room's members hear of each other ("changed":
  the spec's note on Bob having an out-of-date list of Alice's devices when they
  start sharing a room again);
- on a leave, users who no longer share any room hear "left" of each other.

Telling remote servers about a local user's change is the federation's job
(``m.device_list_update`` and ``m.signing_key_update`` EDUs), and
``RemoteDeviceListSink`` is the seam it plugs into: it gets what changed and the
servers sharing a room with the user, in the change's own batch. A remote user's
change (an EDU received) reaches the local users sharing a room with them through
the same ``stage_key_change``, and never goes out again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from conduwuit.core.ids import server_of
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import SEP, from_u64, key, prefix, prefix_end, u64
from conduwuit.service.e2ee.ports import RoomMembership, Wake, no_wake

CHANGED = b"c"
LEFT = b"l"


@dataclass(frozen=True)
class DeviceUpdate:
    """A device of a local user changed, or is announced to servers that just came
    to share a room: its identity keys (None: it has none, or ``deleted``), and
    ``renamed`` if the change is a new ``display_name``."""

    device_id: str
    keys: dict[str, Any] | None
    deleted: bool = False
    renamed: bool = False
    display_name: str | None = None


@dataclass(frozen=True)
class SigningKeyUpdate:
    """A local user's cross-signing keys changed (master and/or self-signing)."""

    keys: dict[str, dict[str, Any]]


RemoteUpdate = DeviceUpdate | SigningKeyUpdate


class RemoteDeviceListSink(Protocol):
    """Where the federation queues m.device_list_update and m.signing_key_update EDUs
    for the servers sharing a room with a local user (in the change's batch)."""

    def stage_outbound(
        self, b: Batch, user_id: str, update: RemoteUpdate, servers: set[str]
    ) -> None: ...


@dataclass(frozen=True)
class DeviceListChanges:
    """Users to refetch keys of (``changed``) and to stop tracking (``left``)."""

    changed: list[str]
    left: list[str]

    def __bool__(self) -> bool:
        return bool(self.changed or self.left)

    def to_json(self) -> dict[str, list[str]]:
        return {"changed": self.changed, "left": self.left}


class DeviceLists:
    def __init__(
        self,
        db: Database,
        server_name: str,
        membership: RoomMembership,
        *,
        wake: Wake = no_wake,
        remote: RemoteDeviceListSink | None = None,
    ) -> None:
        self._db = db
        self._server_name = server_name
        self._membership = membership
        self._wake = wake
        self._remote = remote
        self._changes = db.map(MAPS.keychangeid_userid)
        self._latest = db.map(MAPS.keychangeuserid_count)
        #: Told ``(batch, user ID)`` of each change of a user's devices or keys, local
        #: or remote, in its batch (the appservice sender's MSC3202 device lists).
        self.change_listeners: list[Callable[[Batch, str], None]] = []
        #: The servers of the rooms joined with partial state a local user is in (the
        #: federation's; a local user's updates go to them too while the room's
        #: members are not all known).
        self.partial_servers: Callable[[str], Iterable[str]] = lambda _user_id: ()
        #: Whether a room's joins are being found by its partial-state resync (they
        #: are no news: Synapse tells "changed" only for the updates that came
        #: meanwhile, see the federation's ``RemoteUserKeys``).
        self.resync_finding: Callable[[str], bool] = lambda _room_id: False

    def is_local(self, user_id: str) -> bool:
        return server_of(user_id) == self._server_name

    # -- writes --------------------------------------------------------------------
    def stage_key_change(
        self, b: Batch, user_id: str, updates: Iterable[RemoteUpdate] = ()
    ) -> set[str]:
        """Stage "``user_id``'s devices or keys changed" for everyone who must hear it:
        the local users sharing a room, and, for a local user's ``updates``, the other
        servers sharing one (through the remote sink).

        Returns the local users to wake once ``b`` is committed.
        """
        sharing = self._membership.users_sharing_rooms(user_id)
        observers = {u for u in sharing if self.is_local(u)}
        if self.is_local(user_id):
            observers.add(user_id)
        self._stage(b, observers, user_id, CHANGED, b.next_count())
        for listener in self.change_listeners:
            listener(b, user_id)
        if self._remote is not None and self.is_local(user_id):
            servers = {server_of(u) for u in sharing} | set(self.partial_servers(user_id))
            servers.discard(self._server_name)
            for update in updates if servers else ():
                self._remote.stage_outbound(b, user_id, update, servers)
        return observers

    def announce_to_room(
        self, user_id: str, room_id: str, devices: Callable[[str], list[DeviceUpdate]]
    ) -> None:
        """Tell the other servers of a room a local user just joined about the user's
        ``devices`` (the spec: on "joins a room which contains servers which are not
        already receiving updates"); the local users heard of the join already.

        The user's own devices hear "changed" of the user too, as with Synapse (whose
        join adds a device-list change of the joiner; Complement's
        TestDeviceListsUpdateOverFederation expects the joiner in their own list).
        """
        if self._remote is None or not self.is_local(user_id):
            return
        members = self._membership.room_members(room_id)
        servers = {server_of(u) for u in members} - {self._server_name}
        updates = devices(user_id) if servers else []
        if not updates:
            return
        with self._db.batch() as b:
            for update in updates:
                self._remote.stage_outbound(b, user_id, update, servers)
            self._stage(b, (user_id,), user_id, CHANGED, b.next_count())
        self._wake((user_id,))

    def set_remote(self, remote: RemoteDeviceListSink) -> None:
        """Plug in the federation (built after the e2ee services)."""
        self._remote = remote

    def room_members(self, room_id: str) -> set[str]:
        """Every user joined to ``room_id``."""
        return self._membership.room_members(room_id)

    def is_tracked(self, user_id: str) -> bool:
        """Whether a local user shares a room with ``user_id`` (a remote user whose
        device list we keep, as the spec's "tracking" says)."""
        return any(self.is_local(u) for u in self._membership.users_sharing_rooms(user_id))

    def stage_change_seen_by(self, b: Batch, observers: Iterable[str], user_id: str) -> set[str]:
        """Stage "``user_id`` changed" for these observers only.

        For changes only some users may see: a user-signing key's signature on
        another user's master key is visible to the signer alone (as Synapse's
        ``notify_user_signature_update`` does).
        """
        local = {u for u in observers if self.is_local(u)}
        self._stage(b, local, user_id, CHANGED, b.next_count())
        return local

    def _stage(self, b: Batch, observers: Iterable[str], user_id: str, kind: bytes, n: int) -> None:
        """One entry per observer; the pair's older entry goes, since only the newest
        entry of a user counts in a read (a read bounded by ``until`` below a newer
        change misses the older one, and the next read reports the newer)."""
        for observer in observers:
            pair = key(observer, user_id)
            old = self._latest.get(pair)
            if old is not None:
                b.delete(self._changes, key(observer, from_u64(old), user_id))
            b.put(self._changes, key(observer, n, user_id), kind)
            b.put(self._latest, pair, u64(n))

    def membership_changed(self, user_id: str, room_id: str, joined: bool) -> None:
        """Called by the rooms service after a join or leave of ``user_id`` is persisted.

        A join makes the joiner and the room's members "changed" for each other; a
        leave makes "left" the pairs that no longer share any room.
        """
        if joined and self.resync_finding(room_id):
            return
        members = self._membership.room_members(room_id) - {user_id}
        if joined:
            pairs = members
            kind = CHANGED
        else:
            still_sharing = self._membership.users_sharing_rooms(user_id)
            pairs = members - still_sharing
            kind = LEFT
        if not pairs:
            return
        woken: set[str] = set()
        with self._db.batch() as b:
            n = b.next_count()
            for other in pairs:
                if self.is_local(other):
                    self._stage(b, (other,), user_id, kind, n)
                    woken.add(other)
                if self.is_local(user_id):
                    self._stage(b, (user_id,), other, kind, n)
                    woken.add(user_id)
        self._wake(woken)

    def stage_forget_user(self, b: Batch, user_id: str) -> None:
        """Drop everything ``user_id`` was going to be told (account deactivation)."""
        p = prefix(user_id)
        end = prefix_end(p)
        assert end is not None
        b.delete_range(self._changes, p, end)
        b.delete_range(self._latest, p, end)

    # -- reads (for /sync and /keys/changes) ---------------------------------------------
    def changes(self, user_id: str, since: int, until: int | None = None) -> DeviceListChanges:
        """Who ``user_id`` must hear about for positions ``since < n <= until``.

        The newest entry for a user in the range wins: a user who left and then
        joined again is "changed", not "left".
        """
        p = prefix(user_id)
        start = p + key(since + 1)
        end = p + key(until + 1) if until is not None else prefix_end(p)
        latest: dict[str, bytes] = {}
        offset = len(p) + 8 + len(SEP)
        for k, kind in self._changes.iter_range(start, end):
            latest[k[offset:].decode()] = kind
        return DeviceListChanges(
            changed=sorted(u for u, kind in latest.items() if kind == CHANGED),
            left=sorted(u for u, kind in latest.items() if kind == LEFT),
        )

    def has_changes(self, user_id: str, since: int) -> bool:
        """Whether anything for ``user_id`` was recorded after ``since`` (cheap: one seek)."""
        p = prefix(user_id)
        for _ in self._changes.iter_range(p + key(since + 1), prefix_end(p)):
            return True
        return False
