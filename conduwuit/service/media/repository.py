"""The media repository: uploads, async uploads (MSC2246), downloads, deletion.

Files live in the :class:`MediaStore` (content-addressed, crash-safe); metadata in
the ``mediaid_*`` maps (db/maps.py). A blob is written and renamed before the
metadata that points to it is committed, and removed only after the last metadata
pointing to it is gone; ``_blobs`` (one lock) orders the two, so a blob is never
deleted under an upload that found it already stored.

Remote media (another server's ``mxc://``) goes through a :class:`RemoteMedia`
collaborator (federation: service/federation/media.py) and is cached here like local
media, written under the same size cap, temp file + fsync + rename, so a crash mid-way
leaves nothing served. Concurrent requests for one remote media share one fetch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import string
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from conduwuit.core.errors import ErrCode, MatrixError, forbidden, not_found
from conduwuit.core.ids import ServerName
from conduwuit.db import Database
from conduwuit.db.codec import from_u64, key, prefix, split, u64
from conduwuit.db.maps import GLOBAL_MEDIA_FROZEN_AT, MAPS
from conduwuit.service.clock import Clock
from conduwuit.service.media.quarantine import Quarantine
from conduwuit.service.media.store import MediaStore, PartialBlob, TooLargeError
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

MEDIA_ID_ALPHABET = string.ascii_letters + string.digits
MEDIA_ID_LENGTH = 24
#: Spec: a media ID is only alphanumerics, ``_`` and ``-`` (content repository,
#: security considerations); anything else is refused before a lookup.
_MEDIA_ID_CHARS = frozenset(MEDIA_ID_ALPHABET + "_-")
MAX_MEDIA_ID_LENGTH = 255
#: How long a download may wait for an async upload at most (``timeout_ms``).
MAX_WAIT_MS = 120_000
DEFAULT_WAIT_MS = 20_000
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def valid_media_id(media_id: str) -> bool:
    return 0 < len(media_id) <= MAX_MEDIA_ID_LENGTH and set(media_id) <= _MEDIA_ID_CHARS


@dataclass(frozen=True)
class MediaConfig:
    server_name: str
    #: Largest file, in bytes (max_request_size).
    max_upload_size: int
    freeze_legacy: bool = True
    max_pending_uploads: int = 5
    pending_expiry_ms: int = 24 * 3600 * 1000
    prevent_downloads_from: frozenset[str] = frozenset()
    startup_check: bool = True
    prune_missing: bool = False


@dataclass(frozen=True)
class MediaMetadata:
    server_name: str
    media_id: str
    sha256: str
    size: int
    created_ts: int
    content_type: str | None = None
    filename: str | None = None
    uploader: str | None = None

    @property
    def mxc(self) -> str:
        return f"mxc://{self.server_name}/{self.media_id}"

    def to_json(self) -> bytes:
        record: dict[str, Any] = {
            "sha256": self.sha256,
            "size": self.size,
            "created_ts": self.created_ts,
        }
        for name in ("content_type", "filename", "uploader"):
            value = getattr(self, name)
            if value is not None:
                record[name] = value
        return json.dumps(record).encode()

    @classmethod
    def from_json(cls, server_name: str, media_id: str, raw: bytes) -> MediaMetadata:
        record = json.loads(raw)
        return cls(
            server_name=server_name,
            media_id=media_id,
            sha256=record["sha256"],
            size=record["size"],
            created_ts=record["created_ts"],
            content_type=record.get("content_type"),
            filename=record.get("filename"),
            uploader=record.get("uploader"),
        )


@dataclass(frozen=True)
class MediaFile:
    """A stored media's metadata and the path of its (immutable) file."""

    metadata: MediaMetadata
    path: Path


@dataclass(frozen=True)
class PendingMedia:
    media_id: str
    uploader: str
    created_ts: int
    expires_ts: int


@dataclass(frozen=True)
class RemoteContent:
    """What another server answered for one of its media."""

    content_type: str | None
    filename: str | None
    chunks: AsyncIterable[bytes]


class RemoteMedia(Protocol):
    """Fetches another server's media from its origin (service/federation/media.py):
    the content is readable inside the context; a Matrix error (404 when the origin
    has no such media) when it cannot be had."""

    def fetch(
        self, server_name: str, media_id: str, *, timeout_ms: int
    ) -> AbstractAsyncContextManager[RemoteContent]: ...


class NoRemoteMedia:
    """Without federation: no remote media is available (downloads are 404)."""

    def fetch(
        self, server_name: str, media_id: str, *, timeout_ms: int
    ) -> AbstractAsyncContextManager[RemoteContent]:
        return self._none()

    @asynccontextmanager
    async def _none(self) -> AsyncIterator[RemoteContent]:
        raise not_found("No such media")
        yield  # pragma: no cover - makes this a generator


@dataclass
class StartupReport:
    """What ``media_startup_check`` found."""

    #: Metadata whose file is missing (pruned when prune_missing_media is on).
    missing: list[str] = field(default_factory=list)
    pruned: int = 0
    #: Files no metadata refers to (reported, kept).
    orphans: list[str] = field(default_factory=list)
    expired_pending: int = 0
    temp_removed: int = 0


def not_yet_uploaded() -> MatrixError:
    return MatrixError(ErrCode.NOT_YET_UPLOADED, "The media has not been uploaded yet")


def too_large(limit: int) -> MatrixError:
    return MatrixError(
        ErrCode.TOO_LARGE, f"The file is larger than the limit of {limit} bytes", status=413
    )


class MediaRepository:
    """Stores, finds and deletes media; the API layer and (later) the thumbnailer,
    URL previewer, admin commands and federation call it."""

    def __init__(
        self,
        db: Database,
        store: MediaStore,
        config: MediaConfig,
        clock: Clock,
        remote: RemoteMedia | None = None,
        *,
        on_blob_deleted: Callable[[str], None] | None = None,
    ) -> None:
        """``on_blob_deleted(sha256)`` runs after a blob's file is deleted (the last
        media referring to it is gone): the thumbnailer forgets its thumbnails, so
        deleted content leaves nothing derived from it on disk."""
        self._db = db
        self.store = store
        self.config = config
        self._clock = clock
        self._remote: RemoteMedia = remote or NoRemoteMedia()
        self._on_blob_deleted = on_blob_deleted
        self._metadata = db.map(MAPS.mediaid_metadata)
        self._pending = db.map(MAPS.mediaid_pending)
        self._user_pending = db.map(MAPS.userid_pendingmediaid)
        self._user_media = db.map(MAPS.userid_mediaid)
        self._refs = db.map(MAPS.sha256_mediaid)
        self._global = db.map(MAPS.global_)
        #: Media the admin API quarantined: :meth:`get` answers 404 for it.
        self.quarantine = Quarantine(db)
        self._blobs = asyncio.Lock()
        #: Async uploads being written now: a second PUT to one is refused.
        self._uploading: set[str] = set()
        #: Downloads waiting for an async upload, woken when it is committed.
        self._waiters: dict[str, asyncio.Event] = {}
        self._waiting: dict[str, int] = {}
        self._frozen_at: int | None = None
        #: Remote media being fetched now, by "server/mediaId": one fetch for all askers.
        self._fetching: dict[str, asyncio.Future[MediaFile]] = {}
        self._fetches = BackgroundTasks()

    @property
    def remote(self) -> RemoteMedia:
        return self._remote

    @remote.setter
    def remote(self, remote: RemoteMedia) -> None:
        """Set by the composition root once federation is built."""
        self._remote = remote

    async def stop(self) -> None:
        """Cancel remote fetches still running (their temp files are removed)."""
        await self._fetches.stop()

    @property
    def server_name(self) -> str:
        return self.config.server_name

    # -- start ----------------------------------------------------------------------

    def start(self) -> StartupReport:
        """Create the directories, reclaim crashed uploads, record the legacy freeze
        point, and (media_startup_check) compare files with metadata."""
        report = StartupReport(temp_removed=self.store.open())
        self._start_freeze()
        report.expired_pending = self._drop_expired_pending()
        if self.config.startup_check:
            self._check(report)
        return report

    def _start_freeze(self) -> None:
        # The freeze point is the first start with freeze_legacy_media on; a start
        # with it off forgets it, so media uploaded meanwhile stays on the legacy
        # endpoints once the freeze is turned on again (spec: media uploaded before
        # the freeze remains accessible).
        raw = self._global.get(GLOBAL_MEDIA_FROZEN_AT)
        if not self.config.freeze_legacy:
            if raw is not None:
                self._global.delete(GLOBAL_MEDIA_FROZEN_AT)
            self._frozen_at = None
            return
        if raw is None:
            now = self._clock()
            self._global.put(GLOBAL_MEDIA_FROZEN_AT, u64(now))
            self._frozen_at = now
        else:
            self._frozen_at = from_u64(raw)

    def _drop_expired_pending(self) -> int:
        now = self._clock()
        expired = [p for p in self._all_pending() if p.expires_ts <= now]
        if expired:
            with self._db.batch() as batch:
                for p in expired:
                    batch.delete(self._pending, key(self.server_name, p.media_id))
                    batch.delete(self._user_pending, key(p.uploader, p.media_id))
        return len(expired)

    def _check(self, report: StartupReport) -> None:
        referenced: set[str] = set()
        missing: list[MediaMetadata] = []
        for meta in self.all_metadata():
            referenced.add(meta.sha256)
            if not self.store.exists(meta.sha256):
                missing.append(meta)
        report.missing = [m.mxc for m in missing]
        for meta in missing:
            log.warning("media: the file of %s (sha256 %s) is missing", meta.mxc, meta.sha256)
        if missing and self.config.prune_missing:
            with self._db.batch() as batch:
                for meta in missing:
                    self._stage_delete(batch, meta)
            report.pruned = len(missing)
            log.warning("media: removed the metadata of %d media without a file", len(missing))
        report.orphans = [name for name in self.store.blob_names() if name not in referenced]
        for name in report.orphans:
            log.warning("media: file %s is not referred to by any media", self.store.path(name))

    # -- reads ----------------------------------------------------------------------

    def new_media_id(self) -> str:
        return "".join(secrets.choice(MEDIA_ID_ALPHABET) for _ in range(MEDIA_ID_LENGTH))

    def metadata(self, server_name: str, media_id: str) -> MediaMetadata | None:
        raw = self._metadata.get(key(server_name, media_id))
        return None if raw is None else MediaMetadata.from_json(server_name, media_id, raw)

    def open_media(self, server_name: str, media_id: str) -> MediaFile | None:
        """A stored media's metadata and file path, or None (the thumbnailer reads
        local and cached media through this)."""
        meta = self.metadata(server_name, media_id)
        if meta is None:
            return None
        return MediaFile(meta, self.store.path(meta.sha256))

    def pending(self, media_id: str) -> PendingMedia | None:
        raw = self._pending.get(key(self.server_name, media_id))
        if raw is None:
            return None
        record = json.loads(raw)
        return PendingMedia(
            media_id, record["uploader"], record["created_ts"], record["expires_ts"]
        )

    def _all_pending(self) -> list[PendingMedia]:
        found = []
        for k, raw in self._pending.iter_prefix(prefix(self.server_name)):
            media_id = split(k)[-1].decode()
            record = json.loads(raw)
            found.append(
                PendingMedia(
                    media_id, record["uploader"], record["created_ts"], record["expires_ts"]
                )
            )
        return found

    def all_metadata(self) -> Iterable[MediaMetadata]:
        for k, raw in self._metadata.iter_prefix(b""):
            server_name, media_id = (p.decode() for p in split(k))
            yield MediaMetadata.from_json(server_name, media_id, raw)

    def legacy_visible(self, created_ts: int) -> bool:
        """Whether media created at ``created_ts`` may be served over the legacy
        unauthenticated endpoints (spec v1.11, content repository: the freeze)."""
        return self._frozen_at is None or created_ts < self._frozen_at

    # -- uploads --------------------------------------------------------------------

    async def upload(
        self,
        chunks: AsyncIterable[bytes],
        *,
        uploader: str,
        content_type: str | None,
        filename: str | None,
    ) -> MediaMetadata:
        """Store a streamed upload as new local media (413 M_TOO_LARGE past the limit)."""
        partial = await self._write(chunks)
        return await self._commit(partial, self.new_media_id(), uploader, content_type, filename)

    async def store_file(
        self,
        path: Path,
        *,
        content_type: str | None,
        filename: str | None,
        uploader: str | None,
    ) -> MediaMetadata:
        """Store a finished local file (e.g. an image the URL previewer fetched) as new
        local media; the file at ``path`` is copied, not moved."""
        try:
            partial = await asyncio.to_thread(
                self.store.import_file, path, limit=self.config.max_upload_size
            )
        except TooLargeError as exc:
            raise too_large(exc.limit) from None
        return await self._commit(partial, self.new_media_id(), uploader, content_type, filename)

    async def _write(self, chunks: AsyncIterable[bytes]) -> PartialBlob:
        try:
            return await self.store.write(chunks, limit=self.config.max_upload_size)
        except TooLargeError as exc:
            raise too_large(exc.limit) from None

    async def _commit(
        self,
        partial: PartialBlob,
        media_id: str,
        uploader: str | None,
        content_type: str | None,
        filename: str | None,
        *,
        server_name: str | None = None,
        pending_of: PendingMedia | None = None,
    ) -> MediaMetadata:
        meta = MediaMetadata(
            server_name=server_name or self.server_name,
            media_id=media_id,
            sha256=partial.blob.sha256,
            size=partial.blob.size,
            created_ts=pending_of.created_ts if pending_of else self._clock(),
            content_type=content_type,
            filename=filename,
            uploader=uploader,
        )
        try:
            async with self._blobs:
                await asyncio.to_thread(self.store.commit, partial)
                with self._db.batch() as batch:
                    mkey = key(meta.server_name, media_id)
                    batch.put(self._metadata, mkey, meta.to_json())
                    batch.put(self._refs, key(meta.sha256, meta.server_name, media_id), b"")
                    if uploader is not None:
                        batch.put(self._user_media, key(uploader, media_id), b"")
                    if pending_of is not None:
                        batch.delete(self._pending, mkey)
                        batch.delete(self._user_pending, key(pending_of.uploader, media_id))
        finally:
            self.store.discard(partial)
        waiter = self._waiters.pop(f"{meta.server_name}/{media_id}", None)
        if waiter is not None:
            waiter.set()
        return meta

    def create_pending(self, uploader: str) -> PendingMedia:
        """POST /media/v1/create: reserve a media ID for a later upload by ``uploader``.
        Refused with 429 M_LIMIT_EXCEEDED past max_pending_media_uploads."""
        now = self._clock()
        live = [
            from_u64(v)
            for _, v in self._user_pending.iter_prefix(prefix(uploader))
            if from_u64(v) > now
        ]
        if len(live) >= self.config.max_pending_uploads:
            raise MatrixError(
                ErrCode.LIMIT_EXCEEDED,
                "Too many pending media uploads",
                retry_after_ms=max(0, min(live) - now),
            )
        pending = PendingMedia(
            self.new_media_id(), uploader, now, now + self.config.pending_expiry_ms
        )
        record = {
            "uploader": uploader,
            "created_ts": pending.created_ts,
            "expires_ts": pending.expires_ts,
        }
        with self._db.batch() as batch:
            batch.put(
                self._pending,
                key(self.server_name, pending.media_id),
                json.dumps(record).encode(),
            )
            batch.put(self._user_pending, key(uploader, pending.media_id), u64(pending.expires_ts))
        return pending

    def check_pending_upload(self, server_name: str, media_id: str, uploader: str) -> PendingMedia:
        """Whether ``uploader`` may PUT the content of this media ID now (before the
        body is read): 404 unknown or expired, 409 already uploaded, 403 someone else's."""
        if server_name != self.server_name or not valid_media_id(media_id):
            raise not_found("No such media")
        if self.metadata(server_name, media_id) is not None or media_id in self._uploading:
            raise MatrixError(ErrCode.CANNOT_OVERWRITE_MEDIA, "The media has already been uploaded")
        pending = self.pending(media_id)
        if pending is None or pending.expires_ts <= self._clock():
            raise not_found("No such media, or its upload time expired")
        if pending.uploader != uploader:
            raise forbidden("Only the user who created this media ID may upload it")
        return pending

    async def upload_pending(
        self,
        server_name: str,
        media_id: str,
        chunks: AsyncIterable[bytes],
        *,
        uploader: str,
        content_type: str | None,
        filename: str | None,
    ) -> MediaMetadata:
        """PUT /media/v3/upload/{serverName}/{mediaId}: the content of a created ID."""
        pending = self.check_pending_upload(server_name, media_id, uploader)
        self._uploading.add(media_id)
        try:
            partial = await self._write(chunks)
            return await self._commit(
                partial, media_id, uploader, content_type, filename, pending_of=pending
            )
        finally:
            self._uploading.discard(media_id)

    # -- downloads ------------------------------------------------------------------

    async def get(
        self, server_name: str, media_id: str, *, timeout_ms: int = DEFAULT_WAIT_MS
    ) -> MediaFile:
        """The media to serve, waiting up to ``timeout_ms`` for an async upload
        (504 M_NOT_YET_UPLOADED after that); 404 M_NOT_FOUND when there is none or
        it is quarantined (as Synapse: downloads, thumbnails and federation alike)."""
        if not valid_media_id(media_id):
            raise not_found("No such media")
        if self.quarantine.quarantined_by(server_name, media_id) is not None:
            raise not_found("No such media")
        if server_name != self.server_name:
            return await self._remote_media(server_name, media_id, timeout_ms)
        found = self.open_media(server_name, media_id)
        if found is not None:
            return found
        pending = self.pending(media_id)
        if pending is None or pending.expires_ts <= self._clock():
            raise not_found("No such media")
        await self._wait(server_name, media_id, min(timeout_ms, MAX_WAIT_MS))
        found = self.open_media(server_name, media_id)
        if found is None:
            raise not_yet_uploaded()
        return found

    def created_ts(self, server_name: str, media_id: str) -> int | None:
        """When the media (or its pending ID) was created; None if unknown."""
        meta = self.metadata(server_name, media_id)
        if meta is not None:
            return meta.created_ts
        if server_name == self.server_name and valid_media_id(media_id):
            pending = self.pending(media_id)
            if pending is not None:
                return pending.created_ts
        return None

    async def _wait(self, server_name: str, media_id: str, timeout_ms: int) -> None:
        if timeout_ms <= 0:
            return
        name = f"{server_name}/{media_id}"
        event = self._waiters.setdefault(name, asyncio.Event())
        self._waiting[name] = self._waiting.get(name, 0) + 1
        try:
            await asyncio.wait_for(event.wait(), timeout_ms / 1000)
        except TimeoutError:
            pass
        finally:
            # The last waiter to give up forgets the event (an upload that never
            # comes must not leave one behind).
            self._waiting[name] -= 1
            if not self._waiting[name]:
                del self._waiting[name]
                if self._waiters.get(name) is event:
                    del self._waiters[name]

    async def _remote_media(self, server_name: str, media_id: str, timeout_ms: int) -> MediaFile:
        if not ServerName.is_valid(server_name):
            # Spec (content repository, security): only valid server names are looked up.
            raise not_found("No such media")
        if server_name in self.config.prevent_downloads_from:
            # As conduwuit: say "not found" rather than that the server is blocked.
            log.info("media: refused media of blocked server %s", server_name)
            raise not_found("No such media")
        found = self.open_media(server_name, media_id)
        if found is not None:
            return found
        name = f"{server_name}/{media_id}"
        task = self._fetching.get(name)
        if task is None:
            task = self._start_fetch(name, server_name, media_id, timeout_ms)
        try:
            # Each asker waits its own timeout_ms; the fetch goes on for the others
            # (and to fill the cache) under the federation client's own timeouts.
            return await asyncio.wait_for(asyncio.shield(task), timeout_ms / 1000)
        except TimeoutError:
            raise MatrixError(
                ErrCode.NOT_YET_UPLOADED,
                f"{server_name} did not send the media within timeout_ms ({timeout_ms})",
            ) from None

    def _start_fetch(
        self, name: str, server_name: str, media_id: str, timeout_ms: int
    ) -> asyncio.Future[MediaFile]:
        future: asyncio.Future[MediaFile] = asyncio.get_running_loop().create_future()
        # Retrieved here so that a failure nobody waits for any more is not logged
        # as "never retrieved" (each asker got its own error or timeout).
        future.add_done_callback(lambda f: f.cancelled() or f.exception())

        async def run() -> None:
            try:
                future.set_result(await self._fetch_remote(server_name, media_id, timeout_ms))
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:
                future.set_exception(exc)
            finally:
                self._fetching.pop(name, None)

        self._fetching[name] = future
        _ = self._fetches.spawn(f"media fetch {name}", run())
        return future

    async def _fetch_remote(self, server_name: str, media_id: str, timeout_ms: int) -> MediaFile:
        async with self._remote.fetch(server_name, media_id, timeout_ms=timeout_ms) as content:
            try:
                partial = await self.store.write(content.chunks, limit=self.config.max_upload_size)
            except TooLargeError:
                # Spec: remote media over the limit is 502 M_TOO_LARGE.
                raise MatrixError(
                    ErrCode.TOO_LARGE, "The remote media is too large", status=502
                ) from None
        meta = await self._commit(
            partial,
            media_id,
            None,
            content.content_type,
            content.filename,
            server_name=server_name,
        )
        return MediaFile(meta, self.store.path(meta.sha256))

    # -- deletion (the admin room's media commands and the admin API call these) ------

    def _stage_delete(self, batch: Any, meta: MediaMetadata) -> None:
        batch.delete(self._metadata, key(meta.server_name, meta.media_id))
        batch.delete(self._refs, key(meta.sha256, meta.server_name, meta.media_id))
        if meta.uploader is not None:
            batch.delete(self._user_media, key(meta.uploader, meta.media_id))
        self.quarantine.stage_forget(batch, meta.server_name, meta.media_id)

    async def delete_many(self, metas: list[MediaMetadata]) -> int:
        """Delete these media (their metadata in one batch, then each blob no media
        refers to any more, and its thumbnails); how many."""
        if not metas:
            return 0
        async with self._blobs:
            with self._db.batch() as batch:
                for meta in metas:
                    self._stage_delete(batch, meta)
            for sha256 in {m.sha256 for m in metas}:
                if self._refs.count_prefix(prefix(sha256)) == 0:
                    self.store.delete(sha256)
                    if self._on_blob_deleted is not None:
                        self._on_blob_deleted(sha256)
        return len(metas)

    async def delete(self, server_name: str, media_id: str) -> bool:
        """Delete one media (local or cached remote); whether it existed."""
        meta = self.metadata(server_name, media_id)
        if meta is None:
            return False
        return await self.delete_many([meta]) == 1

    def user_media(self, user_id: str) -> list[MediaMetadata]:
        """Every media a local user uploaded."""
        metas = []
        for k, _ in self._user_media.iter_prefix(prefix(user_id)):
            meta = self.metadata(self.server_name, split(k)[-1].decode())
            if meta is not None:
                metas.append(meta)
        return metas

    async def delete_user_media(self, user_id: str) -> int:
        """Delete every media a local user uploaded; how many."""
        return await self.delete_many(self.user_media(user_id))

    async def delete_before(
        self, before_ts: int, *, include_local: bool = False, newer: bool = False
    ) -> int:
        """Delete media created (remote: cached) before ``before_ts`` (``newer``: at
        or after it); remote media only unless ``include_local``. How many."""
        metas = [
            m
            for m in self.all_metadata()
            if (m.created_ts >= before_ts if newer else m.created_ts < before_ts)
            and (include_local or m.server_name != self.server_name)
        ]
        return await self.delete_many(metas)

    async def delete_from_server(self, server_name: str) -> int:
        """Delete every media (cached, or local when ``server_name`` is ours) from
        ``server_name``; how many."""
        return await self.delete_many(
            [m for m in self.all_metadata() if m.server_name == server_name]
        )

    async def delete_remote(self) -> int:
        """Delete every cached remote media; how many."""
        metas = [m for m in self.all_metadata() if m.server_name != self.server_name]
        return await self.delete_many(metas)
