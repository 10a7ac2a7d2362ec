"""Synapse's background updates admin API: this server's database updates (its
migrations) finish before it serves, so none is ever running and none can be
paused; for server admins only."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduwuit.db import Database, DatabaseOptions
from conduwuit.db.migrations import MIGRATIONS, latest_version
from tests.http.admin.test_users import ok
from tests.kit.homeserver import StartHomeserver

V1 = "/_synapse/admin/v1/background_updates"


async def test_status_after_migrating_an_old_database(
    start: StartHomeserver, tmp_path: Path
) -> None:
    # A database at the first schema (the start fixture's first path): every
    # migration runs when the server opens it, before anything is served.
    options = DatabaseOptions(path=tmp_path / "db0", backup_path=tmp_path / "backups")
    with Database.open(options, migrations=()) as db:
        assert db.schema_version < latest_version(MIGRATIONS)
    hs = await start()
    assert hs.services.db.schema_version == latest_version(MIGRATIONS)
    admin = (await hs.register("admin"))["access_token"]
    reply = await ok(hs, "GET", f"{V1}/status", admin)
    assert reply == {"enabled": True, "current_updates": {}}
    assert await ok(hs, "GET", f"{V1}/enabled", admin) == {"enabled": True}


async def test_enabled_can_be_confirmed_not_paused(start: StartHomeserver) -> None:
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    path = f"{V1}/enabled"
    assert await ok(hs, "POST", path, admin, {"enabled": True}) == {"enabled": True}
    # Synapse's default when the field is left out.
    assert await ok(hs, "POST", path, admin, {}) == {"enabled": True}
    for body, expected in (
        ({"enabled": False}, (400, "M_INVALID_PARAM")),
        ({"enabled": "no"}, (400, "M_BAD_JSON")),
        ([], (400, "M_BAD_JSON")),
    ):
        status, reply = await hs.request("POST", path, body, token=admin)
        assert (status, reply["errcode"]) == expected, body
    # Nothing changed.
    assert await ok(hs, "GET", path, admin) == {"enabled": True}
    # Synapse's jobs over its own tables are not offered.
    status, reply = await hs.request(
        "POST", f"{V1}/start_job", {"job_name": "regenerate_directory"}, token=admin
    )
    assert (status, reply["errcode"]) == (404, "M_UNRECOGNIZED")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/status", None), ("GET", "/enabled", None), ("POST", "/enabled", {"enabled": True})],
)
async def test_admins_only(
    start: StartHomeserver, method: str, path: str, body: dict[str, bool] | None
) -> None:
    hs = await start()
    await hs.register("admin")
    alice = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request(method, V1 + path, body)
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request(method, V1 + path, body, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
