"""MediaStore: content addressing, crash-safe writes, limits, leftovers reclaimed."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conduwuit.service.media.store import MediaStore, TooLargeError, is_sha256


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    store = MediaStore(tmp_path / "media")
    store.open()
    return store


async def test_write_and_commit_names_the_blob_by_sha256(store: MediaStore) -> None:
    partial = await store.write(chunks(b"hello ", b"world"), limit=None)
    assert partial.temp.parent == store.tmp and partial.temp.exists()
    assert not store.exists(partial.blob.sha256)
    blob = store.commit(partial)
    assert blob.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert blob.size == 11
    path = store.path(blob.sha256)
    assert path == store.blobs / blob.sha256[:2] / blob.sha256[2:4] / blob.sha256
    assert path.read_bytes() == b"hello world"
    assert list(store.tmp.iterdir()) == []
    assert list(store.blob_names()) == [blob.sha256]


async def test_same_content_is_stored_once(store: MediaStore) -> None:
    first = store.commit(await store.write(chunks(b"same"), limit=None))
    second = store.commit(await store.write(chunks(b"sa", b"me"), limit=None))
    assert first == second
    assert list(store.blob_names()) == [first.sha256]
    assert list(store.tmp.iterdir()) == []


async def test_over_the_limit_leaves_nothing(store: MediaStore) -> None:
    with pytest.raises(TooLargeError):
        await store.write(chunks(b"12345", b"6"), limit=5)
    assert list(store.tmp.iterdir()) == []
    assert list(store.blob_names()) == []
    partial = await store.write(chunks(b"12345"), limit=5)
    assert partial.blob.size == 5


async def test_a_failing_stream_leaves_nothing(store: MediaStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"part"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.write(broken(), limit=None)
    assert list(store.tmp.iterdir()) == []


def test_import_file_copies(store: MediaStore, tmp_path: Path) -> None:
    source = tmp_path / "fetched.png"
    source.write_bytes(b"\x89PNG fetched")
    blob = store.commit(store.import_file(source))
    assert store.path(blob.sha256).read_bytes() == b"\x89PNG fetched"
    assert source.exists()
    with pytest.raises(TooLargeError):
        store.import_file(source, limit=3)
    assert list(store.tmp.iterdir()) == []


def test_open_reclaims_temp_files(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    store.open()
    (store.tmp / "abc.part").write_bytes(b"half an upload")
    (store.tmp / "def.part").write_bytes(b"")
    assert MediaStore(tmp_path / "media").open() == 2
    assert list(store.tmp.iterdir()) == []


def test_paths_only_for_digests(store: MediaStore) -> None:
    assert is_sha256("a" * 64)
    for bad in ("../../etc/passwd", "A" * 64, "a" * 63, ""):
        assert not is_sha256(bad)
        with pytest.raises(ValueError):
            store.path(bad)
