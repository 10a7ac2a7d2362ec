"""GET /_conduwuit/admin/v1/loop_lag: the event-loop stall figures, admins only, opt-in."""

from __future__ import annotations

import time

from tests.kit.homeserver import StartHomeserver

PATH = "/_conduwuit/admin/v1/loop_lag"


async def test_not_served_unless_the_monitor_is_on(start: StartHomeserver) -> None:
    hs = await start()
    token = (await hs.register("admin"))["access_token"]
    assert hs.services.loop_lag is None
    status, reply = await hs.request("GET", PATH, token=token)
    assert (status, reply["errcode"]) == (404, "M_UNRECOGNIZED")


async def test_admins_read_the_figures_and_reset_the_window(start: StartHomeserver) -> None:
    hs = await start(loop_lag_monitor=True)
    admin = (await hs.register("admin"))["access_token"]  # the first account is an admin
    other = (await hs.register("someone"))["access_token"]
    monitor = hs.services.loop_lag
    assert monitor is not None
    monitor.start()
    try:
        monitor.record(0.030)
        status, reply = await hs.request("GET", PATH, token=other)
        assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
        status, reply = await hs.request("GET", PATH, token=admin, params={"reset": "maybe"})
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
        status, reply = await hs.request("GET", PATH)
        assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
        # none of the refused requests reset the window
        status, reply = await hs.request("GET", PATH, token=admin, params={"reset": "true"})
        assert status == 200, reply
        assert reply["max_ms"] >= 30.0 and reply["samples"] >= 1 and reply["running"] is True
        time.sleep(0.002)  # noqa: ASYNC251 -- the probe wakes at least this late once the loop runs again
        status, reply = await hs.request("GET", PATH, token=admin)
        assert status == 200, reply
        assert reply["max_ms"] < 30.0
    finally:
        await monitor.stop()
