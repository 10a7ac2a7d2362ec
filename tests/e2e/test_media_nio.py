"""matrix-nio against a real server process: one client uploads an image, sends it to
a room, and a second client downloads it. nio 0.26 uploads to /_matrix/media/v3/upload
and downloads from the authenticated /_matrix/client/v1/media/download (with a trailing
slash when no file name is given); its ``thumbnail()`` asks the authenticated
/_matrix/client/v1/media/thumbnail with the token as a query parameter."""

from __future__ import annotations

import io

import aiohttp
from nio import (
    AsyncClient,
    DownloadError,
    JoinResponse,
    MemoryDownloadResponse,
    RegisterResponse,
    ResizingMethod,
    RoomCreateResponse,
    RoomMessageImage,
    RoomSendResponse,
    ThumbnailError,
    ThumbnailResponse,
    UploadResponse,
)
from PIL import Image

from tests.kit.server import ServerProcess

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000105fe02fea70000000049454e44ae426082"
)


async def test_upload_send_and_download_an_image(open_server: ServerProcess) -> None:
    alice = AsyncClient(open_server.base_url, "alice")
    bob = AsyncClient(open_server.base_url, "bob")
    try:
        assert isinstance(await alice.register("alice", "a long password"), RegisterResponse)
        assert isinstance(await bob.register("bob", "a long password"), RegisterResponse)
        uploaded, _keys = await alice.upload(
            io.BytesIO(PNG), content_type="image/png", filename="dot.png", filesize=len(PNG)
        )
        assert isinstance(uploaded, UploadResponse), uploaded
        assert uploaded.content_uri.startswith("mxc://localhost/")

        room = await alice.room_create(invite=["@bob:localhost"])
        assert isinstance(room, RoomCreateResponse), room
        assert isinstance(await bob.join(room.room_id), JoinResponse)
        sent = await alice.room_send(
            room.room_id,
            "m.room.message",
            {"msgtype": "m.image", "body": "dot.png", "url": uploaded.content_uri},
        )
        assert isinstance(sent, RoomSendResponse), sent

        synced = await bob.sync(timeout=0, full_state=True)
        images = [
            event
            for event in synced.rooms.join[room.room_id].timeline.events  # type: ignore[union-attr]
            if isinstance(event, RoomMessageImage)
        ]
        assert [image.url for image in images] == [uploaded.content_uri]

        got = await bob.download(images[0].url)
        assert isinstance(got, MemoryDownloadResponse), got
        assert got.body == PNG
        assert got.content_type == "image/png"
        assert got.filename == "dot.png"

        named = await bob.download(images[0].url, filename="renamed.png")
        assert isinstance(named, MemoryDownloadResponse), named
        assert named.filename == "renamed.png"

        # Without a token the authenticated endpoint refuses.
        media_id = uploaded.content_uri.removeprefix("mxc://localhost/")
        url = f"{open_server.base_url}/_matrix/client/v1/media/download/localhost/{media_id}"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 401
            assert (await response.json())["errcode"] == "M_MISSING_TOKEN"

        missing = await bob.download("mxc://localhost/doesNotExist")
        assert isinstance(missing, DownloadError)
        assert missing.status_code == "M_NOT_FOUND"

        # A photo: bob gets a 96x96 crop through the authenticated thumbnail endpoint.
        photo = io.BytesIO()
        Image.linear_gradient("L").resize((640, 480)).convert("RGB").save(photo, "JPEG")
        shot, _keys = await alice.upload(
            io.BytesIO(photo.getvalue()),
            content_type="image/jpeg",
            filename="photo.jpg",
            filesize=len(photo.getvalue()),
        )
        assert isinstance(shot, UploadResponse), shot
        shot_id = shot.content_uri.removeprefix("mxc://localhost/")
        thumb = await bob.thumbnail("localhost", shot_id, 64, 64, ResizingMethod.crop)
        assert isinstance(thumb, ThumbnailResponse), thumb
        assert thumb.content_type == "image/jpeg"
        decoded = Image.open(io.BytesIO(thumb.body))
        assert (decoded.format, decoded.size) == ("JPEG", (96, 96))
        scaled = await bob.thumbnail("localhost", shot_id, 300, 200)
        assert isinstance(scaled, ThumbnailResponse), scaled
        assert Image.open(io.BytesIO(scaled.body)).size == (320, 240)
        # The 1x1 dot already fits: the original itself is the thumbnail.
        dot = await bob.thumbnail("localhost", media_id, 32, 32)
        assert isinstance(dot, ThumbnailResponse) and dot.body == PNG
        unknown = await bob.thumbnail("localhost", "doesNotExist", 32, 32)
        # nio 0.26 reads no errcode from a thumbnail error (it wants an image).
        assert isinstance(unknown, ThumbnailError)
        assert unknown.transport_response is not None
        assert unknown.transport_response.status == 404
    finally:
        await alice.close()
        await bob.close()
