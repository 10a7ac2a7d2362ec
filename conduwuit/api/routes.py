"""The one route table: every endpoint of the server, built over its services.

Each API module declares its endpoints (``routes(...) -> list[Route]``) over the
services it calls; this module is the only place that knows them all. It lists
them as groups, one builder per API module, each importing its module when it
runs: ``routes`` runs them all, ``lazy_routes`` (what the server installs) only
when one of the group's routes is first requested (conduwuit/api/lazy.py).
"""

from __future__ import annotations

from typing import Any

from conduwuit.api.auth import requester
from conduwuit.api.lazy import Builder, LazyGroup
from conduwuit.api.route_shapes import ROUTE_SHAPES
from conduwuit.api.router import Route
from conduwuit.core.errors import invalid_param
from conduwuit.service.services import Services
from conduwuit.service.sync.service import parse_since
from conduwuit.service.uiaa import PASSWORD


def _root(s: Services) -> list[Route]:
    from conduwuit.api import root

    return root.routes(s.config.server_name)


def _versions(s: Services) -> list[Route]:
    from conduwuit.api.client import versions

    return versions.routes(s.config.thread_subscription_push_rules)


def _wellknown(s: Services) -> list[Route]:
    from conduwuit.api import wellknown

    return wellknown.routes(s.config.well_known)


def _federation_version(s: Services) -> list[Route]:
    from conduwuit.api.federation import version

    return version.routes()


def _federation_keys(s: Services) -> list[Route]:
    from conduwuit.api.federation import keys

    return keys.routes(s.server_keys, s.federation.keys, s.config.allow_federation)


def _federation_query(s: Services) -> list[Route]:
    from conduwuit.api.federation import query

    return query.routes(
        s.config.server_name,
        s.users.accounts,
        s.users.profiles,
        s.rooms.directory,
        s.config.allow_profile_lookup_federation_requests,
    )


def _federation_rooms(s: Services) -> list[Route]:
    from conduwuit.api.federation import rooms

    return rooms.routes(s.serving.reads)


def _federation_membership(s: Services) -> list[Route]:
    from conduwuit.api.federation import membership

    return membership.routes(s.serving.membership)


def _federation_send(s: Services) -> list[Route]:
    from conduwuit.api.federation import send

    return send.routes(s.serving.inbound)


def _federation_directory(s: Services) -> list[Route]:
    from conduwuit.api.federation import directory

    return directory.routes(s.serving.directory)


def _federation_media(s: Services) -> list[Route]:
    from conduwuit.api.federation import media

    return media.routes(s.media, s.thumbnailer)


def _federation_user_keys(s: Services) -> list[Route]:
    from conduwuit.api.federation import user_keys

    return user_keys.routes(s.federation.user_keys)


def _register(s: Services) -> list[Route]:
    from conduwuit.api.client import register

    users = s.users
    return register.routes(
        s.config,
        users.registration,
        users.uiaa,
        users.registration_limiter,
        users.appservices,
        users.registration_tokens,
    )


def _login(s: Services) -> list[Route]:
    from conduwuit.api.client import login

    users = s.users
    return login.routes(
        s.config,
        users.accounts,
        users.devices,
        users.password_auth,
        users.registration,
        users.uiaa,
        users.login_limiter,
        users.appservices,
        refresh_limiter=s.limits.refresh,
    )


def _admin_register(s: Services) -> list[Route]:
    from conduwuit.api.admin import register

    return register.routes(s.users.shared_secret, s.users.registration, s.config.server_name)


def _account(s: Services) -> list[Route]:
    from conduwuit.api.client import account

    return account.routes(s.users.registration, s.users.uiaa)


def _devices(s: Services) -> list[Route]:
    from conduwuit.api.client import devices

    return devices.routes(s.users.devices, s.users.uiaa)


def _profile(s: Services) -> list[Route]:
    from conduwuit.api.client import profile

    users = s.users
    return profile.routes(
        s.config,
        users.accounts,
        users.profiles,
        s.federation.queries,
        s.appservice_queries.user_exists,
    )


def _account_data(s: Services) -> list[Route]:
    from conduwuit.api.client import account_data

    return account_data.routes(s.users.account_data)


def _tags(s: Services) -> list[Route]:
    from conduwuit.api.client import tags

    return tags.TagHandlers(s.users.tags).routes()


def _openid(s: Services) -> list[Route]:
    from conduwuit.api.client import openid

    return openid.OpenIdHandlers(s.users.openid, s.config.server_name).routes()


def _filter(s: Services) -> list[Route]:
    from conduwuit.api.client import filter

    return filter.routes(s.users.filters)


def _capabilities(s: Services) -> list[Route]:
    from conduwuit.api.client import capabilities

    return capabilities.routes(s.config, s.users.accounts.is_admin)


def _whois(s: Services) -> list[Route]:
    from conduwuit.api.admin import whois

    return whois.WhoisHandlers(s.users.whois).routes()


def _moderation(s: Services) -> list[Route]:
    from conduwuit.api.admin import moderation

    users = s.users
    return moderation.ModerationHandlers(users.moderation, users.accounts.is_admin).routes()


def _appservice_ping(s: Services) -> list[Route]:
    from conduwuit.api.client import appservice_ping

    return appservice_ping.PingHandlers(s.users.appservices, s.appservice_queries).routes()


def _thirdparty(s: Services) -> list[Route]:
    from conduwuit.api.client import thirdparty

    return thirdparty.ThirdPartyHandlers(s.appservice_queries.third_party).routes()


def _room_create(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import create

    return create.routes(s.rooms.actions, s.limits, s.users.shadow_bans)


def _room_send(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import send

    rooms = s.rooms
    return send.routes(
        rooms.actions,
        rooms.membership,
        rooms.history,
        s.limits,
        rooms.delayed_events,
        s.users.shadow_bans,
    )


def _room_membership(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import membership

    return membership.routes(s.rooms.membership, s.rooms.history, s.limits, s.users.shadow_bans)


def _room_read(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import read

    return read.routes(s.rooms.history, s.users.filters, s.federation.unknown_events)


def _room_directory(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import directory

    config = s.config
    return directory.routes(
        s.rooms.directory,
        config.allow_public_room_directory_without_auth,
        s.federation.queries,
        frozenset(config.forbidden_remote_room_directory_server_names),
    )


def _delayed_events(s: Services) -> list[Route]:
    from conduwuit.api.client import delayed_events

    return delayed_events.routes(s.rooms.delayed_events)


def _server_notices(s: Services) -> list[Route]:
    from conduwuit.api.admin import server_notices

    return server_notices.ServerNoticeHandlers(s.rooms.server_notices).routes()


def _relations(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import relations

    return relations.routes(s.rooms.relations)


def _thread_subscriptions(s: Services) -> list[Route]:
    from conduwuit.api.client import thread_subscriptions

    return thread_subscriptions.ThreadSubscriptionHandlers(s.rooms.thread_subscriptions).routes()


def _ephemeral(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import ephemeral

    return ephemeral.routes(
        s.rooms.typing,
        s.rooms.receipts,
        s.users.account_data,
        limits=s.limits,
        shadow_bans=s.users.shadow_bans,
    )


def _upgrade(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import upgrade

    return upgrade.routes(s.rooms.upgrades)


def _reports(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import reports

    return reports.routes(s.rooms.reports)


def _timestamps(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import timestamps

    return timestamps.routes(s.federation.timestamps)


def _mutual_rooms(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import mutual_rooms

    return mutual_rooms.routes(s.rooms.storage.member_index)


def _search(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import search

    return search.routes(s.rooms.search)


def _report_user(s: Services) -> list[Route]:
    from conduwuit.api.client import report_user

    return report_user.ReportUserHandlers(s.rooms.reports).routes()


def _initial_sync(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms.initial_sync import InitialSyncHandlers

    return InitialSyncHandlers(s.rooms.initial_sync).routes()


def _spaces(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import spaces

    return spaces.routes(s.rooms.hierarchy, s.rooms.actions.aliases)


def _user_directory(s: Services) -> list[Route]:
    from conduwuit.api.client.rooms import user_directory

    return user_directory.routes(s.rooms.user_directory)


def _presence(s: Services) -> list[Route]:
    from conduwuit.api.client import presence

    return presence.routes(s.rooms.presence, limits=s.limits)


def _sync(s: Services) -> list[Route]:
    from conduwuit.api.client import sync

    return sync.routes(s.sync, s.users.filters)


def _sliding_sync(s: Services) -> list[Route]:
    from conduwuit.api.client import sliding_sync

    return sliding_sync.routes(s.sliding_sync)


def _sync_position(token: str) -> int:
    # /keys/changes takes /sync's next_batch tokens; the sync service owns them.
    position = parse_since(token)
    if position is None:
        raise invalid_param("Empty sync token")
    return position


def _keys(s: Services) -> list[Route]:
    from conduwuit.api.client import keys

    uiaa = s.users.uiaa

    async def uia(auth: dict[str, Any] | None, user_id: str) -> object:
        # Synapse asks for the password (or SSO) to replace cross-signing keys.
        return await uiaa.authenticate(auth, [[PASSWORD]], user_id=user_id)

    return keys.routes(s.e2ee, requester=requester, uia=uia, position_of=_sync_position)


def _to_device(s: Services) -> list[Route]:
    from conduwuit.api.client import to_device

    return to_device.routes(s.e2ee.to_device, requester=requester)


def _room_keys(s: Services) -> list[Route]:
    from conduwuit.api.client import room_keys

    return room_keys.routes(s.e2ee.key_backups, requester=requester)


def _push_rules(s: Services) -> list[Route]:
    from conduwuit.api.client.push_rules import PushRuleHandlers

    return PushRuleHandlers(s.push.rules).routes()


def _pushers(s: Services) -> list[Route]:
    from conduwuit.api.client.pushers import PusherHandlers

    return PusherHandlers(s.push.pushers).routes()


def _notifications(s: Services) -> list[Route]:
    from conduwuit.api.client.notifications import NotificationHandlers

    storage = s.rooms.storage
    return NotificationHandlers(s.push.notifications, storage.timeline.get, storage.clock).routes()


def _loop_lag(s: Services) -> list[Route]:
    # The probe also runs for the metrics; its admin endpoint is loop_lag_monitor's.
    if s.loop_lag is None or not s.config.loop_lag_monitor:
        return []
    from conduwuit.api.admin import loop_lag

    return loop_lag.routes(s.loop_lag, s.users.accounts.is_admin)


def _metrics(s: Services) -> list[Route]:
    if s.metrics is None:
        return []
    from conduwuit.api.metrics import MetricsHandlers

    config = s.config
    return MetricsHandlers(config.metrics_path, s.metrics.render, config.metrics_token).routes()


def _admin_server_version(s: Services) -> list[Route]:
    from conduwuit.api.admin import server_version

    return server_version.routes()


def _admin_users(s: Services) -> list[Route]:
    from conduwuit.api.admin import users

    return users.UserAdminHandlers(s.admin_api.users, s.users.accounts.is_admin).routes()


def _admin_rooms(s: Services) -> list[Route]:
    from conduwuit.api.admin import rooms

    return rooms.RoomAdminHandlers(
        s.admin_api.rooms, s.admin_api.deletions, s.users.accounts.is_admin
    ).routes()


def _admin_media(s: Services) -> list[Route]:
    from conduwuit.api.admin import media

    return media.MediaAdminHandlers(s.admin_api.media, s.users.accounts.is_admin).routes()


def _admin_background_updates(s: Services) -> list[Route]:
    from conduwuit.api.admin import background_updates

    return background_updates.BackgroundUpdateHandlers(s.users.accounts.is_admin).routes()


def _admin_purge_history(s: Services) -> list[Route]:
    from conduwuit.api.admin import purge_history

    return purge_history.PurgeHistoryHandlers(
        s.admin_api.history, s.users.accounts.is_admin
    ).routes()


def _admin_registration_tokens(s: Services) -> list[Route]:
    from conduwuit.api.admin import registration_tokens

    return registration_tokens.RegistrationTokenHandlers(
        s.users.registration_tokens, s.users.accounts.is_admin
    ).routes()


def _admin_event_reports(s: Services) -> list[Route]:
    from conduwuit.api.admin import event_reports

    return event_reports.EventReportHandlers(
        s.admin_api.event_reports, s.users.accounts.is_admin
    ).routes()


def _voip(s: Services) -> list[Route]:
    from conduwuit.api.client import voip

    return voip.VoipHandlers(s.voip).routes()


def _media_content(s: Services) -> list[Route]:
    from conduwuit.api.media import content

    return content.routes(s.media, allow_legacy=s.config.allow_legacy_media)


def _media_thumbnail(s: Services) -> list[Route]:
    from conduwuit.api.media import thumbnail

    return thumbnail.routes(s.media, s.thumbnailer, allow_legacy=s.config.allow_legacy_media)


def _media_preview(s: Services) -> list[Route]:
    from conduwuit.api.media import preview

    return preview.routes(s.previewer, allow_legacy=s.config.allow_legacy_media)


#: Every group, in the order their routes are installed (the order of the table
#: this replaced; no two routes share a method and path, so order only decides which
#: resource a URL meets first: conduwuit/api/router.py).
GROUPS: tuple[Builder, ...] = (
    _root,
    _versions,
    _wellknown,
    _federation_version,
    _federation_keys,
    _federation_query,
    _federation_rooms,
    _federation_membership,
    _federation_send,
    _federation_directory,
    _federation_media,
    _federation_user_keys,
    _register,
    _login,
    _admin_register,
    _account,
    _devices,
    _profile,
    _account_data,
    _tags,
    _openid,
    _filter,
    _capabilities,
    _whois,
    _moderation,
    _appservice_ping,
    _thirdparty,
    _room_create,
    _room_send,
    _room_membership,
    _room_read,
    _room_directory,
    _delayed_events,
    _server_notices,
    _relations,
    _thread_subscriptions,
    _ephemeral,
    _upgrade,
    _reports,
    _timestamps,
    _mutual_rooms,
    _search,
    _report_user,
    _initial_sync,
    _spaces,
    _user_directory,
    _presence,
    _sync,
    _sliding_sync,
    _keys,
    _to_device,
    _room_keys,
    _push_rules,
    _pushers,
    _notifications,
    _loop_lag,
    _metrics,
    _admin_server_version,
    _admin_users,
    _admin_rooms,
    _admin_media,
    _admin_background_updates,
    _admin_purge_history,
    _admin_registration_tokens,
    _admin_event_reports,
    _voip,
    _media_content,
    _media_thumbnail,
    _media_preview,
)

#: Groups whose routes (methods, paths, auth) depend on the configuration: built at
#: start-up, their modules imported then. Every other group's routes are the same
#: whatever the config (tests/http/test_lazy_routes.py builds them under two).
EAGER: frozenset[Builder] = frozenset(
    {_room_directory, _loop_lag, _metrics, _media_content, _media_thumbnail, _media_preview}
)


def routes(services: Services) -> list[Route]:
    """Every route with its handler: every API module imported."""
    return [route for build in GROUPS for route in build(services)]


def lazy_routes(services: Services) -> list[Route]:
    """Every route; a lazy group's handlers import their module on first use."""
    table: list[Route] = []
    for build in GROUPS:
        shapes = None if build in EAGER else ROUTE_SHAPES.get(build.__name__)
        if shapes is None:
            table += build(services)
        else:
            table += LazyGroup(build, services, shapes).routes()
    return table
