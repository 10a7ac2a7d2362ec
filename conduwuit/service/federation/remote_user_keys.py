"""Other servers' users' devices and keys, for our clients (server-server API,
"Device Management" and "End-to-End Encryption").

``query`` and ``claim`` are what ``/keys/query`` and ``/keys/claim`` ask of other
servers: one request per server, all at once, each bounded by the client's
``timeout``; a server that fails or is too slow is reported in ``failures``
(``{"status", "message"}``, as Synapse does) and the others still answer.

**Cache.** The full device list of a remote user a local user shares a room with
(a "tracked" user) is kept in ``userid_remotedevicelist`` and answers queries
without asking again. It is kept fresh by the origin's ``m.device_list_update``
EDUs: an update whose ``prev_id`` is the cached ``stream_id`` is applied; one that
refers to an update we have not seen (a gap: missed EDUs, a restart) drops the
cache and resynchronises it with ``GET /user/devices/{userId}`` in the background.
A list first cached from ``/user/keys/query`` has no stream ID, so its first
update resynchronises it too. ``m.signing_key_update`` replaces the cached
cross-signing keys. Either way the local users sharing a room with the user hear
of it in ``/sync`` and ``/keys/changes`` (``device_lists.changed``). EDUs about
users nobody here tracks are ignored, and a cached list whose user is no longer
tracked is dropped at the leave that ends the tracking.

**Partial-state rooms.** While a room joined with partial state is not complete, we
cannot know all its members, so an update about a user nobody here is known to
share a room with is not dropped but noted (``userid_pendingdevicelist``, Synapse's
``device_lists_remote_pending``); when a room's resync ends, the noted users now
in it are told to our users as changed in ``/sync``, and the notes go once no
partial-state room is left. The members the resync finds are no news in themselves
(``DeviceLists.resync_finding``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from conduwuit.core.e2e_keys import stripped
from conduwuit.core.ids import server_of
from conduwuit.db import MAPS, Batch, Database
from conduwuit.service.e2ee.cross_signing import CrossSigning
from conduwuit.service.e2ee.device_lists import DeviceLists
from conduwuit.service.e2ee.ports import Wake
from conduwuit.service.federation.client import FederationClient, FederationError, RemoteError
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]

#: Device lists and keys can be long (many devices); bounded anyway.
MAX_KEYS_RESPONSE = 4 * 1024 * 1024
SIGNING_USAGES = ("master", "self_signing")
#: How long after a remote user's join an update about them, with no list cached
#: and none handed out, is taken as their server's announcement of the join.
JOIN_ANNOUNCEMENT_WINDOW_S = 30.0


def failure(exc: BaseException) -> JsonDict:
    """A ``failures`` entry: the remote's status when it answered, else 503 (504 for
    a timeout), as Synapse reports them."""
    if isinstance(exc, RemoteError):
        return {"status": exc.status, "message": str(exc)}
    if isinstance(exc, TimeoutError):
        return {"status": 504, "message": "Timed out waiting for the server"}
    return {"status": 503, "message": str(exc) or type(exc).__name__}


def _as_dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


class RemoteUserKeys:
    def __init__(
        self,
        db: Database,
        server_name: str,
        client: FederationClient,
        device_lists: DeviceLists,
        cross_signing: CrossSigning,
        wake: Wake,
    ) -> None:
        self._db = db
        self._server_name = server_name
        self._client = client
        self._lists = device_lists
        self._cross_signing = cross_signing
        self._wake = wake
        self._cache = db.map(MAPS.userid_remotedevicelist)
        self._pending = db.map(MAPS.userid_pendingdevicelist)
        #: Whether a room joined with partial state is still incomplete.
        self.partial_rooms_exist: Callable[[], bool] = lambda: False
        self._tasks = BackgroundTasks()
        self._resyncing: set[str] = set()
        #: Per remote user, how many of their EDUs arrived (in this process): an
        #: answer fetched while one arrived may predate it and is not cached.
        self._generation: dict[str, int] = {}
        #: Remote users who lately joined a room shared with local users (monotonic
        #: time of the join), until their keys are asked for.
        self._joined: OrderedDict[str, float] = OrderedDict()

    async def stop(self) -> None:
        await self._tasks.stop()

    # -- the cache ---------------------------------------------------------------------
    def cached(self, user_id: str) -> JsonDict | None:
        """The cached device list of a tracked user (dropped if no longer tracked)."""
        raw = self._cache.get(user_id.encode())
        if raw is None:
            return None
        if not self._lists.is_tracked(user_id):
            self._cache.delete(user_id.encode())
            return None
        value: JsonDict = json.loads(raw)
        return value

    def membership_changed(self, user_id: str, room_id: str, joined: bool) -> None:
        """A join listener: after a leave, the cached lists of remote users nobody
        here shares a room with any more are dropped (their servers stop sending
        updates, so the lists would go stale until a rejoin)."""
        if joined:
            # A member found by a partial-state resync did not just join: an update
            # about them is news (the resync's joins are not announced by anyone).
            if self._lists.resync_finding(room_id):
                return
            if server_of(user_id) != self._server_name and self._lists.is_tracked(user_id):
                self._joined[user_id] = time.monotonic()
                self._joined.move_to_end(user_id)
                self._forget_old_joins()
            return
        if server_of(user_id) != self._server_name:
            candidates = {user_id}
        else:
            members = self._lists.room_members(room_id)
            candidates = {u for u in members if server_of(u) != self._server_name}
        for candidate in candidates:
            if self._cache.get(candidate.encode()) is not None:
                self.cached(candidate)  # drops it if untracked

    def _forget_old_joins(self) -> None:
        horizon = time.monotonic() - JOIN_ANNOUNCEMENT_WINDOW_S
        while self._joined and next(iter(self._joined.values())) < horizon:
            self._joined.popitem(last=False)

    def _just_joined(self, user_id: str) -> bool:
        """Whether ``user_id`` joined a room shared with local users moments ago and
        nobody asked for their keys since: those users were told "changed" by the
        join and hold no list of theirs yet, so an update now (the joiner's server
        announcing their devices on the join) tells them nothing new."""
        self._forget_old_joins()
        return user_id in self._joined

    def master_key(self, user_id: str) -> JsonDict | None:
        """The cached master key of a tracked remote user (for signing it)."""
        entry = self.cached(user_id)
        master = entry.get("master") if entry is not None else None
        return master if isinstance(master, dict) else None

    def _store(self, user_id: str, entry: JsonDict, generation: int) -> None:
        """Cache a fetched list if no EDU about the user came since it was asked."""
        if self._generation.get(user_id, 0) != generation:
            return
        if self._lists.is_tracked(user_id):
            with self._db.batch() as b:
                self._stage_write(b, user_id, entry)

    def _stage_write(self, b: Batch, user_id: str, entry: JsonDict | None) -> None:
        """Write (or drop) the cached list; a new master key drops the signatures
        local users made on the old one, as for a local user's new master key."""
        raw = self._cache.get(user_id.encode())
        old_master = json.loads(raw).get("master") if raw is not None else None
        if entry is None:
            b.delete(self._cache, user_id.encode())
        else:
            b.put(self._cache, user_id.encode(), json.dumps(entry).encode())
            new_master = entry.get("master")
            if old_master is not None and new_master is not None:
                if stripped(old_master) != stripped(new_master):
                    self._cross_signing.stage_forget_signatures_on(b, user_id)

    def _changed(self, user_id: str, entry: JsonDict | None) -> None:
        """Store (or drop) the cached list and tell the local users sharing a room."""
        with self._db.batch() as b:
            self._stage_write(b, user_id, entry)
            woken = self._lists.stage_key_change(b, user_id)
        self._wake(woken)

    # -- /keys/query -------------------------------------------------------------------
    async def query(self, wanted: Mapping[str, list[str]], timeout_s: float) -> JsonDict:
        """Device and cross-signing keys of remote users; ``failures`` by server."""
        result: JsonDict = {
            "device_keys": {},
            "master_keys": {},
            "self_signing_keys": {},
            "failures": {},
        }
        by_server: dict[str, dict[str, list[str]]] = {}
        for user_id, device_ids in wanted.items():
            entry = self.cached(user_id)
            if entry is not None:
                _answer_from(result, user_id, device_ids, entry)
            else:
                by_server.setdefault(server_of(user_id), {})[user_id] = list(device_ids)
        servers = list(by_server)
        generations = {u: self._generation.get(u, 0) for u in wanted}
        for user_id in wanted:
            self._joined.pop(user_id, None)  # a list is handed out: updates matter now
        answers = await asyncio.gather(
            *(self._query_server(s, by_server[s], timeout_s) for s in servers),
            return_exceptions=True,
        )
        for server, answer in zip(servers, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, (FederationError, TimeoutError)):
                    raise answer
                result["failures"][server] = failure(answer)
                continue
            for user_id, device_ids in by_server[server].items():
                entry = _entry_from_query(user_id, answer)
                if not device_ids:
                    self._store(user_id, entry, generations[user_id])
                _answer_from(result, user_id, device_ids, entry)
        return result

    async def _query_server(
        self, server: str, users: dict[str, list[str]], timeout_s: float
    ) -> JsonDict:
        answer = await asyncio.wait_for(
            self._client.request(
                server,
                "POST",
                "/_matrix/federation/v1/user/keys/query",
                content={"device_keys": users},
                max_response=MAX_KEYS_RESPONSE,
            ),
            timeout_s,
        )
        return _as_dict(answer)

    # -- /keys/claim -------------------------------------------------------------------
    async def claim(self, wanted: Mapping[str, Mapping[str, str]], timeout_s: float) -> JsonDict:
        """One-time keys of remote users' devices; ``failures`` by server."""
        by_server: dict[str, dict[str, dict[str, str]]] = {}
        for user_id, devices in wanted.items():
            by_server.setdefault(server_of(user_id), {})[user_id] = dict(devices)
        servers = list(by_server)
        answers = await asyncio.gather(
            *(self._claim_server(s, by_server[s], timeout_s) for s in servers),
            return_exceptions=True,
        )
        claimed: JsonDict = {}
        failures: JsonDict = {}
        for server, answer in zip(servers, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, (FederationError, TimeoutError)):
                    raise answer
                failures[server] = failure(answer)
                continue
            keys = _as_dict(answer.get("one_time_keys"))
            for user_id, devices in by_server[server].items():
                got = {d: k for d, k in _as_dict(keys.get(user_id)).items() if d in devices}
                if got:
                    claimed[user_id] = got
        return {"one_time_keys": claimed, "failures": failures}

    async def _claim_server(
        self, server: str, users: dict[str, dict[str, str]], timeout_s: float
    ) -> JsonDict:
        answer = await asyncio.wait_for(
            self._client.request(
                server,
                "POST",
                "/_matrix/federation/v1/user/keys/claim",
                content={"one_time_keys": users},
                max_response=MAX_KEYS_RESPONSE,
            ),
            timeout_s,
        )
        return _as_dict(answer)

    # -- EDUs --------------------------------------------------------------------------
    def device_list_update(self, origin: str, content: JsonDict) -> None:
        """``m.device_list_update`` from ``origin`` about one of its users."""
        user_id, device_id = content.get("user_id"), content.get("device_id")
        stream_id, prev_ids = content.get("stream_id"), content.get("prev_id", [])
        if (
            not isinstance(user_id, str)
            or server_of(user_id) != origin
            or not isinstance(device_id, str)
            or not isinstance(stream_id, int)
            or not isinstance(prev_ids, list)
        ):
            return
        if not self._tracked_or_noted(user_id):
            return
        self._generation[user_id] = self._generation.get(user_id, 0) + 1
        entry = self.cached(user_id)
        if entry is None:
            if not self._just_joined(user_id):
                self._changed(user_id, None)
            return
        known = entry.get("stream_id")
        if known is not None and stream_id <= known:
            return  # already applied (a resync got it, or a retried transaction)
        if known is None or any(p != known for p in prev_ids):
            log.info("device list of %s: gap before %s; resync", user_id, stream_id)
            self._changed(user_id, None)
            self._resync(user_id)
            return
        devices = _as_dict(entry.get("devices"))
        keys = content.get("keys")
        if content.get("deleted") is True:
            devices.pop(device_id, None)
        elif isinstance(keys, dict):
            devices[device_id] = _with_name(keys, content.get("device_display_name"))
        entry["devices"] = devices
        entry["stream_id"] = stream_id
        self._changed(user_id, entry)

    def signing_key_update(self, origin: str, content: JsonDict) -> None:
        """``m.signing_key_update`` from ``origin`` about one of its users."""
        user_id = content.get("user_id")
        if not isinstance(user_id, str) or server_of(user_id) != origin:
            return
        if not self._tracked_or_noted(user_id):
            return
        self._generation[user_id] = self._generation.get(user_id, 0) + 1
        entry = self.cached(user_id)
        if entry is not None:
            for usage in SIGNING_USAGES:
                signing_key = content.get(f"{usage}_key")
                if isinstance(signing_key, dict):
                    entry[usage] = signing_key
        self._changed(user_id, entry)

    def _tracked_or_noted(self, user_id: str) -> bool:
        """Whether an update about ``user_id`` is for us now; while a room joined with
        partial state is incomplete (its members are not all known) every update's
        user is noted too, as Synapse does."""
        if self.partial_rooms_exist():
            # Noted even when tracked: a member known from the partial state may have
            # "just joined" (our own join), which would swallow the update below.
            self._pending.put(user_id.encode(), b"")
        return self._lists.is_tracked(user_id)

    def partial_room_completed(self, room_id: str) -> None:
        """A room's full state is in: the noted users now in it changed for our users
        (their updates came while we could not know), as Synapse's
        ``handle_room_un_partial_stated`` does; their cached lists stay (updates of
        users we tracked were applied as they came). The notes go once no room is
        partial any more."""
        members = self._lists.room_members(room_id)
        done = not self.partial_rooms_exist()
        woken: set[str] = set()
        with self._db.batch() as b:
            for raw_key, _ in self._pending.iter_range(None, None):
                user_id = raw_key.decode()
                if user_id in members:
                    woken |= self._lists.stage_key_change(b, user_id)
                if user_id in members or done:
                    b.delete(self._pending, raw_key)
        log.info(
            "%s complete: device lists of noted members changed for %d users", room_id, len(woken)
        )
        self._wake(woken)

    def _resync(self, user_id: str) -> None:
        if user_id in self._resyncing:
            return
        self._resyncing.add(user_id)
        _ = self._tasks.spawn(f"device list resync {user_id}", self._fetch_devices(user_id))

    async def _fetch_devices(self, user_id: str) -> None:
        """Refill the cache from ``GET /user/devices/{userId}`` (the clients were
        told of the change already; until this is done queries ask the origin). If
        another update came meanwhile the answer may predate it: not cached."""
        generation = self._generation.get(user_id, 0)
        try:
            path = f"/_matrix/federation/v1/user/devices/{quote(user_id, safe='')}"
            answer = _as_dict(
                await self._client.get(server_of(user_id), path, max_response=MAX_KEYS_RESPONSE)
            )
        except FederationError as exc:
            log.info("device list resync of %s failed: %s", user_id, exc)
            return
        finally:
            self._resyncing.discard(user_id)
        stream_id = answer.get("stream_id")
        if answer.get("user_id") != user_id or not isinstance(stream_id, int):
            return
        devices: JsonDict = {}
        for device in answer.get("devices", []) if isinstance(answer.get("devices"), list) else []:
            device = _as_dict(device)
            device_id, keys = device.get("device_id"), device.get("keys")
            if isinstance(device_id, str) and isinstance(keys, dict):
                if keys.get("user_id") == user_id and keys.get("device_id") == device_id:
                    devices[device_id] = _with_name(keys, device.get("device_display_name"))
        entry: JsonDict = {"stream_id": stream_id, "devices": devices}
        for usage in SIGNING_USAGES:
            signing_key = answer.get(f"{usage}_key")
            if isinstance(signing_key, dict):
                entry[usage] = signing_key
        self._store(user_id, entry, generation)


def _with_name(keys: JsonDict, name: Any) -> JsonDict:
    """Device keys as /keys/query shows them: the display name in ``unsigned``."""
    keys = {k: v for k, v in keys.items() if k != "unsigned"}
    if isinstance(name, str):
        keys["unsigned"] = {"device_display_name": name}
    return keys


def _entry_from_query(user_id: str, answer: JsonDict) -> JsonDict:
    """A user's part of a /user/keys/query answer, as a cache entry (no stream ID);
    device keys not about the user and device they are filed under are left out."""
    devices = {
        device_id: keys
        for device_id, keys in _as_dict(_as_dict(answer.get("device_keys")).get(user_id)).items()
        if isinstance(keys, dict)
        and keys.get("user_id") == user_id
        and keys.get("device_id") == device_id
    }
    entry: JsonDict = {"stream_id": None, "devices": devices}
    for usage in SIGNING_USAGES:
        signing_key = _as_dict(answer.get(f"{usage}_keys")).get(user_id)
        if isinstance(signing_key, dict) and signing_key.get("user_id") == user_id:
            entry[usage] = signing_key
    return entry


def _answer_from(result: JsonDict, user_id: str, device_ids: list[str], entry: JsonDict) -> None:
    devices = _as_dict(entry.get("devices"))
    if device_ids:
        devices = {d: k for d, k in devices.items() if d in device_ids}
    result["device_keys"][user_id] = devices
    for usage in SIGNING_USAGES:
        if usage in entry:
            result[f"{usage}_keys"][user_id] = entry[usage]
