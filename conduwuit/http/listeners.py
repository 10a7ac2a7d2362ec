"""Listening sockets: every address x port, or a unix socket; optional direct TLS.

With ``tls.dual_protocol`` each port speaks both TLS and plain HTTP: the first byte
of a connection is peeked (0x16 starts a TLS handshake) before it is handed to the
HTTP server, with or without a TLS layer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from pathlib import Path

from aiohttp import web

from conduwuit.config import GlobalConfig

log = logging.getLogger("conduwuit.http")

TLS_HANDSHAKE = 0x16
PEEK_TIMEOUT = 10.0


def tls_context(config: GlobalConfig) -> ssl.SSLContext | None:
    if not config.tls.enabled:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(config.tls.certs), str(config.tls.key))
    context.set_alpn_protocols(["http/1.1"])
    return context


def _tcp_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class _AcceptLoop:
    """A server object for ``BaseSite``: accepts, sniffs, and hands connections over."""

    def __init__(
        self, sock: socket.socket, runner: web.BaseRunner, context: ssl.SSLContext
    ) -> None:
        self._sock = sock
        self._runner = runner
        self._context = context
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting = asyncio.get_running_loop().create_task(self._accept())

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(self._sock)
            task = loop.create_task(self._hand_over(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _hand_over(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(conn.fileno(), wake)
        try:
            await asyncio.wait_for(readable, PEEK_TIMEOUT)
            first = conn.recv(1, socket.MSG_PEEK)
        except (TimeoutError, OSError):
            conn.close()
            return
        finally:
            loop.remove_reader(conn.fileno())
        if not first:
            conn.close()
            return
        server = self._runner.server
        assert server is not None
        context = self._context if first[0] == TLS_HANDSHAKE else None
        try:
            await loop.connect_accepted_socket(server, conn, ssl=context)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.debug("connection dropped during TLS handshake: %s", exc)
            conn.close()

    def close(self) -> None:
        self._accepting.cancel()
        for task in self._tasks:
            task.cancel()
        self._sock.close()


class DualProtocolSite(web.BaseSite):
    """A TCP site that serves both TLS and plain HTTP on one port."""

    def __init__(
        self, runner: web.BaseRunner, sock: socket.socket, context: ssl.SSLContext
    ) -> None:
        super().__init__(runner)
        self._sock = sock
        self._context = context

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"https+http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        self._server = _AcceptLoop(self._sock, self._runner, self._context)  # type: ignore[assignment]


def make_sites(config: GlobalConfig, runner: web.AppRunner) -> list[web.BaseSite]:
    """The sites to start; sockets are bound here so a busy port fails early and clearly."""
    if config.unix_socket_path is not None:
        return [_unix_site(config.unix_socket_path, config.unix_socket_mode, runner)]
    context = tls_context(config)
    sites: list[web.BaseSite] = []
    for host in config.addresses:
        for port in config.ports:
            try:
                sock = _tcp_socket(host, port)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"cannot listen on {host} port {port}: {exc.strerror}"
                ) from None
            if context is not None and config.tls.dual_protocol:
                sites.append(DualProtocolSite(runner, sock, context))
            else:
                sites.append(web.SockSite(runner, sock, ssl_context=context))
    return sites


class _UnixSite(web.UnixSite):
    def __init__(self, runner: web.BaseRunner, path: Path, mode: int) -> None:
        super().__init__(runner, str(path))
        self._mode = mode

    async def start(self) -> None:
        await super().start()
        os.chmod(self._path, self._mode)


def _unix_site(path: Path, mode: int, runner: web.AppRunner) -> web.BaseSite:
    if path.exists() and path.is_socket():
        path.unlink()  # a stale socket from a previous run
    path.parent.mkdir(parents=True, exist_ok=True)
    return _UnixSite(runner, path, mode)
