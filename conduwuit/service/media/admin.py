"""Media as Synapse's admin API shows and changes it (docs/admin-api.md): a user's
uploads (listed, deleted), one media's details, deletion by ID or by age and size,
quarantine (of one media or of all a room's events refer to), the media a room's
events refer to, and the purge of cached remote media.

Shapes follow Synapse's docs (docs/admin_api/media_admin_api.md and
user_admin_api.md). Deletion is the repository's (the admin room's ``media``
commands use the same code). This server does not record when media was last
read: ``last_access_ts`` is null, and where Synapse compares the last access
(``media/delete``, ``purge_media_cache``) the creation time (for remote media: when
it was cached) is compared instead. Local media can be protected from quarantine
(``safe_from_quarantine``; null for remote media, as in Synapse).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from conduwuit.core.admin_listing import order_rows
from conduwuit.core.errors import invalid_param, not_found
from conduwuit.core.ids import MxcUri, RoomId, UserId
from conduwuit.core.media_refs import media_refs
from conduwuit.service.media.repository import MediaMetadata, MediaRepository, valid_media_id
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.profiles import Profiles

#: Synapse's ``order_by`` values of a user's media (``MediaSortOrder``).
MEDIA_ORDERS = (
    "media_id",
    "upload_name",
    "created_ts",
    "last_access_ts",
    "media_length",
    "media_type",
    "quarantined_by",
    "safe_from_quarantine",
)
#: Synapse's ``order_by`` values of the users' media statistics (``UserSortOrder``).
USAGE_ORDERS = ("user_id", "displayname", "media_length", "media_count")
#: Synapse refuses a ``before_ts`` below this: it is seconds, not milliseconds.
MIN_BEFORE_TS = 30_000_000_000
#: Events of a room read between yields to the event loop when finding its media.
SCAN_CHUNK = 200


@dataclass(frozen=True, slots=True)
class MediaQuery:
    """The page and order of a user's media (Synapse's query parameters)."""

    start: int = 0
    limit: int = 100
    order_by: str = "created_ts"
    backwards: bool = True


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """The page, order and filters of the users' media statistics."""

    start: int = 0
    limit: int = 100
    order_by: str = "user_id"
    backwards: bool = False
    from_ts: int = 0
    until_ts: int | None = None
    search_term: str | None = None


def check_before_ts(before_ts: int) -> None:
    """Synapse's guard against a timestamp in seconds."""
    if before_ts < MIN_BEFORE_TS:
        raise invalid_param(
            "Query parameter before_ts you provided is from the year 1970. "
            "Double check that you are providing a timestamp in milliseconds."
        )


class MediaAdmin:
    def __init__(
        self,
        media: MediaRepository,
        accounts: Accounts,
        profiles: Profiles,
        rooms: RoomStorage,
    ) -> None:
        self._media = media
        self._accounts = accounts
        self._profiles = profiles
        self._rooms = rooms

    @property
    def server_name(self) -> str:
        return self._media.server_name

    # -- one media ------------------------------------------------------------------
    def _existing(self, server_name: str, media_id: str) -> MediaMetadata:
        if not valid_media_id(media_id):
            raise invalid_param("Invalid media ID")
        meta = self._media.metadata(server_name, media_id)
        if meta is None:
            raise not_found("Unknown media")
        return meta

    def _row(self, meta: MediaMetadata) -> dict[str, Any]:
        """One media as a user's listing shows it."""
        return {
            "media_id": meta.media_id,
            "media_type": meta.content_type,
            "media_length": meta.size,
            "upload_name": meta.filename,
            "created_ts": meta.created_ts,
            "last_access_ts": None,
            "quarantined_by": self._media.quarantine.quarantined_by(
                meta.server_name, meta.media_id
            ),
            "safe_from_quarantine": (
                self._media.quarantine.protected(meta.server_name, meta.media_id)
                if meta.server_name == self.server_name
                else None
            ),
        }

    def info(self, server_name: str, media_id: str) -> dict[str, Any]:
        """``GET /v1/media/{serverName}/{mediaId}``: local or cached remote media."""
        meta = self._existing(server_name, media_id)
        return {
            "media_info": {
                **self._row(meta),
                "media_origin": meta.server_name,
                "user_id": meta.uploader,
                "filesystem_id": meta.sha256,
                "url_cache": None,
                # Served only over the authenticated media endpoints (the legacy
                # freeze), which is what Synapse's flag decides.
                "authenticated": not self._media.legacy_visible(meta.created_ts),
                "sha256": meta.sha256,
            }
        }

    async def delete(self, server_name: str, media_id: str) -> dict[str, Any]:
        """``DELETE /v1/media/{serverName}/{mediaId}``: one local media."""
        if server_name != self.server_name:
            raise invalid_param("Can only delete local media")
        meta = self._existing(server_name, media_id)
        await self._media.delete_many([meta])
        return deleted([meta])

    def set_quarantine(self, by: str | None, server_name: str, media_id: str) -> None:
        """Quarantine (``by`` the admin) or release (None) local or cached media.
        Protected media stays unquarantined and the answer is the same (Synapse's
        update skips it silently)."""
        self._existing(server_name, media_id)
        self._media.quarantine.set(server_name, media_id, by)

    def set_protected(self, media_id: str, protected: bool) -> None:
        """``POST /v1/media/protect|unprotect/{mediaId}``: local media only (the
        path has no server name). Protecting does not lift a quarantine already in
        place, as in Synapse."""
        self._existing(self.server_name, media_id)
        self._media.quarantine.set_protected(self.server_name, media_id, protected)

    # -- a room's media -------------------------------------------------------------
    async def _room_refs(self, room_id: RoomId) -> list[MxcUri]:
        """The media the room's timeline events refer to, newest event first, each
        once (Synapse lists a media once per mention). A room this server has no
        state for is 404 (Synapse answers empty lists)."""
        rid = str(room_id)
        short = self._rooms.short.room(rid)
        if short is None or not self._rooms.state.exists(rid):
            raise not_found("Room not found")
        found: dict[MxcUri, None] = {}
        for n, (_, pdu) in enumerate(self._rooms.timeline.scan(short, None, backwards=True), 1):
            found.update(dict.fromkeys(media_refs(pdu.get("content"))))
            if n % SCAN_CHUNK == 0:
                await asyncio.sleep(0)
        return list(found)

    async def room_media(self, room_id: RoomId) -> dict[str, list[str]]:
        """``GET /v1/room/{roomId}/media``: ``local`` and ``remote`` MXC URIs."""
        refs = await self._room_refs(room_id)
        local = [str(m) for m in refs if str(m.server_name) == self.server_name]
        remote = [str(m) for m in refs if str(m.server_name) != self.server_name]
        return {"local": local, "remote": remote}

    async def quarantine_room_media(self, by: str, room_id: RoomId) -> dict[str, int]:
        """``POST /v1/room/{roomId}/media/quarantine``: every local or cached remote
        media the room refers to, in ``by``'s name; ``num_quarantined`` counts them
        (those quarantined already too, as Synapse's update does). Remote media not
        cached here is not marked: it has no row here, as in Synapse."""
        refs = [(str(m.server_name), m.media_id) for m in await self._room_refs(room_id)]
        held = [ref for ref in refs if self._media.metadata(*ref) is not None]
        return {"num_quarantined": self._media.quarantine.quarantine_all(held, by)}

    # -- a user's media -------------------------------------------------------------
    def _local_user(self, user_id: UserId) -> str:
        if str(user_id.server_name) != self.server_name:
            raise invalid_param("Can only look up local users")
        uid = str(user_id)
        if not self._accounts.exists(uid):
            raise not_found("Unknown user")
        return uid

    def quarantine_user_media(self, by: str, user_id: UserId) -> dict[str, int]:
        """``POST /v1/user/{userId}/media/quarantine``: every unprotected media the
        local user uploaded, in ``by``'s name. Synapse answers 0 for a user it does
        not know; this server answers 404 and 400 for another server's user, as its
        listing of a user's media does."""
        metas = self._media.user_media(self._local_user(user_id))
        refs = [(m.server_name, m.media_id) for m in metas]
        return {"num_quarantined": self._media.quarantine.quarantine_all(refs, by)}

    def _ordered(self, user_id: UserId, query: MediaQuery) -> list[dict[str, Any]]:
        if query.order_by not in MEDIA_ORDERS:
            raise invalid_param(f"Unknown order_by: {query.order_by}")
        rows = [self._row(m) for m in self._media.user_media(self._local_user(user_id))]
        return order_rows(rows, query.order_by, descending=query.backwards, tie_break="media_id")

    def user_media(self, user_id: UserId, query: MediaQuery) -> dict[str, Any]:
        """``GET /v1/users/{userId}/media``: one page, ``next_token`` while more follow."""
        rows = self._ordered(user_id, query)
        end = query.start + query.limit
        reply: dict[str, Any] = {"media": rows[query.start : end], "total": len(rows)}
        if end < len(rows):
            reply["next_token"] = end
        return reply

    async def delete_user_media(self, user_id: UserId, query: MediaQuery) -> dict[str, Any]:
        """``DELETE /v1/users/{userId}/media``: the page the same query would list."""
        rows = self._ordered(user_id, query)[query.start : query.start + query.limit]
        metas = [self._media.metadata(self.server_name, r["media_id"]) for r in rows]
        found = [m for m in metas if m is not None]
        await self._media.delete_many(found)
        return deleted(found)

    # -- statistics -----------------------------------------------------------------
    def usage(self, query: UsageQuery) -> dict[str, Any]:
        """``GET /v1/statistics/users/media``: each local user with media created in
        ``[from_ts, until_ts]``, their count and bytes; ``search_term`` is contained
        in the localpart or the display name (any case, as the user listing here;
        Synapse's ``LIKE`` depends on its database)."""
        if query.order_by not in USAGE_ORDERS:
            raise invalid_param(f"Unknown order_by: {query.order_by}")
        if query.until_ts is not None and query.until_ts <= query.from_ts:
            raise invalid_param("Query parameter until_ts must be greater than from_ts.")
        if query.search_term == "":
            raise invalid_param("Query parameter search_term cannot be an empty string.")
        totals: dict[str, list[int]] = {}
        for meta in self._media.all_metadata():
            if (
                meta.server_name != self.server_name
                or meta.uploader is None
                or meta.created_ts < query.from_ts
                or (query.until_ts is not None and meta.created_ts > query.until_ts)
            ):
                continue
            entry = totals.setdefault(meta.uploader, [0, 0])
            entry[0] += 1
            entry[1] += meta.size
        rows = []
        for user_id, (count, length) in totals.items():
            name = self._profiles.get(user_id).get("displayname")
            displayname = name if isinstance(name, str) else None
            if query.search_term is not None and not _matches(
                query.search_term, user_id, displayname
            ):
                continue
            rows.append(
                {
                    "user_id": user_id,
                    "displayname": displayname,
                    "media_count": count,
                    "media_length": length,
                }
            )
        rows = order_rows(rows, query.order_by, descending=query.backwards, tie_break="user_id")
        page = rows[query.start : query.start + query.limit]
        reply: dict[str, Any] = {"users": page, "total": len(rows)}
        if query.start + query.limit < len(rows):
            reply["next_token"] = query.start + len(page)
        return reply

    # -- by age ---------------------------------------------------------------------
    def _profile_avatars(self) -> set[str]:
        avatars = set()
        for user_id, _ in self._accounts.all():
            avatar = self._profiles.get(user_id).get("avatar_url")
            if isinstance(avatar, str):
                avatars.add(avatar)
        return avatars

    async def delete_local_before(
        self, before_ts: int, size_gt: int, *, keep_profiles: bool
    ) -> dict[str, Any]:
        """``POST /v1/media/delete``: local media created before ``before_ts`` and
        larger than ``size_gt`` bytes; with ``keep_profiles``, not the media a local
        user's avatar shows (room avatars are not looked at)."""
        check_before_ts(before_ts)
        kept = self._profile_avatars() if keep_profiles else set()
        metas = [
            m
            for m in self._media.all_metadata()
            if m.server_name == self.server_name
            and m.created_ts < before_ts
            and m.size > size_gt
            and m.mxc not in kept
        ]
        await self._media.delete_many(metas)
        return deleted(metas)

    async def purge_remote_cache(self, before_ts: int) -> dict[str, Any]:
        """``POST /v1/purge_media_cache``: remote media cached before ``before_ts``."""
        check_before_ts(before_ts)
        return {"deleted": await self._media.delete_before(before_ts)}


def _matches(term: str, user_id: str, displayname: str | None) -> bool:
    folded = term.casefold()
    localpart = user_id[1:].partition(":")[0]
    return folded in localpart.casefold() or (
        displayname is not None and folded in displayname.casefold()
    )


def deleted(metas: list[MediaMetadata]) -> dict[str, Any]:
    return {"deleted_media": [m.media_id for m in metas], "total": len(metas)}
