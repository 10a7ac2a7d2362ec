"""Media over federation, in process: our /_matrix/federation/v1/media/* answers to a
signed remote (two-part multipart/mixed, our own media only), and what our fetch
makes of remote answers that are broken (tests/kit/remote.py plays the remote)."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image
from yarl import URL

from tests.kit.homeserver import Homeserver
from tests.kit.remote import RemoteServer

V1 = "/_matrix/federation/v1/media"
AUTHED = "/_matrix/client/v1/media"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def upload(hs: Homeserver, token: str, body: bytes, content_type: str, name: str) -> str:
    async with hs.client.post(
        "/_matrix/media/v3/upload",
        data=body,
        params={"filename": name},
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    ) as response:
        reply = await response.json()
        assert response.status == 200, reply
        uri: str = reply["content_uri"]
        return uri.rsplit("/", 1)[1]


async def signed_get(hs: Homeserver, remote: RemoteServer, uri: str) -> tuple[int, str, Any]:
    """A signed GET from ``remote``: (status, Content-Type, the parts or the JSON)."""
    headers = {"Authorization": remote.authorization("GET", uri, hs.config.server_name)}
    url = URL(str(hs.client.make_url("/")).rstrip("/") + uri, encoded=True)
    async with hs.client.session.get(url, headers=headers) as response:
        if response.content_type != "multipart/mixed":
            return response.status, response.content_type, await response.json()
        assert response.content_length is not None
        reader = aiohttp.MultipartReader(response.headers, response.content)
        parts = []
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            parts.append((dict(part.headers), bytes(await part.read())))
        return response.status, response.content_type, parts


async def test_our_media_and_thumbnails_for_other_servers(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    alice = (await fed_hs.register("alice"))["access_token"]
    image = png(400, 300)
    media_id = await upload(fed_hs, alice, image, "image/png", "sunset.png")

    status, content_type, parts = await signed_get(fed_hs, remote, f"{V1}/download/{media_id}")
    assert (status, content_type) == (200, "multipart/mixed")
    [(meta_headers, meta), (headers, body)] = parts
    assert meta_headers["Content-Type"] == "application/json" and meta == b"{}"
    assert headers["Content-Type"] == "image/png"
    assert "sunset.png" in headers["Content-Disposition"]
    assert body == image

    uri = f"{V1}/thumbnail/{media_id}?width=32&height=32&method=scale"
    status, _, parts = await signed_get(fed_hs, remote, uri)
    assert status == 200, parts
    [(_, meta), (headers, body)] = parts
    assert meta == b"{}" and headers["Content-Type"] in ("image/png", "image/jpeg")
    assert "inline" in headers["Content-Disposition"]
    assert max(Image.open(io.BytesIO(body)).size) < 400
    # The same thumbnail a client gets.
    async with fed_hs.client.get(
        f"{AUTHED}/thumbnail/{fed_hs.config.server_name}/{media_id}",
        params={"width": "32", "height": "32", "method": "scale"},
        headers={"Authorization": f"Bearer {alice}"},
    ) as response:
        assert await response.read() == body


async def test_refusals(fed_hs: Homeserver, remote: RemoteServer) -> None:
    alice = (await fed_hs.register("alice"))["access_token"]
    media_id = await upload(fed_hs, alice, b"plain", "text/plain", "a.txt")
    # Unsigned: 401, before anything is looked up.
    async with fed_hs.client.get(f"{V1}/download/{media_id}") as response:
        assert response.status == 401
    for uri, want in (
        (f"{V1}/download/noSuchMedia", (404, "M_NOT_FOUND")),
        (f"{V1}/download/bad$id", (404, "M_NOT_FOUND")),
        (f"{V1}/thumbnail/{media_id}?width=32", (400, "M_MISSING_PARAM")),
        (f"{V1}/thumbnail/{media_id}?width=32&height=32&method=zoom", (400, "M_INVALID_PARAM")),
        (f"{V1}/download/{media_id}?timeout_ms=soon", (400, "M_INVALID_PARAM")),
    ):
        status, _, answer = await signed_get(fed_hs, remote, uri)
        assert (status, answer["errcode"]) == want, uri


async def test_cached_remote_media_is_not_served_again(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    async def serve(request: web.Request) -> web.StreamResponse:
        writer = aiohttp.MultipartWriter("mixed")
        writer.append_json({})
        writer.append(b"remote content", {"Content-Type": "text/plain"})
        return web.Response(body=writer)

    remote.routes[("GET", f"{V1}/download/cachedHere")] = serve
    alice = (await fed_hs.register("alice"))["access_token"]
    async with fed_hs.client.get(
        f"{AUTHED}/download/{remote.server_name}/cachedHere",
        headers={"Authorization": f"Bearer {alice}"},
    ) as response:
        assert (response.status, await response.read()) == (200, b"remote content")
    assert fed_hs.services.media.metadata(remote.server_name, "cachedHere") is not None
    # Another server asking us for that ID gets 404: only the origin serves it.
    status, _, answer = await signed_get(fed_hs, other, f"{V1}/download/cachedHere")
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")


async def test_broken_remote_answers_are_502_and_cache_nothing(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    async def not_multipart(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"just bytes", content_type="text/plain")

    async def no_media_part(request: web.Request) -> web.StreamResponse:
        writer = aiohttp.MultipartWriter("mixed")
        writer.append_json({})
        return web.Response(body=writer)

    async def unterminated(request: web.Request) -> web.StreamResponse:
        # The media part never ends with its boundary (an assertion in aiohttp's parser).
        body = (
            b"--b\r\nContent-Type: application/json\r\n\r\n{}\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nshort"
        )
        return web.Response(body=body, headers={"Content-Type": "multipart/mixed; boundary=b"})

    async def server_error(request: web.Request) -> web.StreamResponse:
        return web.json_response({"errcode": "M_UNKNOWN", "error": "oops"}, status=500)

    remote.routes[("GET", f"{V1}/download/notMultipart")] = not_multipart
    remote.routes[("GET", f"{V1}/download/noMediaPart")] = no_media_part
    remote.routes[("GET", f"{V1}/download/serverError")] = server_error
    remote.routes[("GET", f"{V1}/download/unterminated")] = unterminated
    alice = (await fed_hs.register("alice"))["access_token"]
    for media_id in ("notMultipart", "noMediaPart", "unterminated", "serverError"):
        async with fed_hs.client.get(
            f"{AUTHED}/download/{remote.server_name}/{media_id}",
            headers={"Authorization": f"Bearer {alice}"},
        ) as response:
            answer = await response.json()
            assert response.status == 502, (media_id, answer)
            assert remote.server_name in answer["error"]
        # The 500 put the remote in backoff: later requests are 502 at once.
        fed_hs.services.federation.client.backoff.succeeded(remote.server_name)
    assert list(fed_hs.services.media.all_metadata()) == []
    assert list(fed_hs.services.media.store.tmp.iterdir()) == []


async def test_quarantined_media_is_not_served_to_other_servers(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    admin = (await fed_hs.register("admin"))["access_token"]
    media_id = await upload(fed_hs, admin, png(64, 48), "image/png", "q.png")
    quarantine = f"/_synapse/admin/v1/media/quarantine/{fed_hs.config.server_name}/{media_id}"
    status, reply = await fed_hs.request("POST", quarantine, {}, token=admin)
    assert status == 200, reply
    for uri in (f"{V1}/download/{media_id}", f"{V1}/thumbnail/{media_id}?width=32&height=32"):
        status, _, reply = await signed_get(fed_hs, remote, uri)
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), uri
    status, _ = await fed_hs.request(
        "POST", quarantine.replace("/quarantine/", "/unquarantine/"), {}, token=admin
    )
    assert status == 200
    status, _, _ = await signed_get(fed_hs, remote, f"{V1}/download/{media_id}")
    assert status == 200
