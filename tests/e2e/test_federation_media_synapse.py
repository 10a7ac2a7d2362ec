"""Media over federation with Synapse from PyPI as the peer (tests/kit/synapse_peer.py):
an image uploaded on Synapse is downloaded and thumbnailed through our server, and
one uploaded here through Synapse (each side fetching over the authenticated
federation media endpoints of spec v1.11)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PIL import Image

from tests.e2e.test_federation_media import download, png, thumbnail, upload
from tests.kit.federation import federation, register
from tests.kit.server import ServerProcess
from tests.kit.synapse_peer import SynapsePeer, synapse_available

pytestmark = pytest.mark.skipif(
    not synapse_available(), reason="matrix-synapse (the crosscheck extra) is not installed"
)


@dataclass
class Net:
    a: ServerProcess
    s: SynapsePeer
    #: Tokens of bob on A and alice on S.
    bob: str
    alice: str


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with federation(tmp_path_factory.mktemp("fedmedia-synapse")) as fed:
        a = fed.server(2).start(timeout=60)
        s = fed.synapse(5).start()
        yield Net(a, s, register(a, "bob")[1], s.register("alice")[1])


def assert_thumbnail_of(answer: tuple[int, dict[str, str], bytes], width: int) -> None:
    status, headers, body = answer
    assert status == 200, body[:500]
    assert headers["Content-Type"].startswith("image/")
    assert max(Image.open(io.BytesIO(body)).size) < width


def test_synapse_media_through_us(net: Net) -> None:
    image = png(500, 300)
    mxc = upload(net.s, net.alice, image, "image/png", "from-synapse.png")
    assert mxc.startswith(f"mxc://{net.s.server_name}/")
    status, headers, body = download(net.a, net.bob, mxc)
    assert status == 200, body[:500]
    assert body == image
    assert headers["Content-Type"] == "image/png"
    assert "from-synapse.png" in headers["Content-Disposition"]
    assert_thumbnail_of(thumbnail(net.a, net.bob, mxc), 500)
    # Over Synapse's authenticated federation endpoint, not the legacy fallback.
    assert "lacks the federation media endpoint" not in net.a.log()


def test_our_media_through_synapse(net: Net) -> None:
    image = png(420, 260)
    mxc = upload(net.a, net.bob, image, "image/png", "from-us.png")
    status, headers, body = download(net.s, net.alice, mxc)
    assert status == 200, body[:500]
    assert body == image
    assert headers["Content-Type"] == "image/png"
    assert_thumbnail_of(thumbnail(net.s, net.alice, mxc), 420)
