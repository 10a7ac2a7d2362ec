"""The URL previewer against real HTTP servers on loopback, storing images in a
temporary directory through a small real media store."""

from __future__ import annotations

import asyncio
import io
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from conduwuit.config.model import Config
from conduwuit.core.errors import MatrixError
from conduwuit.core.url_preview_policy import PreviewPolicy
from conduwuit.service.ip_denylist import IpDenylist
from conduwuit.service.media.preview import FetchLimits, Previewer, previewer_from_config

SERVER_NAME = "test.example"
#: 127.0.0.1 is where the test sites live; 127.0.0.2 stands for the private network.
DENYLIST = ["127.0.0.2/32", "10.0.0.0/8", "::1/128"]
ALLOW_ALL = PreviewPolicy.of(domain_contains_allowlist=["*"])


@dataclass
class DirectoryStore:
    """Media in a directory: each stored file moved to ``root/<media id>``."""

    root: Path
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def store_file(
        self, path: Path, *, content_type: str, filename: str | None, uploader: str | None
    ) -> str:
        media_id = secrets.token_urlsafe(12)
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.move(path, self.root / media_id)
        self.stored[media_id] = {
            "content_type": content_type,
            "filename": filename,
            "uploader": uploader,
        }
        return media_id


@dataclass
class Site:
    """A web site on a loopback address: routes and a log of every request."""

    host: str
    routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]
    requests: list[web.Request] = field(default_factory=list)
    server: TestServer | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        return f"http://{self.host}:{self.server.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        handler = self.routes.get(request.path)
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)


def png(width: int = 64, height: int = 48, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (10, 20, 30, 40)[: len(mode)]).save(buffer, "PNG")
    return buffer.getvalue()


def html(body: str, charset: str = "utf-8") -> Callable[[web.Request], Awaitable[web.Response]]:
    async def page(_: web.Request) -> web.Response:
        return web.Response(
            body=body.encode(charset), headers={"Content-Type": f"text/html; charset={charset}"}
        )

    return page


def raw(data: bytes, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=data, headers={"Content-Type": content_type})

    return answer


def redirect(
    to: Callable[[], str], status: int = 302
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def answer(_: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": to()})

    return answer


@pytest.fixture
async def sites() -> AsyncIterator[Callable[[str], Awaitable[Site]]]:
    started: list[TestServer] = []

    async def start(host: str) -> Site:
        site = Site(host, {})
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", site.handle)
        site.server = TestServer(app, host=host)
        await site.server.start_server()
        started.append(site.server)
        return site

    yield start
    for server in started:
        await server.close()


@pytest.fixture
async def site(sites: Callable[[str], Awaitable[Site]]) -> Site:
    return await sites("127.0.0.1")


@pytest.fixture
def store(tmp_path: Path) -> DirectoryStore:
    return DirectoryStore(tmp_path / "media")


@pytest.fixture
async def make_previewer(
    tmp_path: Path, store: DirectoryStore
) -> AsyncIterator[Callable[..., Previewer]]:
    made: list[Previewer] = []
    now = [1_000_000]

    def make(
        policy: PreviewPolicy = ALLOW_ALL, denylist: list[str] = DENYLIST, **kw: Any
    ) -> Previewer:
        previewer = Previewer(
            policy=policy,
            denylist=IpDenylist(denylist),
            store=store,
            server_name=SERVER_NAME,
            work_dir=tmp_path / "work",
            clock=lambda: now[0],
            **kw,
        )
        made.append(previewer)
        return previewer

    make.now = now  # type: ignore[attr-defined]
    yield make
    for previewer in made:
        await previewer.close()


async def test_opengraph_page_with_relative_image(
    site: Site, store: DirectoryStore, make_previewer: Callable[..., Previewer], tmp_path: Path
) -> None:
    site.routes["/post"] = html(
        """<html><head><meta property="og:title" content="Hello">
        <meta property="og:description" content="A post">
        <meta property="og:image" content="/img/cat.png">
        <meta property="og:image:width" content="9999"></head></html>"""
    )
    image = png(64, 48)
    site.routes["/img/cat.png"] = raw(image, "image/png")
    previewer = make_previewer()
    og = await previewer.preview(site.url("/post"), None, requester="@alice:test.example")
    media_id = og["og:image"].removeprefix(f"mxc://{SERVER_NAME}/")
    assert og == {
        "og:title": "Hello",
        "og:description": "A post",
        "og:image": f"mxc://{SERVER_NAME}/{media_id}",
        "og:image:type": "image/png",
        "og:image:width": 64,
        "og:image:height": 48,
        "matrix:image:size": len(image),
    }
    assert (store.root / media_id).read_bytes() == image
    assert store.stored[media_id] == {
        "content_type": "image/png",
        "filename": "cat.png",
        "uploader": "@alice:test.example",
    }
    assert list((tmp_path / "work").iterdir()) == [], "no temporary file left behind"


async def test_requests_carry_no_credentials_cookies_or_referer(
    site: Site, make_previewer: Callable[..., Previewer]
) -> None:
    async def cookie_page(_: web.Request) -> web.Response:
        response = web.Response(
            body=b'<meta property="og:image" content="/i.png"><title>t</title>',
            content_type="text/html",
        )
        response.set_cookie("session", "secret")
        return response

    site.routes["/c"] = cookie_page
    site.routes["/i.png"] = raw(png(), "image/png")
    previewer = make_previewer()
    url = site.url("/c").replace("http://", "http://user:pass@") + "#frag"
    og = await previewer.preview(url)
    assert og["og:title"] == "t" and "og:image" in og
    for request in site.requests:
        assert "Authorization" not in request.headers
        assert "Cookie" not in request.headers
        assert "Referer" not in request.headers
        assert request.headers["User-Agent"].startswith("conduwuit")


async def test_title_and_description_fallback_and_charset(
    site: Site, make_previewer: Callable[..., Previewer]
) -> None:
    site.routes["/old"] = html(
        '<head><title>Café crème</title><meta name="description" content="À la carte"></head>',
        charset="iso-8859-1",
    )
    og = await make_previewer().preview(site.url("/old"))
    assert og == {"og:title": "Café crème", "og:description": "À la carte"}


async def test_direct_image_url(
    site: Site, store: DirectoryStore, make_previewer: Callable[..., Previewer]
) -> None:
    image = png(10, 20, "RGBA")
    site.routes["/pic"] = raw(image, "image/png")
    og = await make_previewer().preview(site.url("/pic"))
    assert og["og:image:type"] == "image/png" and og["matrix:image:size"] == len(image)
    assert (og["og:image:width"], og["og:image:height"]) == (10, 20)
    assert len(store.stored) == 1


async def test_images_that_are_not_images_are_not_stored(
    site: Site, store: DirectoryStore, make_previewer: Callable[..., Previewer]
) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    site.routes["/page"] = html('<title>x</title><meta property="og:image" content="/i.svg">')
    site.routes["/i.svg"] = raw(svg, "image/png")
    site.routes["/direct.svg"] = raw(svg, "image/svg+xml")
    site.routes["/doc.pdf"] = raw(b"%PDF-1.4", "application/pdf")
    previewer = make_previewer()
    assert await previewer.preview(site.url("/page")) == {"og:title": "x"}
    assert await previewer.preview(site.url("/direct.svg")) == {}
    assert await previewer.preview(site.url("/doc.pdf")) == {}
    assert store.stored == {}


async def test_results_are_cached_and_concurrent_requests_share_a_fetch(
    site: Site, make_previewer: Callable[..., Previewer]
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        started.set()
        await asyncio.wait_for(release.wait(), 10)
        return web.Response(body=b"<title>slow</title>", content_type="text/html")

    site.routes["/slow"] = slow
    previewer = make_previewer(cache_ttl_s=60)
    url = site.url("/slow")
    tasks = [asyncio.ensure_future(previewer.preview(url)) for _ in range(5)]
    await asyncio.wait_for(started.wait(), 10)
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert all(r == {"og:title": "slow"} for r in results)
    results[0]["og:title"] = "changed by a caller"
    assert await previewer.preview(url) == {"og:title": "slow"}
    assert site.hits("/slow") == 1
    make_previewer.now[0] += 61_000  # type: ignore[attr-defined]
    assert await previewer.preview(url) == {"og:title": "slow"}
    assert site.hits("/slow") == 2


async def test_page_cut_at_max_spider_size(
    site: Site, make_previewer: Callable[..., Previewer]
) -> None:
    limit = 4096
    sent: list[int] = []

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b'<meta property="og:title" content="head">')
        try:
            for _ in range(2000):  # up to 128 MB if nobody stops reading
                await response.write(b"<p>" + b"x" * 65_536 + b"</p>")
                sent.append(1)
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    site.routes["/huge"] = huge
    previewer = make_previewer(limits=FetchLimits(max_page_bytes=limit))
    og = await asyncio.wait_for(previewer.preview(site.url("/huge")), 20)
    assert og == {"og:title": "head"}
    await asyncio.sleep(0.2)
    assert len(sent) < 200, "the previewer stopped reading"


async def test_oversized_image_url_is_refused(
    site: Site, store: DirectoryStore, make_previewer: Callable[..., Previewer]
) -> None:
    site.routes["/big.png"] = raw(png(400, 400) + b"\0" * 50_000, "image/png")
    previewer = make_previewer(limits=FetchLimits(max_image_bytes=10_000))
    with pytest.raises(MatrixError) as refused:
        await previewer.preview(site.url("/big.png"))
    assert (refused.value.status, refused.value.errcode) == (502, "M_TOO_LARGE")
    # Without a Content-Length, the download stops at the limit.
    streamed: list[int] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(1000):  # 64 MB if nobody stops reading
                await response.write(b"\0" * 65_536)
                streamed.append(1)
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    site.routes["/stream.png"] = stream
    with pytest.raises(MatrixError) as refused:
        await asyncio.wait_for(previewer.preview(site.url("/stream.png")), 20)
    assert (refused.value.status, refused.value.errcode) == (502, "M_TOO_LARGE")
    await asyncio.sleep(0.2)
    assert len(streamed) < 500, "the previewer stopped reading (socket buffers took the rest)"
    # As a page's image it is left out, the page still previews.
    site.routes["/p"] = html('<title>p</title><meta property="og:image" content="/big.png">')
    assert await previewer.preview(site.url("/p")) == {"og:title": "p"}
    assert store.stored == {}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://127.0.0.1:70/",
        "http:///nohost",
        "http://[::1/",
    ],
)
async def test_non_http_urls_are_refused(
    url: str, make_previewer: Callable[..., Previewer]
) -> None:
    with pytest.raises(MatrixError) as refused:
        await make_previewer().preview(url)
    assert (refused.value.status, refused.value.errcode) == (403, "M_FORBIDDEN")


async def test_policy_refusal_fetches_nothing(
    site: Site, make_previewer: Callable[..., Previewer]
) -> None:
    site.routes["/"] = html("<title>t</title>")
    off = make_previewer(policy=PreviewPolicy())
    assert not off.enabled
    only_other = make_previewer(policy=PreviewPolicy.of(domain_explicit_allowlist=["example.org"]))
    denied = make_previewer(
        policy=PreviewPolicy.of(
            domain_contains_allowlist=["*"], domain_explicit_denylist=["127.0.0.1"]
        )
    )
    for previewer in (off, only_other, denied):
        with pytest.raises(MatrixError) as refused:
            await previewer.preview(site.url("/"))
        assert refused.value.status == 403
    assert site.requests == []
    allowed = make_previewer(policy=PreviewPolicy.of(domain_explicit_allowlist=["127.0.0.1"]))
    assert await allowed.preview(site.url("/")) == {"og:title": "t"}


async def test_denied_addresses_are_refused(
    sites: Callable[[str], Awaitable[Site]], make_previewer: Callable[..., Previewer]
) -> None:
    private = await sites("127.0.0.2")
    private.routes["/secret"] = html("<title>internal</title>")
    previewer = make_previewer()
    with pytest.raises(MatrixError) as refused:
        await previewer.preview(private.url("/secret"))
    assert (refused.value.status, refused.value.errcode) == (403, "M_FORBIDDEN")
    # A name that resolves into a denied network: localhost is 127.0.0.1 here, so deny that.
    assert private.server is not None
    strict = make_previewer(denylist=["127.0.0.0/8", "::1/128"])
    with pytest.raises(MatrixError) as refused:
        await strict.preview(f"http://localhost:{private.server.port}/secret")
    assert refused.value.status == 403
    # Numeric forms the resolver turns into a denied address are refused too.
    with pytest.raises(MatrixError) as refused:
        await strict.preview(f"http://2130706434:{private.server.port}/secret")
    assert refused.value.status == 403
    # IPv6 literals, IPv4-mapped included.
    for host in ("[::1]", "[::ffff:127.0.0.2]"):
        with pytest.raises(MatrixError) as refused:
            await previewer.preview(f"http://{host}:{private.server.port}/secret")
        assert refused.value.status == 403
    assert private.requests == []


async def test_user_info_does_not_fool_the_url_allowlist(
    site: Site, make_previewer: Callable[..., Previewer]
) -> None:
    site.routes["/"] = html("<title>t</title>")
    assert site.server is not None
    previewer = make_previewer(
        policy=PreviewPolicy.of(url_contains_allowlist=["http://good.example"])
    )
    with pytest.raises(MatrixError) as refused:
        await previewer.preview(f"http://good.example@127.0.0.1:{site.server.port}/")
    assert refused.value.status == 403
    assert site.requests == []


async def test_redirect_into_a_denied_network_is_refused(
    site: Site, sites: Callable[[str], Awaitable[Site]], make_previewer: Callable[..., Previewer]
) -> None:
    private = await sites("127.0.0.2")
    private.routes["/secret"] = html("<title>internal</title>")
    private.routes["/secret.png"] = raw(png(), "image/png")
    site.routes["/go"] = redirect(lambda: private.url("/secret"))
    site.routes["/go307"] = redirect(lambda: private.url("/secret"), 307)
    site.routes["/img"] = html('<title>i</title><meta property="og:image" content="/to-private">')
    site.routes["/to-private"] = redirect(lambda: private.url("/secret.png"))
    site.routes["/lure"] = html(
        f'<title>l</title><meta property="og:image" content="{private.url("/secret.png")}">'
    )
    previewer = make_previewer()
    for path in ("/go", "/go307"):
        with pytest.raises(MatrixError) as refused:
            await previewer.preview(site.url(path))
        assert refused.value.status == 403
    assert await previewer.preview(site.url("/img")) == {"og:title": "i"}
    assert await previewer.preview(site.url("/lure")) == {"og:title": "l"}
    assert private.requests == []


async def test_redirects_are_followed_a_bounded_number_of_times(
    site: Site, make_previewer: Callable[..., Previewer]
) -> None:
    site.routes["/final"] = html("<title>arrived</title>")
    for i in range(7):
        site.routes[f"/r{i}"] = redirect(lambda i=i: f"/r{i + 1}" if i < 6 else "/final")
    site.routes["/loop"] = redirect(lambda: "/loop")
    previewer = make_previewer()
    assert await previewer.preview(site.url("/r3")) == {"og:title": "arrived"}
    with pytest.raises(MatrixError) as refused:
        await previewer.preview(site.url("/r0"))
    assert (refused.value.status, refused.value.errcode) == (502, "M_UNKNOWN")
    with pytest.raises(MatrixError):
        await previewer.preview(site.url("/loop"))
    assert site.hits("/loop") == 6


async def test_fetch_failures_are_gateway_errors(
    site: Site, make_previewer: Callable[..., Previewer]
) -> None:
    async def stall(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def error(_: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    site.routes["/stall"] = stall
    site.routes["/500"] = error
    previewer = make_previewer(limits=FetchLimits(read_timeout_s=0.3, total_timeout_s=1))
    with pytest.raises(MatrixError) as refused:
        await previewer.preview(site.url("/500"))
    assert (refused.value.status, refused.value.errcode) == (502, "M_UNKNOWN")
    with pytest.raises(MatrixError) as refused:
        await asyncio.wait_for(previewer.preview(site.url("/stall")), 10)
    assert (refused.value.status, refused.value.errcode) == (504, "M_UNKNOWN")

    # A body that stops half-way: the page times out; an image that does is left out.
    async def stops(request: web.Request) -> web.StreamResponse:
        kind = "image/png" if request.path.endswith(".png") else "text/html"
        response = web.StreamResponse(headers={"Content-Type": kind})
        await response.prepare(request)
        await response.write(png()[:20] if kind == "image/png" else b"<title>half")
        await asyncio.sleep(5)
        return response

    site.routes["/half"] = stops
    site.routes["/half.png"] = stops
    site.routes["/with-image"] = html(
        '<title>w</title><meta property="og:image" content="/half.png">'
    )
    with pytest.raises(MatrixError) as refused:
        await asyncio.wait_for(previewer.preview(site.url("/half")), 10)
    assert (refused.value.status, refused.value.errcode) == (504, "M_UNKNOWN")
    assert await asyncio.wait_for(previewer.preview(site.url("/with-image")), 10) == {
        "og:title": "w"
    }
    assert site.server is not None
    port = site.server.port
    await site.server.close()
    with pytest.raises(MatrixError) as refused:
        await previewer.preview(f"http://127.0.0.1:{port}/gone")
    assert refused.value.status == 502


def test_from_config_reads_the_options(tmp_path: Path, store: DirectoryStore) -> None:
    config = Config.model_validate(
        {
            "global": {
                "server_name": SERVER_NAME,
                "url_preview_domain_explicit_allowlist": ["example.org"],
                "url_preview_domain_explicit_denylist": ["bad.example.org"],
                "url_preview_check_root_domain": True,
            }
        }
    ).g
    previewer = previewer_from_config(
        config,
        store=store,
        denylist=IpDenylist(config.ip_range_denylist),
        work_dir=tmp_path,
        clock=lambda: 0,
    )
    assert previewer.enabled
    assert previewer.policy.allows("https://www.example.org/")
    assert not previewer.policy.allows("https://x.bad.example.org/")
