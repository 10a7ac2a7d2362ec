"""GET /_matrix/client/versions: the spec versions and unstable features we honour.

Only versions whose required endpoints work are listed, and only features that work
(docs/development/versions.md has the version-by-version table and the reasoning).
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Route

#: Client-server spec versions this server implements: v1.1 to v1.19, as a server
#: for clients of the Web, Desktop, CLI and Embedded feature profiles. The spec lets
#: a server that targets some profiles implement only the modules those profiles
#: require ("Modules", "Feature Profiles"); of the Mobile profile's, Third-party
#: Invites is missing. See docs/development/versions.md (a table per module and
#: version) before adding a version.
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(f"v1.{minor}" for minor in range(1, 20))

#: Unstable features (MSCs) that work, by their unstable flag; each has a test in
#: tests/http/client/test_versions.py that uses the feature.
UNSTABLE_FEATURES: dict[str, bool] = {
    # MSC1756 cross-signing: /keys/device_signing/upload (with UIA),
    # /keys/signatures/upload, cross-signing keys in /keys/query, and key changes
    # reaching room-mates through device_lists. Synapse advertises it too.
    "org.matrix.e2e_cross_signing": True,
    # MSC2285 private read receipts (m.read.private, spec v1.4): stored, clear the
    # sender's unread count, never shown to anyone else.
    "org.matrix.msc2285.stable": True,
    # MSC3827 room_types filter and room_type in /publicRooms (spec v1.4).
    "org.matrix.msc3827.stable": True,
    # MSC3440 threads (m.thread relations bundled in the root, spec v1.4) and the
    # thread list of MSC3856 (/v1/rooms/{roomId}/threads).
    "org.matrix.msc3440.stable": True,
    # MSC3771 threaded read receipts (thread_id on receipts, spec v1.4) and MSC3773
    # thread notifications (unread_thread_notifications in /sync when the filter asks,
    # spec v1.4): counts per thread, cleared by that thread's receipts.
    "org.matrix.msc3771": True,
    "org.matrix.msc3773": True,
    # MSC3874 org.matrix.msc3874.rel_types / not_rel_types in room event filters
    # (/messages, /context, /sync timelines, search).
    "org.matrix.msc3874": True,
    # MSC3391 deleting account data (DELETE under unstable/org.matrix.msc3391).
    "org.matrix.msc3391": True,
    # MSC3981 ``recurse`` on /relations (spec v1.10; the flag for older clients).
    "org.matrix.msc3981": True,
    # MSC3266 room summaries (spec v1.15; also at unstable/im.nheko.summary).
    "org.matrix.msc3266": True,
    # MSC2666 mutual rooms at unstable/uk.half-shot.msc2666/user/mutual_rooms.
    "uk.half-shot.msc2666.query_mutual_rooms": True,
    # MSC4140 delayed events: ?org.matrix.msc4140.delay on /send and /state, and
    # unstable/org.matrix.msc4140/delayed_events (Element Call's call memberships).
    "org.matrix.msc4140": True,
    # MSC4133 custom profile fields on the stable /profile/{userId}/{keyName} paths.
    "uk.tcpip.msc4133.stable": True,
    # MSC3916 authenticated media (spec v1.11): /_matrix/client/v1/media/download
    # and /config with an access token; clients on older versions look for this flag.
    "org.matrix.msc3916.stable": True,
    # MSC4186 Simplified Sliding Sync at unstable/org.matrix.simplified_msc3575/sync,
    # with the to_device, e2ee, account_data, receipts and typing extensions
    # (docs/sliding-sync.md). matrix-rust-sdk (Element X) syncs with it only if this
    # flag is set; the Rust conduwuit and Synapse advertise it too.
    "org.matrix.simplified_msc3575": True,
    # MSC4155 invite filtering: org.matrix.msc4155.invite_permission_config's user and
    # server globs (blocked: 403 M_INVITE_BLOCKED; ignored: left out of /sync). Element
    # reads this flag before it offers the setting. Synapse's flag name.
    "org.matrix.msc4155": True,
    # MSC4380 invite blocking (spec v1.18): m.invite_permission_config's
    # default_action "block". Synapse's flag name.
    "org.matrix.msc4380.stable": True,
}


#: MSC4306 thread subscriptions, advertised only with thread_subscription_push_rules
#: on (Synapse's msc4306_enabled covers the same): the subscription endpoints, the
#: postcontent push rules that make a followed thread notify and an unfollowed one
#: not, and MSC4308's sliding-sync extension and list endpoint. A client that sees
#: the flag stops relying on thread notifications it has not subscribed to.
THREAD_SUBSCRIPTIONS_FEATURE = "org.matrix.msc4306"


class VersionsHandlers:
    def __init__(self, thread_subscriptions: bool = False) -> None:
        features = dict(UNSTABLE_FEATURES)
        if thread_subscriptions:
            features[THREAD_SUBSCRIPTIONS_FEATURE] = True
        self._body = {"versions": list(SUPPORTED_VERSIONS), "unstable_features": features}

    async def versions(self, request: web.Request) -> web.Response:
        return web.json_response(self._body)

    def routes(self) -> list[Route]:
        return [Route("GET", ("/_matrix/client/versions",), self.versions)]


def routes(thread_subscriptions: bool = False) -> list[Route]:
    return VersionsHandlers(thread_subscriptions).routes()
