"""TLS client contexts built on first use, for the server's outbound HTTPS.

Loading the system's CAs into a context holds ~0.8 MiB and takes 25-45 ms: an
idle server that never makes an HTTPS request need not pay either (issue 21).
Federation has its context (the system's CAs plus ``federation_ca_file``); push
gateways, URL previews and application services share another, the system's CAs
alone (:func:`system_tls`). aiohttp's own default contexts are left without CAs
by the entry point (``conduwuit/lean_imports.py``), so every HTTPS request the
server makes passes one of these (:meth:`LazyTLS.for_url`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable


class LazyTLS:
    """A TLS client context built on its first use, in a worker thread, then kept.

    The first request does not stall the event loop for it. :meth:`ready` wraps a
    context already built.
    """

    def __init__(self, build: Callable[[], ssl.SSLContext]) -> None:
        self._build = build
        self._context: ssl.SSLContext | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def ready(cls, context: ssl.SSLContext) -> LazyTLS:
        tls = cls(lambda: context)
        tls._context = context
        return tls

    @property
    def built(self) -> bool:
        return self._context is not None

    async def context(self) -> ssl.SSLContext:
        if self._context is None:
            async with self._lock:
                if self._context is None:
                    self._context = await asyncio.to_thread(self._build)
        return self._context

    async def for_url(self, url: str) -> ssl.SSLContext | bool:
        """aiohttp's ``ssl=`` for a request to ``url``: this context for ``https``,
        and nothing to build for plain ``http`` (``True``: aiohttp's default, unused)."""
        if url[:6].lower() == "https:":
            return await self.context()
        return True


def system_tls() -> LazyTLS:
    """The system's CAs, built on first use."""
    return LazyTLS(ssl.create_default_context)
