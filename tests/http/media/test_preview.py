"""GET preview_url over HTTP: off by default (403), refusals, and a preview of a page
served on 127.0.0.1 by a test web site, with its image stored as local media."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from tests.http.media.test_content import AUTHED, MEDIA, get
from tests.kit.homeserver import Homeserver, StartHomeserver

#: Loopback allowed (the test site), everything else the default list has kept out.
DENYLIST_WITHOUT_LOOPBACK = '["10.0.0.0/8", "192.168.0.0/16", "::1/128"]'


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


IMAGE = png(64, 48)
PAGE = (
    "<html><head><title>Fallback</title>"
    '<meta property="og:title" content="A test page">'
    '<meta property="og:description" content="Served on loopback">'
    '<meta property="og:image" content="/picture.png">'
    '<meta property="og:image:width" content="9999">'
    "</head><body>hello</body></html>"
)


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A web site on 127.0.0.1: ``/page`` (OpenGraph) and ``/picture.png``."""

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def picture(_: web.Request) -> web.Response:
        return web.Response(body=IMAGE, content_type="image/png")

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/picture.png", picture)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


async def token_of(hs: Homeserver) -> str:
    token: str = (await hs.register("alice"))["access_token"]
    return token


async def preview(
    hs: Homeserver, url: str | None, token: str | None, prefix: str = AUTHED, **params: str
) -> tuple[int, Any]:
    query = {**({"url": url} if url is not None else {}), **params}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with hs.client.get(f"{prefix}/preview_url", params=query, headers=headers) as r:
        return r.status, await r.json()


async def test_previews_are_off_by_default(hs: Homeserver, site: str) -> None:
    token = await token_of(hs)
    for url in (f"{site}/page", "https://matrix.org/"):
        status, reply = await preview(hs, url, token)
        assert status == 403 and reply["errcode"] == "M_FORBIDDEN"
    assert hs.services.previewer.fetches == 0


async def test_a_local_page_is_previewed_and_its_image_stored(
    start: StartHomeserver, site: str
) -> None:
    hs = await start(
        url_preview_domain_explicit_allowlist='["127.0.0.1"]',
        ip_range_denylist=DENYLIST_WITHOUT_LOOPBACK,
    )
    token = await token_of(hs)
    status, og = await preview(hs, f"{site}/page", token, ts="1510610716656")
    assert status == 200, og
    assert og["og:title"] == "A test page"
    assert og["og:description"] == "Served on loopback"
    assert og["og:image:type"] == "image/png"
    assert (og["og:image:width"], og["og:image:height"]) == (64, 48)
    assert og["matrix:image:size"] == len(IMAGE)
    assert og["og:image"].startswith("mxc://test.example/")
    media_id = og["og:image"].removeprefix("mxc://test.example/")
    meta = hs.services.media.metadata("test.example", media_id)
    assert meta is not None and meta.uploader == "@alice:test.example"
    got = await get(hs, f"{AUTHED}/download/test.example/{media_id}", token)
    assert got.status == 200 and got.body == IMAGE

    # The legacy path answers the same preview (from the cache: no new fetch).
    fetches = hs.services.previewer.fetches
    status, again = await preview(hs, f"{site}/page", token, prefix=MEDIA)
    assert (status, again) == (200, og)
    assert hs.services.previewer.fetches == fetches


async def test_refusals(start: StartHomeserver, site: str) -> None:
    # Loopback is allowed by the lists but stays in the default ip_range_denylist.
    hs = await start(url_preview_domain_explicit_allowlist='["127.0.0.1"]')
    token = await token_of(hs)
    cases: list[tuple[str | None, dict[str, str], str | None, int, str]] = [
        (f"{site}/page", {}, None, 401, "M_MISSING_TOKEN"),
        (None, {}, token, 400, "M_MISSING_PARAM"),
        ("", {}, token, 400, "M_MISSING_PARAM"),
        (f"{site}/page", {"ts": "yesterday"}, token, 400, "M_INVALID_PARAM"),
        (f"{site}/page", {}, token, 403, "M_FORBIDDEN"),
        ("http://example.org/", {}, token, 403, "M_FORBIDDEN"),
        ("file:///etc/passwd", {}, token, 403, "M_FORBIDDEN"),
        ("not a url", {}, token, 403, "M_FORBIDDEN"),
    ]
    for url, params, who, status, errcode in cases:
        got_status, reply = await preview(hs, url, who, **params)
        assert (got_status, reply.get("errcode")) == (status, errcode), (url, params, reply)
    assert hs.services.previewer.fetches == 0
    assert list(hs.services.media.all_metadata()) == []


async def test_legacy_preview_follows_allow_legacy_media(start: StartHomeserver) -> None:
    hs = await start(allow_legacy_media=False)
    token = await token_of(hs)
    status, reply = await preview(hs, "https://matrix.org/", token, prefix=MEDIA)
    assert status == 404 and reply["errcode"] == "M_UNRECOGNIZED"
    status, reply = await preview(hs, "https://matrix.org/", token)
    assert status == 403 and reply["errcode"] == "M_FORBIDDEN"
