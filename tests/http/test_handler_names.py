"""Every endpoint is a named handler, not a closure inside ``routes()``: a traceback
or a profile then names ``conduwuit.api.client.rooms.send.SendHandlers.send_event``,
not ``routes.<locals>.send_event``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from conduwuit.api.lazy import LazyRoute
from conduwuit.api.routes import routes
from conduwuit.server import build
from tests.kit.homeserver import homeserver_config


def name(handler: Any) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


def real(handler: Any) -> Any:
    handler = inspect.unwrap(handler)
    lazy = getattr(handler, "__self__", None)
    if isinstance(lazy, LazyRoute):
        return lazy.group.resolve()[lazy.index].handler
    return handler


def test_every_installed_handler_is_named(tmp_path: Path) -> None:
    # The loop-lag monitor adds its route only when it is on.
    server = build(homeserver_config(tmp_path / "db", loop_lag_monitor=True))
    try:
        declared = {name(route.handler) for route in routes(server.services)}
        # The router wraps handlers (auth, body limit) and keeps them as __wrapped__;
        # a lazily loaded route's handler is its group's, loaded here.
        installed = {name(real(route.handler)) for route in server.app.router.routes()}
    finally:
        server.close()
    assert installed == declared
    assert sorted(n for n in installed if "<locals>" in n) == []
    assert all(n.startswith("conduwuit.api.") for n in installed)
    assert "conduwuit.api.client.rooms.send.SendHandlers.send_event" in installed
    assert "conduwuit.api.admin.loop_lag.LoopLagHandlers.get_loop_lag" in installed
