"""Running the server: open the database, build the services, listen, shut down cleanly."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import os
import signal
import time
from pathlib import Path

from aiohttp import web

from conduwuit import SERVER_NAME, __version__, allocator, sd_notify
from conduwuit.admin.socket import AdminSocket
from conduwuit.config import GlobalConfig, LoadedConfig
from conduwuit.http.listeners import make_sites
from conduwuit.server import build

log = logging.getLogger("conduwuit")


def in_container() -> bool:
    return (
        Path("/.dockerenv").exists()
        or Path("/run/.containerenv").exists()
        or "container" in os.environ
    )


def only_loopback(config: GlobalConfig) -> bool:
    if config.unix_socket_path is not None:
        return False
    return all(ipaddress.ip_address(address).is_loopback for address in config.addresses)


class RunningServer:
    """The services and listeners of one server; ``start`` then ``stop``."""

    def __init__(self, config: GlobalConfig) -> None:
        self.config = config
        self.server = build(config)
        self.runner = web.AppRunner(
            self.server.app,
            shutdown_timeout=config.client_shutdown_timeout,
            handle_signals=False,
            access_log=None,
        )
        self.sites: list[web.BaseSite] = []
        path = config.admin_socket_path
        self.admin_socket = AdminSocket(self.server.admin, path) if path is not None else None

    async def start(self) -> None:
        try:
            # Registration files before listening: an appservice's first request
            # must find its token, and a bad file stops the start before any client
            # is answered (issue 21 checked the order: everything before ``listen``
            # is what serving correctly needs; the rest starts after).
            if self.config.appservice_dir is not None:
                loaded = await self.server.services.users.appservices.load_dir(
                    self.config.appservice_dir
                )
                log.info("appservices from %s: %s", self.config.appservice_dir, loaded)
            await self.runner.setup()
            self.sites = make_sites(self.config, self.runner)
            for site in self.sites:
                await site.start()
            if self.server.services.loop_lag is not None:
                self.server.services.loop_lag.start()
            self.server.services.push.pushers.start()
            self.server.services.rooms.delayed_events.start()
            self.server.services.rooms.typing.start()
            self.server.services.federation.sender.start()
            self.server.services.federation.partial_resync.start()
            self.server.services.appservice_sender.start()
            self.server.services.admin_api.deletions.start()
            self.server.services.admin_api.history.start()
            await self.server.admin.room.ensure_for_existing_admins()
            if self.admin_socket is not None:
                await self.admin_socket.start()
            await self.server.admin.execute_at_startup(
                self.config.admin_execute,
                errors_ignore=self.config.admin_execute_errors_ignore,
            )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to the timeout), close the DB.

        Long-polls (/sync) are woken first: they answer with what they have, so a
        connected client does not hold the shutdown for the whole timeout.
        """
        try:
            self.server.services.notifier.close()
            if self.server.services.loop_lag is not None:
                await self.server.services.loop_lag.stop()
            try:
                await self.runner.cleanup()
            finally:
                # After the requests: none can queue a push or schedule an event.
                await self.server.services.rooms.delayed_events.stop()
                await self.server.services.rooms.typing.stop()
                if self.admin_socket is not None:
                    await self.admin_socket.stop()
                await self.server.admin.stop()
                # A purge stopped here resumes at the next start.
                await self.server.services.admin_api.deletions.stop()
                await self.server.services.admin_api.history.stop()
                await self.server.services.push.pushers.stop()
                await self.server.services.federation.sender.stop()
                await self.server.services.federation.partial_resync.stop()
                await self.server.services.appservice_sender.stop()
                await self.server.services.media.stop()
                await self.server.services.federation.remote_keys.stop()
                await self.server.services.federation.client.close()
                await self.server.services.federation.resolver.close()
                await self.server.services.previewer.close()
                await self.server.services.thumbnailer.close()
        finally:
            self.server.close()


async def serve(loaded: LoadedConfig, *, started_at: float | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then drain requests and close the database."""
    config = loaded.config
    started_at = started_at if started_at is not None else time.monotonic()
    for warning in loaded.warnings:
        log.warning("%s", warning)
    server = RunningServer(config)
    await server.start()
    gc.enable()  # off during start-up (``cli.main``, issue 21); on for serving
    # Opening RocksDB's maps frees ~5 MiB of temporaries the heap keeps resident
    # (issue 21: idle RSS 80 -> 76 MiB); a gc.collect() or gc.freeze() first adds nothing.
    allocator.trim()
    try:
        log.info(
            "%s %s serving %s on %s (database %s), ready in %.0f ms",
            SERVER_NAME,
            __version__,
            config.server_name,
            ", ".join(site.name for site in server.sites),
            config.database_path,
            (time.monotonic() - started_at) * 1000,
        )
        if in_container() and only_loopback(config):
            log.warning(
                "running in a container but listening only on loopback: nothing outside the "
                'container can reach the server; set address = ["0.0.0.0", "::"]'
            )
        sd_notify.ready()
        await _wait_for_signal()
        sd_notify.stopping()
        log.info("shutting down: finishing requests (up to %ss)", config.client_shutdown_timeout)
    finally:
        await server.stop()
        log.info("database closed, goodbye")


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def private_umask() -> None:
    """Files this process creates (RocksDB's, backups, media) are for its user only."""
    os.umask(os.umask(0o077) | 0o077)


def run(loaded: LoadedConfig, started_at: float) -> None:
    private_umask()
    allocator.pin_mmap_threshold()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(loaded, started_at=started_at))
    else:
        uvloop.run(serve(loaded, started_at=started_at))
