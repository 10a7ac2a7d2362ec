"""The one route table: every endpoint of the server, built over its services.

Each API module declares its endpoints (``routes(...) -> list[Route]``) over the
services it calls; this module is the only place that knows them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from conduwuit.api import root, wellknown
from conduwuit.api.admin import background_updates as admin_background_updates
from conduwuit.api.admin import event_reports as admin_event_reports
from conduwuit.api.admin import loop_lag as admin_loop_lag
from conduwuit.api.admin import media as admin_media
from conduwuit.api.admin import moderation as admin_moderation
from conduwuit.api.admin import purge_history as admin_purge_history
from conduwuit.api.admin import register as admin_register
from conduwuit.api.admin import registration_tokens as admin_registration_tokens
from conduwuit.api.admin import rooms as admin_rooms
from conduwuit.api.admin import server_notices as admin_server_notices
from conduwuit.api.admin import server_version as admin_server_version
from conduwuit.api.admin import users as admin_users
from conduwuit.api.admin import whois as admin_whois
from conduwuit.api.auth import requester
from conduwuit.api.client import (
    account,
    account_data,
    appservice_ping,
    capabilities,
    delayed_events,
    devices,
    filter,
    login,
    openid,
    profile,
    register,
    report_user,
    room_keys,
    tags,
    thirdparty,
    thread_subscriptions,
    to_device,
    versions,
    voip,
)
from conduwuit.api.client import keys as client_keys
from conduwuit.api.client import presence as presence_api
from conduwuit.api.client import rooms as rooms_api
from conduwuit.api.client import sliding_sync as sliding_sync_api
from conduwuit.api.client import sync as sync_api
from conduwuit.api.client.notifications import NotificationHandlers
from conduwuit.api.client.push_rules import PushRuleHandlers
from conduwuit.api.client.pushers import PusherHandlers
from conduwuit.api.client.rooms import (
    ephemeral,
    mutual_rooms,
    relations,
    reports,
    spaces,
    timestamps,
    upgrade,
    user_directory,
)
from conduwuit.api.client.rooms import search as search_api
from conduwuit.api.client.rooms.initial_sync import InitialSyncHandlers
from conduwuit.api.federation import directory as federation_directory
from conduwuit.api.federation import keys, version
from conduwuit.api.federation import media as federation_media
from conduwuit.api.federation import membership as federation_membership
from conduwuit.api.federation import query as federation_query
from conduwuit.api.federation import rooms as federation_rooms
from conduwuit.api.federation import send as federation_send
from conduwuit.api.federation import user_keys as federation_user_keys
from conduwuit.api.media import content as media_content
from conduwuit.api.media import preview as media_preview
from conduwuit.api.media import thumbnail as media_thumbnail
from conduwuit.api.metrics import MetricsHandlers
from conduwuit.api.router import Route
from conduwuit.config import GlobalConfig
from conduwuit.core.errors import invalid_param
from conduwuit.service.e2ee import E2ee
from conduwuit.service.federation.queries import FederationQueries
from conduwuit.service.ratelimit import RateLimits
from conduwuit.service.services import FederationServices, RoomServices, Services, UserServices
from conduwuit.service.sync.service import parse_since
from conduwuit.service.uiaa import PASSWORD, Uiaa


def routes(services: Services) -> list[Route]:
    config, users, rooms = services.config, services.users, services.rooms
    return [
        *root.routes(config.server_name),
        *versions.routes(config.thread_subscription_push_rules),
        *wellknown.routes(config.well_known),
        *version.routes(),
        *keys.routes(services.server_keys, services.federation.keys, config.allow_federation),
        *federation_query.routes(
            config.server_name,
            users.accounts,
            users.profiles,
            rooms.directory,
            config.allow_profile_lookup_federation_requests,
        ),
        *federation_rooms.routes(services.serving.reads),
        *federation_membership.routes(services.serving.membership),
        *federation_send.routes(services.serving.inbound),
        *federation_directory.routes(services.serving.directory),
        *federation_media.routes(services.media, services.thumbnailer),
        *federation_user_keys.routes(services.federation.user_keys),
        *user_routes(
            config,
            users,
            services.limits,
            services.federation.queries,
            services.appservice_queries.user_exists,
        ),
        *appservice_ping.PingHandlers(users.appservices, services.appservice_queries).routes(),
        *thirdparty.ThirdPartyHandlers(services.appservice_queries.third_party).routes(),
        *room_routes(config, rooms, users, services.limits, services.federation),
        *sync_api.routes(services.sync, users.filters),
        *sliding_sync_api.routes(services.sliding_sync),
        *e2ee_routes(services.e2ee, users.uiaa),
        *PushRuleHandlers(services.push.rules).routes(),
        *PusherHandlers(services.push.pushers).routes(),
        *NotificationHandlers(
            services.push.notifications, rooms.storage.timeline.get, rooms.storage.clock
        ).routes(),
        *loop_lag_routes(services),
        *metrics_routes(services),
        *admin_api_routes(services),
        *voip.VoipHandlers(services.voip).routes(),
        *media_content.routes(services.media, allow_legacy=config.allow_legacy_media),
        *media_thumbnail.routes(
            services.media, services.thumbnailer, allow_legacy=config.allow_legacy_media
        ),
        *media_preview.routes(services.previewer, allow_legacy=config.allow_legacy_media),
    ]


def admin_api_routes(services: Services) -> list[Route]:
    """Synapse's admin API (docs/admin-api.md), for server admins."""
    is_admin = services.users.accounts.is_admin
    return [
        *admin_server_version.routes(),
        *admin_users.UserAdminHandlers(services.admin_api.users, is_admin).routes(),
        *admin_rooms.RoomAdminHandlers(
            services.admin_api.rooms, services.admin_api.deletions, is_admin
        ).routes(),
        *admin_media.MediaAdminHandlers(services.admin_api.media, is_admin).routes(),
        *admin_background_updates.BackgroundUpdateHandlers(is_admin).routes(),
        *admin_purge_history.PurgeHistoryHandlers(services.admin_api.history, is_admin).routes(),
        *admin_registration_tokens.RegistrationTokenHandlers(
            services.users.registration_tokens, is_admin
        ).routes(),
        *admin_event_reports.EventReportHandlers(
            services.admin_api.event_reports, is_admin
        ).routes(),
    ]


def loop_lag_routes(services: Services) -> list[Route]:
    # The probe also runs for the metrics; its admin endpoint is loop_lag_monitor's.
    if services.loop_lag is None or not services.config.loop_lag_monitor:
        return []
    return admin_loop_lag.routes(services.loop_lag, services.users.accounts.is_admin)


def metrics_routes(services: Services) -> list[Route]:
    if services.metrics is None:
        return []
    config = services.config
    return MetricsHandlers(
        config.metrics_path, services.metrics.render, config.metrics_token
    ).routes()


def user_routes(
    config: GlobalConfig,
    users: UserServices,
    limits: RateLimits,
    remote: FederationQueries,
    ask_appservices: Callable[[str], Awaitable[bool]],
) -> list[Route]:
    return [
        *register.routes(
            config,
            users.registration,
            users.uiaa,
            users.registration_limiter,
            users.appservices,
            users.registration_tokens,
        ),
        *login.routes(
            config,
            users.accounts,
            users.devices,
            users.password_auth,
            users.registration,
            users.uiaa,
            users.login_limiter,
            users.appservices,
            refresh_limiter=limits.refresh,
        ),
        *admin_register.routes(users.shared_secret, users.registration, config.server_name),
        *account.routes(users.registration, users.uiaa),
        *devices.routes(users.devices, users.uiaa),
        *profile.routes(config, users.accounts, users.profiles, remote, ask_appservices),
        *account_data.routes(users.account_data),
        *tags.TagHandlers(users.tags).routes(),
        *openid.OpenIdHandlers(users.openid, config.server_name).routes(),
        *filter.routes(users.filters),
        *capabilities.routes(config, users.accounts.is_admin),
        *admin_whois.WhoisHandlers(users.whois).routes(),
        *admin_moderation.ModerationHandlers(users.moderation, users.accounts.is_admin).routes(),
    ]


def room_routes(
    config: GlobalConfig,
    rooms: RoomServices,
    users: UserServices,
    limits: RateLimits,
    federation: FederationServices,
) -> list[Route]:
    remote = federation.queries
    return [
        *rooms_api.routes(
            rooms.actions,
            rooms.membership,
            rooms.history,
            rooms.directory,
            users.filters,
            config.allow_public_room_directory_without_auth,
            limits=limits,
            remote=remote,
            delayed=rooms.delayed_events,
            shadow_bans=users.shadow_bans,
            forbidden_directory_servers=frozenset(
                config.forbidden_remote_room_directory_server_names
            ),
            unknown_events=federation.unknown_events,
        ),
        *delayed_events.routes(rooms.delayed_events),
        *admin_server_notices.ServerNoticeHandlers(rooms.server_notices).routes(),
        *relations.routes(rooms.relations),
        *thread_subscriptions.ThreadSubscriptionHandlers(rooms.thread_subscriptions).routes(),
        *ephemeral.routes(
            rooms.typing,
            rooms.receipts,
            users.account_data,
            limits=limits,
            shadow_bans=users.shadow_bans,
        ),
        *upgrade.routes(rooms.upgrades),
        *reports.routes(rooms.reports),
        *timestamps.routes(federation.timestamps),
        *mutual_rooms.routes(rooms.storage.member_index),
        *search_api.routes(rooms.search),
        *report_user.ReportUserHandlers(rooms.reports).routes(),
        *InitialSyncHandlers(rooms.initial_sync).routes(),
        *spaces.routes(rooms.hierarchy, rooms.actions.aliases),
        *user_directory.routes(rooms.user_directory),
        *presence_api.routes(rooms.presence, limits=limits),
    ]


def e2ee_routes(e2ee: E2ee, uiaa: Uiaa) -> list[Route]:
    async def uia(auth: dict[str, Any] | None, user_id: str) -> object:
        # Synapse asks for the password (or SSO) to replace cross-signing keys.
        return await uiaa.authenticate(auth, [[PASSWORD]], user_id=user_id)

    def sync_position(token: str) -> int:
        # /keys/changes takes /sync's next_batch tokens; the sync service owns them.
        position = parse_since(token)
        if position is None:
            raise invalid_param("Empty sync token")
        return position

    return [
        *client_keys.routes(e2ee, requester=requester, uia=uia, position_of=sync_position),
        *to_device.routes(e2ee.to_device, requester=requester),
        *room_keys.routes(e2ee.key_backups, requester=requester),
    ]
