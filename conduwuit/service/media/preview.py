"""URL previews: the OpenGraph data of a web page, its image stored as local media.

Spec: client-server-api GET /_matrix/client/v1/media/preview_url. Off by default, as
in conduwuit: a URL is previewed only when the url_preview_* lists allow it
(:mod:`conduwuit.core.url_preview_policy`).

Outbound requests are SSRF-safe:

- only http(s); user info and fragments are dropped from every URL, so no
  credentials are sent; no cookies are kept, no Referer is sent, proxies and .netrc
  from the environment are ignored; a fixed User-Agent says who asks;
- redirects are followed here, at most :data:`MAX_REDIRECTS`, and every hop (and the
  page's image) is checked again: scheme, and every address its host resolves to
  against ``ip_range_denylist`` — before the request, and again by the connector's
  resolver when the connection is made (:class:`DenylistResolver`), so DNS that
  changes in between cannot slip through. The url_preview_* lists apply to the URL
  asked for (as in conduwuit): a page they allow may redirect or point its image
  elsewhere, but never into a denied network;
- a page is read up to ``url_preview_max_spider_size`` bytes (the rest is not
  downloaded; the OpenGraph tags are at its start), an image up to
  ``max_image_bytes``; connect, read and total time are bounded.

Errors are Matrix errors the handler lets through. Synapse answers 403 for a URL its
url_preview_url_blacklist refuses, 502 when the host is unreachable, refused by its
IP blocklist (as a DNS failure) or answers an error, 502 M_TOO_LARGE for an
oversized download and 504 on timeout; here a URL the policy or ip_range_denylist
refuses is 403 M_FORBIDDEN (it will not work on retry, whichever reason), a fetch
failure 502 M_UNKNOWN, an oversized image URL 502 M_TOO_LARGE, a timeout 504
M_UNKNOWN.

Results are cached in memory per URL (bounded count, TTL), and concurrent requests
for one URL share one fetch. ``ts`` is accepted and ignored: the spec lets a server
answer a newer preview than the one asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import aiohttp

from conduwuit import SERVER_NAME, __version__
from conduwuit.config import GlobalConfig
from conduwuit.core.errors import ErrCode, MatrixError, forbidden
from conduwuit.core.opengraph import charset_of_content_type, decode_html, parse_opengraph
from conduwuit.core.url_preview_policy import SCHEMES, PreviewPolicy
from conduwuit.service.clock import Clock
from conduwuit.service.ip_denylist import DeniedHost, DenylistResolver, IpDenylist, UnresolvedHost
from conduwuit.service.media.repository import MediaRepository
from conduwuit.service.media.thumbnail import ImageTooLarge, NotThumbnailable, probe
from conduwuit.service.tls import LazyTLS, system_tls

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
USER_AGENT = f"{SERVER_NAME}/{__version__} (Matrix homeserver; URL preview)"
ACCEPT = "text/html,application/xhtml+xml;q=0.9,image/*;q=0.8,*/*;q=0.1"
HTML_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = (301, 302, 303, 307, 308)


class MediaStore(Protocol):
    """Stores a file as local media (the media repository provides it). It may move
    or copy ``path``; the previewer removes ``path`` afterwards if it is still there."""

    async def store_file(
        self, path: Path, *, content_type: str, filename: str | None, uploader: str | None
    ) -> str:
        """The new media ID."""
        ...


class RepositoryStore:
    """The media repository as the previewer's :class:`MediaStore` (it copies the
    file, commits it as new local media, and answers its metadata; this the ID)."""

    def __init__(self, media: MediaRepository) -> None:
        self._media = media

    async def store_file(
        self, path: Path, *, content_type: str, filename: str | None, uploader: str | None
    ) -> str:
        meta = await self._media.store_file(
            path, content_type=content_type, filename=filename, uploader=uploader
        )
        return meta.media_id


def fetch_failed(message: str) -> MatrixError:
    return MatrixError(ErrCode.UNKNOWN, message, status=502)


def timed_out(message: str) -> MatrixError:
    return MatrixError(ErrCode.UNKNOWN, message, status=504)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_page_bytes: int = 384_000
    max_image_bytes: int = 20_000_000
    max_image_pixels: int = 32_000_000
    connect_timeout_s: float = 10
    read_timeout_s: float = 35
    total_timeout_s: float = 320
    idle_timeout_s: float = 5


def sanitise_url(url: str) -> str:
    """``url`` without user info and fragment; :func:`forbidden` unless it is an
    http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise forbidden("the URL cannot be parsed") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise forbidden("only http and https URLs are previewed")
    if not host:
        raise forbidden("the URL has no host")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


class _Cache:
    """URL -> preview, at most ``size`` entries, each for ``ttl_ms``."""

    def __init__(self, size: int, ttl_ms: int, clock: Clock) -> None:
        self._entries: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        self._size = size
        self._ttl_ms = ttl_ms
        self._clock = clock

    def get(self, url: str) -> dict[str, Any] | None:
        entry = self._entries.get(url)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[url]
            return None
        self._entries.move_to_end(url)
        return dict(value)

    def put(self, url: str, value: dict[str, Any]) -> None:
        self._entries[url] = (self._clock() + self._ttl_ms, dict(value))
        self._entries.move_to_end(url)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class Previewer:
    """``preview(url)``: the OpenGraph dict of GET /preview_url."""

    def __init__(
        self,
        *,
        policy: PreviewPolicy,
        denylist: IpDenylist,
        store: MediaStore,
        server_name: str,
        work_dir: Path,
        clock: Clock,
        limits: FetchLimits = FetchLimits(),
        cache_size: int = 1000,
        cache_ttl_s: int = 3600,
        max_concurrent: int = 4,
        tls: LazyTLS | None = None,
    ) -> None:
        self._tls = tls or system_tls()
        self._policy = policy
        self._denylist = denylist
        self._store = store
        self._server_name = server_name
        self._work_dir = work_dir
        self._limits = limits
        self._cache = _Cache(max(1, cache_size), cache_ttl_s * 1000, clock)
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._fetching = asyncio.Semaphore(max_concurrent)
        self._session: aiohttp.ClientSession | None = None
        #: Pages and images actually fetched (not served from the cache): for tests.
        self.fetches = 0

    @property
    def policy(self) -> PreviewPolicy:
        return self._policy

    @property
    def enabled(self) -> bool:
        """Whether any URL can be previewed (the handler may say so early)."""
        return self._policy.enabled

    async def preview(
        self, url: str, ts: int | None = None, *, requester: str | None = None
    ) -> dict[str, Any]:
        """The preview of ``url``; its image is stored with ``requester`` as uploader.
        Raises a :class:`MatrixError` (see the module's documentation)."""
        del ts  # a newer preview than asked for is allowed
        # The lists judge the URL that would be fetched: "https://good.example@evil.example/"
        # is judged without its user info, so it does not contain "https://good.example".
        clean = sanitise_url(url)
        if not self._policy.allows(clean):
            raise forbidden("URL previews are not allowed for this URL")
        cached = self._cache.get(clean)
        if cached is not None:
            return cached
        future = self._inflight.get(clean)
        if future is None:
            future = asyncio.ensure_future(self._build(clean, requester))
            self._inflight[clean] = future
            future.add_done_callback(lambda done: self._settled(clean, done))
        return dict(await asyncio.shield(future))

    def _settled(self, url: str, future: asyncio.Future[dict[str, Any]]) -> None:
        self._inflight.pop(url, None)
        if future.cancelled():
            return
        if future.exception() is None:
            self._cache.put(url, future.result())

    async def close(self) -> None:
        for future in list(self._inflight.values()):
            future.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- fetching ------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            limits = self._limits
            connector = aiohttp.TCPConnector(
                resolver=DenylistResolver(self._denylist),
                use_dns_cache=False,
                keepalive_timeout=limits.idle_timeout_s,
                limit=16,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                headers={"User-Agent": USER_AGENT},
                timeout=aiohttp.ClientTimeout(
                    total=limits.total_timeout_s,
                    sock_connect=limits.connect_timeout_s,
                    sock_read=limits.read_timeout_s,
                ),
            )
        return self._session

    async def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            if self._denylist.denies(host):
                raise forbidden("the URL's address is not allowed")
            return
        try:
            await self._denylist.check(host, port)
        except UnresolvedHost as exc:
            raise fetch_failed(f"{host} cannot be resolved") from exc
        except DeniedHost as exc:
            raise forbidden("the URL's host resolves to an address that is not allowed") from exc

    async def _get(self, url: str, accept: str) -> tuple[str, aiohttp.ClientResponse]:
        """GET ``url`` following redirects here; the final URL and its response."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            current = sanitise_url(current)
            await self._check_host(current)
            self.fetches += 1
            try:
                tls = await self._tls.for_url(current)
                response = await self._client().get(
                    current, allow_redirects=False, headers={"Accept": accept}, ssl=tls
                )
            except TimeoutError as exc:
                raise timed_out(f"{current} did not answer in time") from exc
            except (aiohttp.ClientError, OSError) as exc:
                raise fetch_failed(f"{current} cannot be fetched: {type(exc).__name__}") from exc
            if response.status in _REDIRECTS:
                location = response.headers.get("Location")
                response.close()
                if not location:
                    raise fetch_failed(f"{current} redirects nowhere")
                try:
                    current = urljoin(current, location)
                except ValueError as exc:
                    raise fetch_failed(f"{current} redirects to an invalid URL") from exc
                continue
            if not 200 <= response.status < 300:
                response.close()
                raise fetch_failed(f"{current} answered {response.status}")
            return current, response
        raise fetch_failed(f"{url} redirects more than {MAX_REDIRECTS} times")

    async def _build(self, url: str, requester: str | None) -> dict[str, Any]:
        try:
            async with self._fetching, asyncio.timeout(self._limits.total_timeout_s):
                final, response = await self._get(url, ACCEPT)
                try:
                    content_type = response.headers.get("Content-Type", "")
                    base_type = content_type.split(";", 1)[0].strip().lower()
                    if base_type.startswith("image/"):
                        return await self._store_image(final, response, requester) or {}
                    if base_type and base_type not in HTML_TYPES:
                        return {}
                    body = await self._read(response, self._limits.max_page_bytes)
                finally:
                    response.close()
                og: dict[str, Any] = await asyncio.get_running_loop().run_in_executor(
                    None, _parse_page, body, charset_of_content_type(content_type), final
                )
                image_url = og.pop("og:image", None)
                for key in [k for k in og if k.startswith("og:image:")]:
                    del og[key]  # they describe the page's image, not the one stored
                if isinstance(image_url, str):
                    try:
                        stored = await self._fetch_image(image_url, requester)
                    except MatrixError as exc:
                        log.info("preview of %s: no image (%s)", url, exc.message)
                        stored = None
                    if stored:
                        og.update(stored)
                return og
        except TimeoutError as exc:
            raise timed_out(f"{url} took too long to preview") from exc

    async def _fetch_image(self, url: str, requester: str | None) -> dict[str, Any] | None:
        final, response = await self._get(url, "image/*")
        try:
            return await self._store_image(final, response, requester)
        finally:
            response.close()

    async def _read(self, response: aiohttp.ClientResponse, limit: int) -> bytes:
        """At most ``limit`` bytes of the body; the connection is dropped after them."""
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.content.iter_chunked(CHUNK):
                chunks.append(chunk[: limit - size])
                size += len(chunk)
                if size >= limit:
                    break
        except TimeoutError as exc:  # an OSError too: first
            raise timed_out("the page stopped sending") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise fetch_failed(f"reading the answer failed: {type(exc).__name__}") from exc
        finally:
            response.close()
        return b"".join(chunks)

    async def _store_image(
        self, url: str, response: aiohttp.ClientResponse, requester: str | None
    ) -> dict[str, Any] | None:
        """Store the image ``response`` carries as local media: the og:image keys, or
        None when it is not an image this server would thumbnail."""
        loop = asyncio.get_running_loop()
        path = await loop.run_in_executor(None, self._temp_file)
        try:
            size = await self._download(response, path)
            try:
                info = await loop.run_in_executor(None, probe, path, self._limits.max_image_pixels)
            except (NotThumbnailable, ImageTooLarge) as exc:
                log.info("preview image %s refused: %s", url, exc.message)
                return None
            name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])[:255] or None
            media_id = await self._store.store_file(
                path, content_type=info.content_type, filename=name, uploader=requester
            )
        finally:
            await loop.run_in_executor(None, _remove, path)
        return {
            "og:image": f"mxc://{self._server_name}/{media_id}",
            "og:image:type": info.content_type,
            "og:image:width": info.width,
            "og:image:height": info.height,
            "matrix:image:size": size,
        }

    def _temp_file(self) -> Path:
        self._work_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._work_dir, prefix="preview-")
        os.close(fd)
        return Path(name)

    async def _download(self, response: aiohttp.ClientResponse, path: Path) -> int:
        """Stream the body into ``path`` (writes off the event loop); its size.
        Beyond ``max_image_bytes``: 502 M_TOO_LARGE, the connection dropped."""
        limit = self._limits.max_image_bytes
        too_large = MatrixError(ErrCode.TOO_LARGE, "the image is too large", status=502)
        declared = response.content_length
        if declared is not None and declared > limit:
            response.close()
            raise too_large
        loop = asyncio.get_running_loop()
        size = 0
        file = await loop.run_in_executor(None, path.open, "wb")
        try:
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large
                await loop.run_in_executor(None, file.write, chunk)
        except TimeoutError as exc:  # an OSError too: first
            raise timed_out("the image stopped sending") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise fetch_failed(f"reading the image failed: {type(exc).__name__}") from exc
        finally:
            response.close()
            await loop.run_in_executor(None, file.close)
        return size


def _parse_page(body: bytes, charset: str | None, url: str) -> dict[str, Any]:
    return dict(parse_opengraph(decode_html(body, charset), url))


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def previewer_from_config(
    config: GlobalConfig,
    *,
    store: MediaStore,
    denylist: IpDenylist,
    work_dir: Path,
    clock: Clock,
    tls: LazyTLS | None = None,
) -> Previewer:
    """The previewer as the options configure it (for the composition root)."""
    policy = PreviewPolicy.of(
        domain_contains_allowlist=config.url_preview_domain_contains_allowlist,
        domain_explicit_allowlist=config.url_preview_domain_explicit_allowlist,
        url_contains_allowlist=config.url_preview_url_contains_allowlist,
        domain_explicit_denylist=config.url_preview_domain_explicit_denylist,
        check_root_domain=config.url_preview_check_root_domain,
    )
    limits = FetchLimits(
        max_page_bytes=config.url_preview_max_spider_size,
        max_image_bytes=config.max_request_size,
        max_image_pixels=config.max_image_pixels,
        connect_timeout_s=config.request_conn_timeout,
        read_timeout_s=config.request_timeout,
        total_timeout_s=config.request_total_timeout,
        idle_timeout_s=config.request_idle_timeout,
    )
    return Previewer(
        policy=policy,
        denylist=denylist,
        store=store,
        server_name=config.server_name,
        work_dir=work_dir,
        clock=clock,
        limits=limits,
        cache_size=max(1, int(1000 * config.cache_capacity_modifier)),
        tls=tls,
    )
