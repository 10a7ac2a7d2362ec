"""matrix-nio against a real server process: one client uploads an image, sends it to
a room, and a second client downloads it. nio 0.26 uploads to /_matrix/media/v3/upload
and downloads from the authenticated /_matrix/client/v1/media/download (with a trailing
slash when no file name is given)."""

from __future__ import annotations

import io

import aiohttp
from nio import (
    AsyncClient,
    DownloadError,
    JoinResponse,
    MemoryDownloadResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomMessageImage,
    RoomSendResponse,
    UploadResponse,
)

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
    finally:
        await alice.close()
        await bob.close()
