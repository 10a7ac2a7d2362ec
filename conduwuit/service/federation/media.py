"""Other servers' media, fetched from their origin (the repository's ``RemoteMedia``).

Spec v1.11 (server-server API, content repository): ``GET /_matrix/federation/v1/
media/download/{mediaId}``, X-Matrix signed, answers ``multipart/mixed`` with two
parts: JSON metadata (an empty object today), then either the bytes (with their
``Content-Type`` and ``Content-Disposition``) or a ``Location`` to fetch them from.

Servers older than v1.11 do not know that endpoint: when the origin answers it with
404 ``M_UNRECOGNIZED`` (or, as plain web servers and Complement's test server do,
an error that is not JSON at all), the legacy unauthenticated
``/_matrix/media/v3/download/{serverName}/{mediaId}?allow_remote=false`` is asked
instead, as Synapse does while peers still need it.

The content is handed to the caller as a stream (the repository writes it to disk
chunk by chunk under its size cap); nothing here holds a whole file. Failures become
Matrix errors a client can act on: 404 when the origin says it has no such media or
may not be asked, 504 ``M_NOT_YET_UPLOADED`` when it says so, 502 otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from yarl import URL

from conduwuit.core.content_disposition import valid_content_type
from conduwuit.core.errors import ErrCode, MatrixError, not_found
from conduwuit.service.federation.client import (
    FederationClient,
    FederationDisabled,
    FederationError,
    ForbiddenServer,
)
from conduwuit.service.media.repository import RemoteContent
from conduwuit.service.media.store import CHUNK

log = logging.getLogger(__name__)

#: Largest JSON we read from an error answer or the metadata part.
MAX_JSON = 64 * 1024
#: ``Location`` hops followed at most (the multipart's, then 3xx of its target).
MAX_LOCATION_HOPS = 3
#: Longest file name kept from a remote ``Content-Disposition``.
MAX_FILENAME_LENGTH = 1024
#: Statuses with which a server says it does not know the endpoint (with
#: M_UNRECOGNIZED or with no Matrix error at all): try the legacy one.
_UNKNOWN_ENDPOINT = frozenset({400, 404, 405, 501})


def federation_path(media_id: str) -> str:
    return f"/_matrix/federation/v1/media/download/{quote(media_id, safe='')}"


def legacy_path(server_name: str, media_id: str) -> str:
    return f"/_matrix/media/v3/download/{quote(server_name, safe='')}/{quote(media_id, safe='')}"


async def _error_body(response: aiohttp.ClientResponse) -> Any:
    raw = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        raw += chunk
        if len(raw) > MAX_JSON:
            return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _errcode(body: Any) -> str | None:
    errcode = body.get("errcode") if isinstance(body, dict) else None
    return errcode if isinstance(errcode, str) else None


def unknown_endpoint(status: int, body: Any) -> bool:
    """Whether an error answer means "no such endpoint here" (so: ask the legacy one)."""
    if status not in _UNKNOWN_ENDPOINT:
        return False
    errcode = _errcode(body)
    return errcode is None or errcode == ErrCode.UNRECOGNIZED


def remote_failure(server_name: str, status: int, body: Any) -> MatrixError:
    """The Matrix error a client gets when the origin answered ``status``."""
    errcode = _errcode(body)
    if status == 404:
        return not_found(f"{server_name} has no such media")
    if errcode == ErrCode.NOT_YET_UPLOADED:
        return MatrixError(ErrCode.NOT_YET_UPLOADED, f"{server_name}: not yet uploaded")
    if errcode == ErrCode.TOO_LARGE:
        return MatrixError(ErrCode.TOO_LARGE, f"{server_name}: the media is too large", status=502)
    answered = f"{status} {errcode}" if errcode else str(status)
    return MatrixError(
        ErrCode.UNKNOWN,
        f"Could not fetch the media from {server_name}: it answered {answered}",
        status=502,
    )


def _unreachable(server_name: str, exc: FederationError) -> MatrixError:
    if isinstance(exc, (FederationDisabled, ForbiddenServer)):
        # Media of a server we may not talk to is, for the client, media we do not have.
        return not_found(f"No such media ({exc})")
    return MatrixError(
        ErrCode.UNKNOWN, f"Could not fetch the media from {server_name}: {exc}", status=502
    )


def _content_type(value: str | None) -> str | None:
    return value if value is not None and valid_content_type(value) else None


def _filename(disposition: str | None) -> str | None:
    if not disposition:
        return None
    _, params = parse_content_disposition(disposition)
    name = content_disposition_filename(params, "filename")
    if not name or len(name) > MAX_FILENAME_LENGTH:
        return None
    return name


def _described(headers: Any, chunks: AsyncIterator[bytes]) -> RemoteContent:
    return RemoteContent(
        _content_type(headers.get("Content-Type")),
        _filename(headers.get("Content-Disposition")),
        chunks,
    )


async def _response_chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    async for chunk in response.content.iter_chunked(CHUNK):
        yield chunk


def _malformed(server_name: str, why: str) -> MatrixError:
    return MatrixError(
        ErrCode.UNKNOWN, f"{server_name} sent a malformed media answer: {why}", status=502
    )


async def _part_chunks(
    server_name: str, reader: aiohttp.MultipartReader, part: aiohttp.BodyPartReader
) -> AsyncIterator[bytes]:
    """The media part's bytes; the answer must then end with its closing boundary
    (a body cut short is not a whole file)."""
    try:
        while chunk := await part.read_chunk(CHUNK):
            yield chunk
        extra = await reader.next()
    except (ValueError, AssertionError) as exc:
        # aiohttp's multipart parser on a broken body (no closing boundary, ...).
        raise _malformed(server_name, str(exc) or "unterminated") from None
    if extra is not None:
        raise _malformed(server_name, "more than two parts")


class FederationMedia:
    """Fetches ``mxc://{server_name}/{media_id}`` from its origin."""

    def __init__(self, client: FederationClient) -> None:
        self._client = client

    def fetch(
        self, server_name: str, media_id: str, *, timeout_ms: int
    ) -> AbstractAsyncContextManager[RemoteContent]:
        return self._fetch(server_name, media_id, timeout_ms)

    @asynccontextmanager
    async def _fetch(
        self, server_name: str, media_id: str, timeout_ms: int
    ) -> AsyncIterator[RemoteContent]:
        wait = {"timeout_ms": str(timeout_ms)}
        try:
            async with self._client.stream(
                server_name, federation_path(media_id), query=wait
            ) as response:
                if response.status == 200:
                    async with self._multipart(server_name, response) as content:
                        yield content
                    return
                body = await _error_body(response)
                if not unknown_endpoint(response.status, body):
                    raise remote_failure(server_name, response.status, body)
            log.info("media: %s lacks the federation media endpoint, asking legacy", server_name)
            async with self._client.stream(
                server_name,
                legacy_path(server_name, media_id),
                query={"allow_remote": "false", **wait},
                sign=False,
            ) as response:
                if response.status != 200:
                    raise remote_failure(server_name, response.status, await _error_body(response))
                yield _described(response.headers, _response_chunks(response))
        except FederationError as exc:
            raise _unreachable(server_name, exc) from exc

    @asynccontextmanager
    async def _multipart(
        self, server_name: str, response: aiohttp.ClientResponse
    ) -> AsyncIterator[RemoteContent]:
        def malformed(why: str) -> MatrixError:
            return _malformed(server_name, why)

        if response.content_type != "multipart/mixed":
            raise malformed(f"Content-Type {response.content_type}, not multipart/mixed")
        try:
            reader = aiohttp.MultipartReader(response.headers, response.content)
            metadata = await reader.next()
            if not isinstance(metadata, aiohttp.BodyPartReader):
                raise malformed("no metadata part")
            raw = bytearray()
            while chunk := await metadata.read_chunk(CHUNK):
                raw += chunk
                if len(raw) > MAX_JSON:
                    raise malformed("the metadata part is too large")
            if not isinstance(json.loads(raw), dict):
                raise malformed("the metadata part is not a JSON object")
            media = await reader.next()
        except (ValueError, AssertionError, RuntimeError) as exc:
            raise malformed(str(exc)) from None
        if not isinstance(media, aiohttp.BodyPartReader):
            raise malformed("no media part")
        location = media.headers.get("Location")
        if location is None:
            yield _described(media.headers, _part_chunks(server_name, reader, media))
            return
        async with self._follow(server_name, location, MAX_LOCATION_HOPS) as content:
            yield content

    @asynccontextmanager
    async def _follow(
        self, server_name: str, location: str, hops: int
    ) -> AsyncIterator[RemoteContent]:
        """The media at ``location`` (spec: not cached, fetched now), following at most
        ``hops`` further redirects."""
        async with self._client.stream_url(location) as response:
            if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                if hops <= 0:
                    raise MatrixError(
                        ErrCode.UNKNOWN,
                        f"Too many redirects fetching the media of {server_name}",
                        status=502,
                    )
                target = str(response.url.join(URL(response.headers["Location"])))
                async with self._follow(server_name, target, hops - 1) as content:
                    yield content
                return
            if response.status != 200:
                raise remote_failure(server_name, response.status, await _error_body(response))
            yield _described(response.headers, _response_chunks(response))
