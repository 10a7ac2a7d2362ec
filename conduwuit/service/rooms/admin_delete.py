"""Synapse's room deletion (docs/admin_api/rooms.md, "Delete Room API"): v1 answers
when done; v2 answers a ``delete_id`` at once and runs the deletion as a background
job whose status (``shutting_down`` → ``purging`` → ``complete`` or ``failed``) its
status endpoints report.

A deletion shuts the room down (service/rooms/admin.py: local members leave, aliases
and the directory entry go, ``block`` bans it) and, with ``purge`` (Synapse's
default), then deletes every row of the room (service/rooms/purge.py). A purge is
recorded durably before the shutdown begins, so one cut short by a crash or a stop
resumes when the server starts again.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, invalid_param, not_found
from conduwuit.core.ids import RoomId
from conduwuit.service.clock import Clock
from conduwuit.service.rooms.admin import RoomAdmin, Shutdown
from conduwuit.service.rooms.metadata import RoomMetadata
from conduwuit.service.rooms.purge import PurgeIntent, RoomPurger
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

#: How many deletion outcomes the v2 status endpoints remember.
KEPT_DELETES = 1000

SHUTTING_DOWN = "shutting_down"
PURGING = "purging"
COMPLETE = "complete"
FAILED = "failed"


@dataclass(slots=True)
class DeleteStatus:
    """One deletion as the v2 status endpoints show it."""

    delete_id: str
    room_id: str
    status: str
    error: str | None = None
    shutdown: Shutdown | None = None
    #: What made it fail, other than a refusal (re-raised by v1: a 500).
    exception: Exception | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "delete_id": self.delete_id,
            "room_id": self.room_id,
            "status": self.status,
        }
        if self.error is not None:
            body["error"] = self.error
        if self.shutdown is not None:
            body["shutdown_room"] = self.shutdown.to_json()
        return body


class RoomDeletions:
    def __init__(
        self, rooms: RoomAdmin, metadata: RoomMetadata, purger: RoomPurger, clock: Clock
    ) -> None:
        self._rooms = rooms
        self._metadata = metadata
        self.purger = purger
        self._clock = clock
        self._tasks = BackgroundTasks()
        #: Status of the deletions asked through v2 (and of purges resumed at start),
        #: newest last: kept in memory, the last ``KEPT_DELETES``, as Synapse keeps
        #: them until a restart.
        self._statuses: OrderedDict[str, DeleteStatus] = OrderedDict()

    # -- start and stop: purges cut short resume -------------------------------------
    def start(self) -> None:
        for intent in self.purger.intents():
            log.info("resuming the purge of %s (%s)", intent.room_id, intent.phase)
            self._status(intent.delete_id, intent.room_id, intent.phase)
            _ = self._tasks.spawn(f"purge {intent.room_id}", self._job(intent))

    async def stop(self) -> None:
        """Stop running purges: each resumes at the next start."""
        await self._tasks.stop()

    @property
    def running(self) -> int:
        return len(self._tasks)

    # -- the API ---------------------------------------------------------------------
    def _admit(self, room_id: RoomId, *, block: bool, purge: bool, unknown_status: int) -> bool:
        """Refusals before anything changes. False: an unknown room, only blocked."""
        rid = str(room_id)
        self._rooms.check_shutdown(rid)
        if purge and self.purger.intent(rid) is not None:
            raise invalid_param("A purge of this room is already running")
        if self._rooms.exists(rid):
            return True
        if not block:
            raise MatrixError(
                ErrCode.NOT_FOUND if unknown_status == 404 else ErrCode.INVALID_PARAM,
                "Unknown room",
                status=unknown_status,
            )
        # Synapse: an unknown room can be blocked.
        self._metadata.set_banned(rid, True)
        return False

    def _intent(self, room_id: str, block: bool, force: bool) -> PurgeIntent:
        intent = PurgeIntent(
            room_id=room_id,
            delete_id=secrets.token_urlsafe(12),
            block=block,
            phase=SHUTTING_DOWN,
            started_ts=self._clock(),
            force=force,
        )
        self.purger.record(intent)
        return intent

    async def delete_v1(
        self, room_id: RoomId, *, block: bool, purge: bool, force_purge: bool
    ) -> Shutdown:
        """Delete and answer when done (400 for an unknown room not blocked)."""
        if not self._admit(room_id, block=block, purge=purge, unknown_status=400):
            return Shutdown()
        if not purge:
            return await self._rooms.shutdown(str(room_id), block=block)
        intent = self._intent(str(room_id), block, force_purge)
        status = self._status(intent.delete_id, intent.room_id, SHUTTING_DOWN)
        await self._job(intent)
        if status.exception is not None:
            raise status.exception
        if status.status == FAILED:
            raise invalid_param(status.error or "The purge failed")
        return status.shutdown or Shutdown()

    async def delete_v2(
        self, room_id: RoomId, *, block: bool, purge: bool, force_purge: bool
    ) -> str:
        """Start a deletion; its ``delete_id`` (the status says how it goes)."""
        rid = str(room_id)
        admitted = self._admit(room_id, block=block, purge=purge, unknown_status=404)
        if admitted and purge:
            intent = self._intent(rid, block, force_purge)
            self._status(intent.delete_id, rid, SHUTTING_DOWN)
            _ = self._tasks.spawn(f"purge {rid}", self._job(intent))
            return intent.delete_id
        # Done at once: a shutdown without purge, or an unknown room blocked.
        result = await self._rooms.shutdown(rid, block=block) if admitted else Shutdown()
        done = self._status(secrets.token_urlsafe(12), rid, COMPLETE)
        done.shutdown = result
        return done.delete_id

    def status(self, delete_id: str) -> dict[str, Any]:
        found = self._statuses.get(delete_id)
        if found is None:
            raise not_found("delete id not found")
        return found.to_json()

    def statuses(self, room_id: RoomId) -> dict[str, Any]:
        results = [d.to_json() for d in self._statuses.values() if d.room_id == str(room_id)]
        if not results:
            raise not_found("No delete task for room")
        return {"results": results}

    # -- the job ---------------------------------------------------------------------
    def _status(self, delete_id: str, room_id: str, phase: str) -> DeleteStatus:
        status = DeleteStatus(delete_id, room_id, phase)
        self._statuses[delete_id] = status
        while len(self._statuses) > KEPT_DELETES:
            self._statuses.popitem(last=False)
        return status

    async def _job(self, intent: PurgeIntent) -> None:
        """Shut down (unless that was done before a restart), then purge. Without
        ``force_purge``, local users the shutdown could not remove stop the purge
        (Synapse: "Users are still joined to this room")."""
        status = self._statuses.get(intent.delete_id) or self._status(
            intent.delete_id, intent.room_id, intent.phase
        )
        try:
            if intent.phase == SHUTTING_DOWN:
                status.shutdown = await self._rooms.shutdown(intent.room_id, block=intent.block)
                if status.shutdown.failed_to_kick_users and not intent.force:
                    self.purger.forget(intent.room_id)
                    status.status = FAILED
                    status.error = "Users are still joined to this room"
                    return
                self.purger.record(replace(intent, phase=PURGING))
            status.status = PURGING
            await self.purger.purge(intent.room_id)
            status.status = COMPLETE
        except MatrixError as exc:
            # Refused (e.g. the room is the admin room): the intent goes, the
            # status says why.
            self.purger.forget(intent.room_id)
            status.status = FAILED
            status.error = exc.message
        except Exception as exc:
            # Kept: a failure here (a database error) is retried at the next start.
            log.exception("purge of %s failed", intent.room_id)
            status.status = FAILED
            status.error = f"{type(exc).__name__}: {exc}"
            status.exception = exc
