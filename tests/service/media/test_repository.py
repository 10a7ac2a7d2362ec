"""MediaRepository over a real database: store_file, remote media through the
RemoteMedia protocol, the startup check, and the deletion functions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conduwuit.core.errors import MatrixError, not_found
from conduwuit.db import Database, DatabaseOptions
from conduwuit.service.media.repository import (
    MediaConfig,
    MediaRepository,
    RemoteContent,
)
from conduwuit.service.media.store import MediaStore
from tests.kit.homeserver import FakeClock

SERVER = "test.example"


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@dataclass
class OtherServers:
    """Stands in for federation (other servers are on the internet)."""

    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)
    #: When set, fetches wait for it (to hold several requests in flight).
    gate: asyncio.Event | None = None

    @asynccontextmanager
    async def _open(self, server_name: str, media_id: str) -> AsyncIterator[RemoteContent]:
        self.asked.append((server_name, media_id))
        if self.gate is not None:
            await self.gate.wait()
        body = self.files.get((server_name, media_id))
        if body is None:
            raise not_found("No such media")
        yield RemoteContent("text/plain", "remote.txt", chunks(body))

    def fetch(
        self, server_name: str, media_id: str, *, timeout_ms: int
    ) -> AbstractAsyncContextManager[RemoteContent]:
        return self._open(server_name, media_id)


@dataclass
class Setup:
    db: Database
    clock: FakeClock
    remote: OtherServers
    path: Path

    def repository(self, **options: object) -> MediaRepository:
        config = MediaConfig(server_name=SERVER, max_upload_size=1000, **options)  # type: ignore[arg-type]
        media = MediaRepository(
            self.db, MediaStore(self.path / "media"), config, self.clock, self.remote
        )
        media.start()
        return media


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    db = Database.open(DatabaseOptions(path=tmp_path / "db"))
    yield Setup(db, FakeClock(), OtherServers(), tmp_path)
    db.close()


async def upload(media: MediaRepository, body: bytes, user: str = "@alice:test.example") -> str:
    meta = await media.upload(chunks(body), uploader=user, content_type="text/plain", filename=None)
    return meta.media_id


async def test_store_file_makes_local_media(setup: Setup) -> None:
    media = setup.repository()
    source = setup.path / "preview.png"
    source.write_bytes(b"\x89PNG preview")
    meta = await media.store_file(
        source, content_type="image/png", filename="og.png", uploader=None
    )
    found = media.open_media(SERVER, meta.media_id)
    assert found is not None
    assert found.path.read_bytes() == b"\x89PNG preview"
    assert found.metadata.content_type == "image/png"
    assert found.metadata.filename == "og.png"
    assert found.metadata.created_ts == setup.clock.now
    big = setup.path / "big.bin"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(MatrixError) as error:
        await media.store_file(big, content_type=None, filename=None, uploader=None)
    assert error.value.status == 413


async def test_remote_media_is_fetched_once_and_cached(setup: Setup) -> None:
    setup.remote.files[("remote.example", "abc")] = b"from afar"
    media = setup.repository()
    found = await media.get("remote.example", "abc")
    assert found.path.read_bytes() == b"from afar"
    assert found.metadata.server_name == "remote.example"
    assert found.metadata.uploader is None
    again = await media.get("remote.example", "abc")
    assert again.metadata == found.metadata
    assert setup.remote.asked == [("remote.example", "abc")]
    with pytest.raises(MatrixError) as error:
        await media.get("remote.example", "missing")
    assert error.value.status == 404
    for bad_server in ("../etc", "bad_server!", ""):
        with pytest.raises(MatrixError) as error:
            await media.get(bad_server, "abc")
        assert error.value.status == 404
    assert ("../etc", "abc") not in setup.remote.asked
    assert len(setup.remote.asked) == 2


async def test_concurrent_requests_for_one_remote_media_fetch_it_once(setup: Setup) -> None:
    setup.remote.files[("remote.example", "abc")] = b"shared"
    setup.remote.gate = asyncio.Event()
    media = setup.repository()
    waiting = [asyncio.create_task(media.get("remote.example", "abc")) for _ in range(5)]
    await asyncio.sleep(0.05)
    setup.remote.gate.set()
    found = await asyncio.gather(*waiting)
    assert {f.path.read_bytes() for f in found} == {b"shared"}
    assert setup.remote.asked == [("remote.example", "abc")]


async def test_a_slow_remote_is_504_within_timeout_ms_and_cached_later(setup: Setup) -> None:
    setup.remote.files[("remote.example", "slow")] = b"eventually"
    setup.remote.gate = asyncio.Event()
    media = setup.repository()
    with pytest.raises(MatrixError) as error:
        await media.get("remote.example", "slow", timeout_ms=50)
    assert (error.value.status, error.value.errcode) == (504, "M_NOT_YET_UPLOADED")
    assert media.metadata("remote.example", "slow") is None
    setup.remote.gate.set()
    found = await media.get("remote.example", "slow", timeout_ms=5_000)
    assert found.path.read_bytes() == b"eventually"
    assert setup.remote.asked == [("remote.example", "slow")]


async def test_stop_cancels_a_fetch_and_leaves_nothing(setup: Setup) -> None:
    setup.remote.files[("remote.example", "never")] = b"never stored"
    setup.remote.gate = asyncio.Event()
    media = setup.repository()
    with pytest.raises(MatrixError):
        await media.get("remote.example", "never", timeout_ms=20)
    await media.stop()
    assert media.metadata("remote.example", "never") is None
    assert list(media.store.tmp.iterdir()) == []
    assert list(media.store.blob_names()) == []


async def test_remote_media_over_the_limit_is_502(setup: Setup) -> None:
    setup.remote.files[("remote.example", "big")] = b"x" * 1001
    media = setup.repository()
    with pytest.raises(MatrixError) as error:
        await media.get("remote.example", "big")
    assert (error.value.status, error.value.errcode) == (502, "M_TOO_LARGE")
    assert list(media.all_metadata()) == []


async def test_blocked_servers_are_never_asked(setup: Setup) -> None:
    setup.remote.files[("evil.example", "abc")] = b"bad"
    media = setup.repository(prevent_downloads_from=frozenset({"evil.example"}))
    with pytest.raises(MatrixError) as error:
        await media.get("evil.example", "abc")
    assert (error.value.status, error.value.errcode) == (404, "M_NOT_FOUND")
    assert setup.remote.asked == []


async def test_delete_by_user_before_a_date_and_remote(setup: Setup) -> None:
    setup.remote.files[("remote.example", "r1")] = b"remote one"
    setup.remote.files[("remote.example", "r2")] = b"remote two"
    media = setup.repository()
    a1 = await upload(media, b"alice one")
    setup.clock.advance(1000)
    a2 = await upload(media, b"alice two")
    b1 = await upload(media, b"bob one", "@bob:test.example")
    await media.get("remote.example", "r1")
    setup.clock.advance(1000)
    await media.get("remote.example", "r2")

    # Before a date: remote media only, unless local is asked for too.
    cutoff = setup.clock.now
    assert await media.delete_before(cutoff) == 1
    assert media.metadata("remote.example", "r1") is None
    assert media.metadata("remote.example", "r2") is not None
    assert await media.delete_before(cutoff - 1500, include_local=True) == 1
    assert media.metadata(SERVER, a1) is None

    assert await media.delete_user_media("@alice:test.example") == 1
    assert media.metadata(SERVER, a2) is None
    assert media.metadata(SERVER, b1) is not None

    assert await media.delete_remote() == 1
    assert [m.media_id for m in media.all_metadata()] == [b1]
    assert len(list(media.store.blob_names())) == 1
    assert await media.delete(SERVER, b1)
    assert not await media.delete(SERVER, b1)
    assert list(media.store.blob_names()) == []


async def test_startup_check_reports_and_prunes(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    media = setup.repository()
    kept = await upload(media, b"kept")
    lost = await upload(media, b"lost")
    lost_meta = media.metadata(SERVER, lost)
    assert lost_meta is not None
    media.store.path(lost_meta.sha256).unlink()
    orphan = media.store.commit(await media.store.write(chunks(b"orphan"), limit=None))
    (media.store.tmp / "crashed.part").write_bytes(b"half")

    caplog.set_level(logging.WARNING)
    again = MediaRepository(
        setup.db,
        MediaStore(setup.path / "media"),
        MediaConfig(server_name=SERVER, max_upload_size=1000),
        setup.clock,
    )
    report = again.start()
    assert report.missing == [f"mxc://{SERVER}/{lost}"]
    assert report.pruned == 0
    assert report.orphans == [orphan.sha256]
    assert report.temp_removed == 1
    assert again.metadata(SERVER, lost) is not None
    assert "is missing" in caplog.text and "not referred to" in caplog.text

    pruning = MediaRepository(
        setup.db,
        MediaStore(setup.path / "media"),
        MediaConfig(server_name=SERVER, max_upload_size=1000, prune_missing=True),
        setup.clock,
    )
    assert pruning.start().pruned == 1
    assert pruning.metadata(SERVER, lost) is None
    assert pruning.metadata(SERVER, kept) is not None


async def test_expired_pending_uploads_are_dropped_at_start(setup: Setup) -> None:
    media = setup.repository(pending_expiry_ms=1000)
    pending = media.create_pending("@alice:test.example")
    assert media.pending(pending.media_id) is not None
    setup.clock.advance(1000)
    again = setup.repository()
    assert again.start().expired_pending == 0  # the first start() already dropped it
    assert again.pending(pending.media_id) is None


async def test_quarantined_media_is_not_served_not_even_refetched(setup: Setup) -> None:
    setup.remote.files[("remote.example", "abc")] = b"from afar"
    media = setup.repository()
    local = await upload(media, b"mine")
    await media.get("remote.example", "abc")
    for server_name, media_id in ((SERVER, local), ("remote.example", "abc")):
        media.quarantine.set(server_name, media_id, "@admin:test.example")
        with pytest.raises(MatrixError) as error:
            await media.get(server_name, media_id)
        assert error.value.status == 404
        assert media.open_media(server_name, media_id) is not None  # the file stays
    # A quarantined remote media is not fetched again either.
    assert setup.remote.asked == [("remote.example", "abc")]
    media.quarantine.set(SERVER, local, None)
    assert (await media.get(SERVER, local)).path.read_bytes() == b"mine"
    # Deletion (the admin room's and the admin API's) drops the mark with the media.
    assert await media.delete("remote.example", "abc")
    assert media.quarantine.quarantined_by("remote.example", "abc") is None
