"""GET thumbnail over HTTP: sizes and formats decoded with Pillow, the downloads'
safe headers, waiting for an async upload, legacy rules, and every refusal."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image

from tests.http.media.test_content import (
    AUTHED,
    MEDIA,
    Fetched,
    create,
    get,
    put_content,
    upload_ok,
)
from tests.kit.homeserver import Homeserver, StartHomeserver


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def photo(width: int, height: int) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    return encode(image, "JPEG", quality=90)


def animation(frames: int) -> bytes:
    images = [Image.new("RGB", (400, 300), (i * 20, 0, 255 - i * 20)) for i in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=50)


def decode(got: Fetched) -> Image.Image:
    image = Image.open(io.BytesIO(got.body))
    image.load()
    return image


def thumb_path(media_id: str, query: str, prefix: str = AUTHED) -> str:
    return f"{prefix}/thumbnail/test.example/{media_id}?{query}"


@pytest.fixture
async def alice(hs: Homeserver) -> str:
    token: str = (await hs.register("alice"))["access_token"]
    return token


def thumbnail_files(hs: Homeserver) -> list[str]:
    root = hs.services.media.store.root / "thumbnails"
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_crop_is_the_covering_recommended_size(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, photo(1200, 900), content_type="image/jpeg")
    got = await get(hs, thumb_path(media_id, "width=64&height=64&method=crop"), alice)
    assert got.status == 200, got.body[:200]
    image = decode(got)
    assert (image.format, image.size) == ("JPEG", (96, 96))
    assert got.headers["Content-Type"] == "image/jpeg"
    assert got.headers["Content-Disposition"] == 'inline; filename="thumbnail.jpg"'
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Security-Policy"].startswith("sandbox;")
    assert got.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert len(thumbnail_files(hs)) == 1


async def test_scale_keeps_the_aspect_ratio_and_defaults(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, photo(1000, 500), content_type="image/jpeg")
    # method defaults to scale; 300x200 is covered by the 320x240 box.
    got = await get(hs, thumb_path(media_id, "width=300&height=200"), alice)
    assert got.status == 200
    assert decode(got).size == (320, 160)
    again = await get(hs, thumb_path(media_id, "width=300&height=200"), alice)
    assert again.body == got.body
    assert hs.services.thumbnailer.generated == 1


async def test_small_original_is_served_itself(hs: Homeserver, alice: str) -> None:
    original = encode(Image.new("RGBA", (20, 10), (1, 2, 3, 4)), "PNG")
    media_id = await upload_ok(hs, alice, original, content_type="image/png")
    got = await get(hs, thumb_path(media_id, "width=96&height=96&method=scale"), alice)
    assert got.status == 200 and got.body == original
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"] == 'inline; filename="thumbnail.png"'


async def test_animated_thumbnail_of_a_gif(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, animation(5), content_type="image/gif")
    got = await get(hs, thumb_path(media_id, "width=320&height=240&animated=true"), alice)
    assert got.status == 200
    image = decode(got)
    assert image.format == "WEBP" and got.headers["Content-Type"] == "image/webp"
    assert getattr(image, "n_frames", 1) == 5
    still = await get(hs, thumb_path(media_id, "width=320&height=240"), alice)
    assert decode(still).format == "PNG"  # a GIF original: PNG, as in Synapse


async def test_needs_a_token(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, photo(200, 200), content_type="image/jpeg")
    got = await get(hs, thumb_path(media_id, "width=32&height=32"))
    assert got.status == 401 and got.json()["errcode"] == "M_MISSING_TOKEN"
    assert thumbnail_files(hs) == []


@pytest.mark.parametrize(
    ("query", "errcode"),
    [
        ("height=32", "M_MISSING_PARAM"),
        ("width=32", "M_MISSING_PARAM"),
        ("width=0&height=32", "M_INVALID_PARAM"),
        ("width=32&height=-1", "M_INVALID_PARAM"),
        ("width=abc&height=32", "M_INVALID_PARAM"),
        ("width=32.5&height=32", "M_INVALID_PARAM"),
        ("width=32&height=32&method=zoom", "M_INVALID_PARAM"),
        ("width=32&height=32&animated=yes", "M_INVALID_PARAM"),
        ("width=32&height=32&timeout_ms=soon", "M_INVALID_PARAM"),
    ],
)
async def test_bad_parameters_are_400_and_generate_nothing(
    hs: Homeserver, alice: str, query: str, errcode: str
) -> None:
    media_id = await upload_ok(hs, alice, photo(200, 200), content_type="image/jpeg")
    got = await get(hs, thumb_path(media_id, query), alice)
    assert got.status == 400 and got.json()["errcode"] == errcode, got.json()
    assert thumbnail_files(hs) == [] and hs.services.thumbnailer.generated == 0


async def test_unknown_and_not_asked_for_remote_media_are_404(hs: Homeserver, alice: str) -> None:
    for path in (
        thumb_path("doesNotExist", "width=32&height=32"),
        f"{AUTHED}/thumbnail/other.example/someMedia?width=32&height=32&allow_remote=false",
        f"{AUTHED}/thumbnail/test.example/bad$id?width=32&height=32",
    ):
        got = await get(hs, path, alice)
        assert got.status == 404 and got.json()["errcode"] == "M_NOT_FOUND", path


async def test_waits_for_an_async_upload(hs: Homeserver, alice: str) -> None:
    _, reply = await create(hs, alice)
    media_id = reply["content_uri"].removeprefix("mxc://test.example/")
    got = await get(hs, thumb_path(media_id, "width=32&height=32&timeout_ms=0"), alice)
    assert got.status == 504 and got.json()["errcode"] == "M_NOT_YET_UPLOADED"
    waiting = asyncio.create_task(
        get(hs, thumb_path(media_id, "width=32&height=32&method=crop&timeout_ms=10000"), alice)
    )
    await asyncio.sleep(0.1)
    assert not waiting.done()
    jpeg = photo(300, 300)
    headers = {"Authorization": f"Bearer {alice}", "Content-Type": "image/jpeg"}
    async with hs.client.put(
        f"{MEDIA}/upload/test.example/{media_id}", data=jpeg, headers=headers
    ) as r:
        assert r.status == 200
    got = await asyncio.wait_for(waiting, 10)
    assert got.status == 200 and decode(got).size == (32, 32)


async def test_not_yet_uploaded_times_out(hs: Homeserver, alice: str) -> None:
    _, reply = await create(hs, alice)
    media_id = reply["content_uri"].removeprefix("mxc://test.example/")
    got = await get(hs, thumb_path(media_id, "width=32&height=32&timeout_ms=200"), alice)
    assert got.status == 504 and got.json()["errcode"] == "M_NOT_YET_UPLOADED"
    assert await put_content(hs, alice, media_id) == (200, {})


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"just some text", "text/plain"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        (b"<html><body>hi</body></html>", "application/octet-stream"),
        (photo(100, 100)[:300], "image/jpeg"),
    ],
)
async def test_what_is_not_an_image_is_400(
    hs: Homeserver, alice: str, body: bytes, content_type: str
) -> None:
    media_id = await upload_ok(hs, alice, body, content_type=content_type)
    got = await get(hs, thumb_path(media_id, "width=32&height=32"), alice)
    assert got.status == 400 and got.json()["errcode"] == "M_UNKNOWN"
    assert thumbnail_files(hs) == []


def png_bomb() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def test_decompression_bomb_is_413(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, png_bomb(), content_type="image/png")
    got = await get(hs, thumb_path(media_id, "width=32&height=32"), alice)
    assert got.status == 413 and got.json()["errcode"] == "M_TOO_LARGE"
    assert thumbnail_files(hs) == []


async def test_legacy_thumbnail_follows_the_freeze(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, photo(200, 200), content_type="image/jpeg")
    for version in ("r0", "v3"):
        got = await get(hs, thumb_path(media_id, "width=32&height=32", f"/_matrix/media/{version}"))
        assert got.status == 404 and got.json()["errcode"] == "M_NOT_FOUND"


async def test_legacy_thumbnail_without_the_freeze(start: StartHomeserver) -> None:
    hs = await start(freeze_legacy_media=False)
    token: str = (await hs.register("alice"))["access_token"]
    media_id = await upload_ok(hs, token, photo(200, 200), content_type="image/jpeg")
    got = await get(hs, thumb_path(media_id, "width=32&height=32", f"{MEDIA}"))
    assert got.status == 200 and decode(got).size == (32, 32)
    assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    bad = await get(hs, thumb_path(media_id, "width=0&height=32", f"{MEDIA}"))
    assert bad.status == 400 and bad.json()["errcode"] == "M_INVALID_PARAM"


async def test_legacy_thumbnail_can_be_turned_off(start: StartHomeserver) -> None:
    hs = await start(allow_legacy_media=False, freeze_legacy_media=False)
    token: str = (await hs.register("alice"))["access_token"]
    media_id = await upload_ok(hs, token, photo(200, 200), content_type="image/jpeg")
    got = await get(hs, thumb_path(media_id, "width=32&height=32", f"{MEDIA}"))
    assert got.status == 404 and got.json()["errcode"] == "M_UNRECOGNIZED"
    got = await get(hs, thumb_path(media_id, "width=32&height=32"), token)
    assert got.status == 200


async def test_deleting_the_last_media_of_a_content_removes_its_thumbnails(
    hs: Homeserver, alice: str
) -> None:
    jpeg = photo(400, 300)
    first = await upload_ok(hs, alice, jpeg, content_type="image/jpeg")
    second = await upload_ok(hs, alice, jpeg, content_type="image/jpeg")
    for query in ("width=32&height=32&method=crop", "width=320&height=240"):
        assert (await get(hs, thumb_path(first, query), alice)).status == 200
    assert len(thumbnail_files(hs)) == 2

    # The content is still referred to by the second media: its thumbnails stay.
    assert await hs.services.media.delete("test.example", first)
    assert len(thumbnail_files(hs)) == 2
    got = await get(hs, thumb_path(second, "width=32&height=32&method=crop"), alice)
    assert got.status == 200 and decode(got).size == (32, 32)

    assert await hs.services.media.delete("test.example", second)
    assert thumbnail_files(hs) == []
    assert list((hs.services.media.store.root / "thumbnails").iterdir()) == []
    got = await get(hs, thumb_path(second, "width=32&height=32&method=crop"), alice)
    assert got.status == 404 and got.json()["errcode"] == "M_NOT_FOUND"
