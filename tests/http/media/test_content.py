"""The content repository over HTTP: upload, async upload, config, download, refusals,
safe serving (Content-Disposition, CSP, nosniff) and Range requests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.kit.homeserver import Homeserver, StartHomeserver, start_homeserver

MEDIA = "/_matrix/media/v3"
AUTHED = "/_matrix/client/v1/media"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def upload(
    hs: Homeserver,
    token: str,
    body: bytes,
    *,
    content_type: str | None = "image/png",
    filename: str | None = None,
) -> tuple[int, Any]:
    headers = bearer(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    params = {"filename": filename} if filename is not None else None
    async with hs.client.post(
        f"{MEDIA}/upload", data=body, headers=headers, params=params
    ) as response:
        return response.status, await response.json()


async def upload_ok(hs: Homeserver, token: str, body: bytes = PNG, **kwargs: Any) -> str:
    status, reply = await upload(hs, token, body, **kwargs)
    assert status == 200, reply
    uri: str = reply["content_uri"]
    assert uri.startswith("mxc://test.example/")
    return uri.removeprefix("mxc://test.example/")


class Fetched:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


async def get(hs: Homeserver, path: str, token: str | None = None, **headers: str) -> Fetched:
    all_headers = {**(bearer(token) if token else {}), **headers}
    async with hs.client.get(path, headers=all_headers) as response:
        return Fetched(response.status, response.headers, await response.read())


@pytest.fixture
async def alice(hs: Homeserver) -> str:
    token: str = (await hs.register("alice"))["access_token"]
    return token


# -- upload and download ---------------------------------------------------------------


async def test_upload_then_download_authenticated(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, filename="cat.png")
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.status == 200
    assert got.body == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"] == 'inline; filename="cat.png"'
    assert got.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert got.headers["Content-Security-Policy"] == (
        "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
        "style-src 'unsafe-inline'; object-src 'self';"
    )
    meta = hs.services.media.metadata("test.example", media_id)
    assert meta is not None and meta.uploader == "@alice:test.example"
    assert meta.size == len(PNG)


async def test_download_with_a_file_name_overrides_the_stored_one(
    hs: Homeserver, alice: str
) -> None:
    media_id = await upload_ok(hs, alice, filename="cat.png")
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}/other.png", alice)
    assert got.headers["Content-Disposition"] == 'inline; filename="other.png"'
    coffee = await get(hs, f"{AUTHED}/download/test.example/{media_id}/{quote('☕')}", alice)
    assert coffee.headers["Content-Disposition"] == "inline; filename*=utf-8''%E2%98%95"


async def test_identical_uploads_are_stored_once(hs: Homeserver, alice: str) -> None:
    first = await upload_ok(hs, alice)
    second = await upload_ok(hs, alice, filename="again.png")
    assert first != second
    blobs = list(hs.services.media.store.blob_names())
    assert len(blobs) == 1
    # Deleting one keeps the file for the other; deleting both removes it.
    assert await hs.services.media.delete("test.example", first)
    assert (await get(hs, f"{AUTHED}/download/test.example/{second}", alice)).body == PNG
    assert await hs.services.media.delete("test.example", second)
    assert list(hs.services.media.store.blob_names()) == []


async def test_upload_without_content_type_is_served_as_octet_stream(
    hs: Homeserver, alice: str
) -> None:
    media_id = await upload_ok(hs, alice, b"hello", content_type=None)
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"] == "attachment"


async def test_config_reports_the_upload_limit(start: StartHomeserver) -> None:
    hs = await start(max_request_size=123456)
    token = (await hs.register("alice"))["access_token"]
    for path in (f"{AUTHED}/config", f"{MEDIA}/config"):
        got = await get(hs, path, token)
        assert got.status == 200 and got.json() == {"m.upload.size": 123456}


# -- refusals --------------------------------------------------------------------------


async def test_authenticated_download_needs_a_token(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice)
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}")
    assert got.status == 401 and got.json()["errcode"] == "M_MISSING_TOKEN"
    got = await get(hs, f"{AUTHED}/config")
    assert got.status == 401 and got.json()["errcode"] == "M_MISSING_TOKEN"


async def test_upload_needs_a_token(hs: Homeserver) -> None:
    async with hs.client.post(f"{MEDIA}/upload", data=PNG) as response:
        assert response.status == 401
        assert (await response.json())["errcode"] == "M_MISSING_TOKEN"
    assert list(hs.services.media.all_metadata()) == []


async def test_too_large_upload_is_413_and_stores_nothing(start: StartHomeserver) -> None:
    hs = await start(max_request_size=4096)
    token = (await hs.register("alice"))["access_token"]
    status, reply = await upload(hs, token, b"x" * 5000)
    assert status == 413 and reply["errcode"] == "M_TOO_LARGE"

    async def chunked() -> Any:
        for _ in range(5):
            yield b"y" * 1000

    # Without a Content-Length the stream is cut off at the limit.
    async with hs.client.post(f"{MEDIA}/upload", data=chunked(), headers=bearer(token)) as r:
        assert r.status == 413 and (await r.json())["errcode"] == "M_TOO_LARGE"
    assert list(hs.services.media.all_metadata()) == []
    assert list(hs.services.media.store.blob_names()) == []
    assert list(hs.services.media.store.tmp.iterdir()) == []


async def test_unknown_media_is_404(hs: Homeserver, alice: str) -> None:
    for path in (
        f"{AUTHED}/download/test.example/nosuchmedia",
        f"{AUTHED}/download/test.example/bad.id",
        f"{MEDIA}/download/test.example/nosuchmedia",
    ):
        got = await get(hs, path, alice)
        assert got.status == 404 and got.json()["errcode"] == "M_NOT_FOUND", path


async def test_remote_media_not_asked_for_or_unreachable(hs: Homeserver, alice: str) -> None:
    got = await get(hs, f"{AUTHED}/download/other.example/abc?allow_remote=false", alice)
    assert got.status == 404 and got.json()["errcode"] == "M_NOT_FOUND"
    # An origin that cannot be reached (no such server): 502, nothing cached.
    got = await get(hs, f"{AUTHED}/download/other.invalid/abc", alice)
    assert got.status == 502 and "other.invalid" in got.json()["error"]
    assert list(hs.services.media.all_metadata()) == []


async def test_bad_query_params_are_400(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice)
    for query in ("timeout_ms=soon", "allow_remote=yes"):
        got = await get(hs, f"{AUTHED}/download/test.example/{media_id}?{query}", alice)
        assert got.status == 400 and got.json()["errcode"] == "M_INVALID_PARAM", query


async def test_bad_upload_details_are_400_and_store_nothing(hs: Homeserver, alice: str) -> None:
    status, reply = await upload(hs, alice, PNG, filename="x" * 2000)
    assert status == 400 and reply["errcode"] == "M_INVALID_PARAM"
    status, reply = await upload(hs, alice, PNG, content_type="image/" + "p" * 300)
    assert status == 400 and reply["errcode"] == "M_INVALID_PARAM"
    assert list(hs.services.media.all_metadata()) == []


# -- async uploads (MSC2246) -----------------------------------------------------------


async def create(hs: Homeserver, token: str) -> tuple[int, Any]:
    async with hs.client.post("/_matrix/media/v1/create", headers=bearer(token)) as r:
        return r.status, await r.json()


async def put_content(
    hs: Homeserver, token: str, media_id: str, body: bytes = PNG
) -> tuple[int, Any]:
    headers = {**bearer(token), "Content-Type": "image/png"}
    async with hs.client.put(
        f"{MEDIA}/upload/test.example/{media_id}",
        data=body,
        headers=headers,
        params={"filename": "late.png"},
    ) as r:
        return r.status, await r.json()


async def test_async_upload(hs: Homeserver, alice: str) -> None:
    status, reply = await create(hs, alice)
    assert status == 200
    assert reply["unused_expires_at"] == hs.clock.now + 86400 * 1000
    media_id = reply["content_uri"].removeprefix("mxc://test.example/")

    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}?timeout_ms=0", alice)
    assert got.status == 504 and got.json()["errcode"] == "M_NOT_YET_UPLOADED"

    assert await put_content(hs, alice, media_id) == (200, {})
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.status == 200 and got.body == PNG
    assert got.headers["Content-Disposition"] == 'inline; filename="late.png"'

    status, reply = await put_content(hs, alice, media_id, b"other")
    assert status == 409 and reply["errcode"] == "M_CANNOT_OVERWRITE_MEDIA"
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.body == PNG


async def test_download_waits_for_an_async_upload(hs: Homeserver, alice: str) -> None:
    _, reply = await create(hs, alice)
    media_id = reply["content_uri"].removeprefix("mxc://test.example/")
    waiting = asyncio.create_task(
        get(hs, f"{AUTHED}/download/test.example/{media_id}?timeout_ms=10000", alice)
    )
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert await put_content(hs, alice, media_id) == (200, {})
    got = await asyncio.wait_for(waiting, 5)
    assert got.status == 200 and got.body == PNG


async def test_waiting_for_an_upload_that_never_comes(hs: Homeserver, alice: str) -> None:
    _, reply = await create(hs, alice)
    media_id = reply["content_uri"].removeprefix("mxc://test.example/")
    path = f"{AUTHED}/download/test.example/{media_id}?timeout_ms=200"
    first, second = await asyncio.gather(get(hs, path, alice), get(hs, path, alice))
    for got in (first, second):
        assert got.status == 504 and got.json()["errcode"] == "M_NOT_YET_UPLOADED"


async def test_media_whose_file_is_gone_is_404(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice)
    found = hs.services.media.open_media("test.example", media_id)
    assert found is not None
    found.path.unlink()
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.status == 404 and got.json()["errcode"] == "M_NOT_FOUND"


async def test_async_upload_refusals(hs: Homeserver, alice: str) -> None:
    bob = (await hs.register("bob"))["access_token"]
    _, reply = await create(hs, alice)
    media_id = reply["content_uri"].removeprefix("mxc://test.example/")

    status, reply = await put_content(hs, bob, media_id)
    assert status == 403 and reply["errcode"] == "M_FORBIDDEN"
    status, reply = await put_content(hs, alice, "neverCreated")
    assert status == 404 and reply["errcode"] == "M_NOT_FOUND"
    async with hs.client.put(
        f"{MEDIA}/upload/other.example/{media_id}", data=PNG, headers=bearer(alice)
    ) as r:
        assert r.status == 404 and (await r.json())["errcode"] == "M_NOT_FOUND"
    assert hs.services.media.metadata("test.example", media_id) is None

    hs.clock.advance(86400 * 1000)
    status, reply = await put_content(hs, alice, media_id)
    assert status == 404 and reply["errcode"] == "M_NOT_FOUND"
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.status == 404 and got.json()["errcode"] == "M_NOT_FOUND"
    assert list(hs.services.media.all_metadata()) == []


async def test_pending_uploads_are_limited_per_user(start: StartHomeserver) -> None:
    hs = await start(max_pending_media_uploads=2)
    alice = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    assert (await create(hs, alice))[0] == 200
    assert (await create(hs, alice))[0] == 200
    status, reply = await create(hs, alice)
    assert status == 429 and reply["errcode"] == "M_LIMIT_EXCEEDED"
    assert reply["retry_after_ms"] == 86400 * 1000
    assert (await create(hs, bob))[0] == 200
    hs.clock.advance(86400 * 1000)
    assert (await create(hs, alice))[0] == 200


# -- legacy endpoints and the freeze -----------------------------------------------------


async def test_legacy_download_is_frozen_for_new_media(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice)
    got = await get(hs, f"{MEDIA}/download/test.example/{media_id}")
    assert got.status == 404 and got.json()["errcode"] == "M_NOT_FOUND"
    assert (await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)).status == 200


async def test_legacy_download_serves_media_without_the_freeze(start: StartHomeserver) -> None:
    hs = await start(freeze_legacy_media=False)
    token = (await hs.register("alice"))["access_token"]
    media_id = await upload_ok(hs, token, filename="a.png")
    for version in ("r0", "v1", "v3"):
        got = await get(hs, f"/_matrix/media/{version}/download/test.example/{media_id}")
        assert got.status == 200 and got.body == PNG
        assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    named = await get(hs, f"{MEDIA}/download/test.example/{media_id}/b.png")
    assert named.headers["Content-Disposition"] == 'inline; filename="b.png"'
    # An async upload not uploaded yet is 504 there too.
    _, reply = await create(hs, token)
    pending = reply["content_uri"].removeprefix("mxc://test.example/")
    got = await get(hs, f"{MEDIA}/download/test.example/{pending}?timeout_ms=0")
    assert got.status == 504 and got.json()["errcode"] == "M_NOT_YET_UPLOADED"


async def test_media_from_before_the_freeze_stays_on_legacy(tmp_path: Path) -> None:
    hs = await start_homeserver(tmp_path / "db", freeze_legacy_media=False)
    try:
        token = (await hs.register("alice"))["access_token"]
        hs.clock.advance(-1000)  # the next start (a new FakeClock) is a second later
        old = await upload_ok(hs, token)
    finally:
        await hs.close()
    hs = await start_homeserver(tmp_path / "db", freeze_legacy_media=True)
    try:
        token = (await hs.login("alice"))["access_token"]
        hs.clock.advance(1)
        new = await upload_ok(hs, token, b"new content")
        assert (await get(hs, f"{MEDIA}/download/test.example/{old}")).status == 200
        assert (await get(hs, f"{MEDIA}/download/test.example/{new}")).status == 404
    finally:
        await hs.close()


async def test_legacy_endpoints_can_be_turned_off(start: StartHomeserver) -> None:
    hs = await start(allow_legacy_media=False, freeze_legacy_media=False)
    token = (await hs.register("alice"))["access_token"]
    media_id = await upload_ok(hs, token)
    for path in (f"{MEDIA}/download/test.example/{media_id}", f"{MEDIA}/config"):
        got = await get(hs, path, token)
        assert got.status == 404 and got.json()["errcode"] == "M_UNRECOGNIZED"
    assert (await get(hs, f"{AUTHED}/download/test.example/{media_id}", token)).status == 200


# -- safe serving ------------------------------------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


async def test_svg_with_script_is_an_attachment(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, SVG, content_type="image/svg+xml", filename="x.svg")
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.headers["Content-Type"] == "image/svg+xml"
    assert got.headers["Content-Disposition"] == 'attachment; filename="x.svg"'
    assert got.headers["Content-Security-Policy"].startswith("sandbox;")


async def test_html_is_never_inline(hs: Homeserver, alice: str) -> None:
    as_png = await upload_ok(hs, alice, HTML, content_type="image/png")
    got = await get(hs, f"{AUTHED}/download/test.example/{as_png}", alice)
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    as_html = await upload_ok(hs, alice, HTML + b" ", content_type="text/html")
    got = await get(hs, f"{AUTHED}/download/test.example/{as_html}", alice)
    assert got.headers["Content-Type"] == "text/html"
    assert got.headers["Content-Disposition"] == "attachment"


async def test_text_plain_with_parameters_is_inline(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice, b"hi", content_type="Text/Plain; charset=utf-8")
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.headers["Content-Type"].lower().startswith("text/plain")
    assert got.headers["Content-Disposition"] == "inline"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ('a"b.png', "inline; filename*=utf-8''a%22b.png"),
        ("evil\r\nSet-Cookie: x=1.png", 'inline; filename="evilSet-Cookie: x=1.png"'),
        ("../../etc/passwd", 'inline; filename=".._.._etc_passwd"'),
        ("dir\\file.png", 'inline; filename="dir_file.png"'),
        ("名前.png", "inline; filename*=utf-8''%E5%90%8D%E5%89%8D.png"),
        ("name;with;semicolons", 'inline; filename="name;with;semicolons"'),
        ("\n\r", "inline"),
    ],
)
async def test_malicious_filenames_are_sanitised(
    hs: Homeserver, alice: str, filename: str, expected: str
) -> None:
    media_id = await upload_ok(hs, alice, filename=filename)
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", alice)
    assert got.status == 200
    assert got.headers["Content-Disposition"] == expected
    assert "Set-Cookie" not in got.headers


# -- Range requests ----------------------------------------------------------------------


async def test_range_requests(hs: Homeserver, alice: str) -> None:
    body = bytes(range(256)) * 40
    media_id = await upload_ok(hs, alice, body, content_type="video/mp4")
    path = f"{AUTHED}/download/test.example/{media_id}"

    got = await get(hs, path, alice, Range="bytes=100-199")
    assert got.status == 206
    assert got.body == body[100:200]
    assert got.headers["Content-Range"] == f"bytes 100-199/{len(body)}"

    got = await get(hs, path, alice, Range="bytes=-10")
    assert got.status == 206 and got.body == body[-10:]

    got = await get(hs, path, alice, Range="bytes=10000-")
    assert got.status == 206 and got.body == body[10000:]

    got = await get(hs, path, alice, Range=f"bytes={len(body)}-")
    assert got.status == 416
    assert got.headers["Content-Range"] == f"bytes */{len(body)}"

    whole = await get(hs, path, alice)
    assert whole.status == 200 and whole.body == body
    assert whole.headers.get("Accept-Ranges") == "bytes"


async def test_a_too_large_async_upload_keeps_the_reservation(start: StartHomeserver) -> None:
    hs = await start(max_request_size=4096)
    token = (await hs.register("alice"))["access_token"]
    _, reply = await create(hs, token)
    media_id = reply["content_uri"].removeprefix("mxc://test.example/")
    status, reply = await put_content(hs, token, media_id, b"x" * 5000)
    assert status == 413 and reply["errcode"] == "M_TOO_LARGE"
    assert hs.services.media.metadata("test.example", media_id) is None
    assert hs.services.media.pending(media_id) is not None
    assert list(hs.services.media.store.tmp.iterdir()) == []
    assert await put_content(hs, token, media_id, b"fits") == (200, {})


async def test_head_answers_the_headers_without_the_body(hs: Homeserver, alice: str) -> None:
    media_id = await upload_ok(hs, alice)
    path = f"{AUTHED}/download/test.example/{media_id}"
    async with hs.client.head(path, headers=bearer(alice)) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(PNG))
        assert response.headers["Content-Disposition"] == "inline"
        assert await response.read() == b""
