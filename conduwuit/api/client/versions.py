"""GET /_matrix/client/versions: the spec versions and unstable features we honour.

Only versions whose required endpoints work are listed: a version is added here by
the change that completes it (see docs/development/versions.md).
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Route

#: Client-server spec versions this server implements. Still empty: accounts
#: (registration, login, devices, profiles, account data, filters, capabilities)
#: work, but every spec version, r0.0.0 to v1.19, also requires rooms and /sync,
#: and a client that sees a version listed will rely on them. The change that
#: completes rooms and sync adds the versions it honours.
SUPPORTED_VERSIONS: tuple[str, ...] = ()

#: Unstable features (MSCs) that work, by their unstable flag.
UNSTABLE_FEATURES: dict[str, bool] = {
    # MSC1756 cross-signing: /keys/device_signing/upload (with UIA),
    # /keys/signatures/upload, cross-signing keys in /keys/query, and key changes
    # reaching room-mates through device_lists. Synapse advertises it too.
    "org.matrix.e2e_cross_signing": True,
}


class VersionsHandlers:
    async def versions(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"versions": list(SUPPORTED_VERSIONS), "unstable_features": UNSTABLE_FEATURES}
        )

    def routes(self) -> list[Route]:
        return [Route("GET", ("/_matrix/client/versions",), self.versions)]


def routes() -> list[Route]:
    return VersionsHandlers().routes()
