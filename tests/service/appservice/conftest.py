from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kit.appservice import FakeAppservice


@pytest.fixture
async def appservice() -> AsyncIterator[FakeAppservice]:
    """An application service on loopback that records what it is sent."""
    fake = FakeAppservice()
    await fake.start()
    yield fake
    await fake.close()
