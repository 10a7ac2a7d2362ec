"""The one composition root: ``build(config)`` makes the services and the app.

Every collaborator is passed in here and nowhere else; the production runtime
and the test suite's fixtures build the server through this module alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from conduwuit.admin import AdminBot, AdminRoom
from conduwuit.admin.parser import CommandParser, Group
from conduwuit.admin.room import SERVER_USER_LOCALPART
from conduwuit.api.auth import TokenAuthenticator
from conduwuit.api.federation.auth import ServerAuthenticator
from conduwuit.api.routes import lazy_routes
from conduwuit.config import GlobalConfig, memory, registration_token
from conduwuit.config.memory import Machine
from conduwuit.core.errors import bad_json
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.invite_permission import InviteRule
from conduwuit.core.membership import MEMBERSHIPS
from conduwuit.core.signing import Keypair
from conduwuit.db import Database, DatabaseOptions
from conduwuit.db.maps import MAPS
from conduwuit.http.app import make_app
from conduwuit.service.account_data import AccountData
from conduwuit.service.appservice.client import AppserviceClient
from conduwuit.service.appservice.queries import AppserviceQueries
from conduwuit.service.appservice.registry import Appservices
from conduwuit.service.appservice.sender import (
    AppserviceSender,
    AppserviceSenderSettings,
    KeyCountReader,
)
from conduwuit.service.clock import Clock, system_clock
from conduwuit.service.devices import Devices
from conduwuit.service.e2ee import E2ee
from conduwuit.service.e2ee.ports import JoinedMembership
from conduwuit.service.federation.auth import RequestAuth
from conduwuit.service.federation.backfill import Backfill
from conduwuit.service.federation.client import ClientSettings, FederationClient
from conduwuit.service.federation.directory import FederationDirectory
from conduwuit.service.federation.dns import Dns, DnsOptions, system_hosts, system_nameservers
from conduwuit.service.federation.event_checks import PduSignatures
from conduwuit.service.federation.hierarchy import RemoteHierarchies
from conduwuit.service.federation.inbound import EduSettings, InboundTransactions
from conduwuit.service.federation.invites import RemoteInvites
from conduwuit.service.federation.joins import RemoteJoins
from conduwuit.service.federation.keys import KeySettings, RemoteKeys
from conduwuit.service.federation.media import FederationMedia
from conduwuit.service.federation.partial_device_lists import PartialDeviceListCatchUp
from conduwuit.service.federation.partial_resync import PartialStateResync
from conduwuit.service.federation.queries import FederationQueries
from conduwuit.service.federation.remote_events import RemoteEvents
from conduwuit.service.federation.remote_membership import RemoteMembership
from conduwuit.service.federation.remote_user_keys import RemoteUserKeys
from conduwuit.service.federation.resolver import ServerResolver
from conduwuit.service.federation.room_access import RoomAccess
from conduwuit.service.federation.room_membership import FederationMembership
from conduwuit.service.federation.room_reads import RoomReads
from conduwuit.service.federation.sender import FederationSender, SenderSettings
from conduwuit.service.federation.timestamps import RemoteTimestamps
from conduwuit.service.federation.unknown_events import UnknownEvents
from conduwuit.service.federation.user_keys import UserKeys
from conduwuit.service.federation.well_known import WellKnownClient, federation_ssl_context
from conduwuit.service.filters import Filters
from conduwuit.service.ip_denylist import IpDenylist
from conduwuit.service.loop_lag import LoopLag
from conduwuit.service.media.admin import MediaAdmin
from conduwuit.service.media.preview import Previewer, RepositoryStore, previewer_from_config
from conduwuit.service.media.repository import MediaConfig, MediaRepository
from conduwuit.service.media.store import MediaStore
from conduwuit.service.media.thumbnail import Thumbnailer, thumbnailer_from_config
from conduwuit.service.notifier import Notifier
from conduwuit.service.presence import Presence
from conduwuit.service.push import Notifications, PushEvaluator, PushRules
from conduwuit.service.push.gateway import GatewayClient
from conduwuit.service.push.pusher_store import PusherStore
from conduwuit.service.push.pushers import NotificationEvents, Pushers
from conduwuit.service.push.rules import PUSH_RULES
from conduwuit.service.ratelimit import RateLimiter, RateLimits
from conduwuit.service.rooms.account_hooks import AccountHooks
from conduwuit.service.rooms.actions import RoomActions, RoomsConfig
from conduwuit.service.rooms.admin import RoomAdmin
from conduwuit.service.rooms.admin_delete import RoomDeletions
from conduwuit.service.rooms.admin_reports import EventReportAdmin
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.delayed_events import DelayedEvents
from conduwuit.service.rooms.directory import Directory
from conduwuit.service.rooms.hierarchy import Hierarchy
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.initial_sync import RoomInitialSync
from conduwuit.service.rooms.join_policy import JoinPolicy
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.metadata import RoomMetadata
from conduwuit.service.rooms.purge import RoomPurger
from conduwuit.service.rooms.purge_history import HistoryPurges
from conduwuit.service.rooms.receipts import Receipts
from conduwuit.service.rooms.relations import Relations
from conduwuit.service.rooms.reports import Reports
from conduwuit.service.rooms.search import Search
from conduwuit.service.rooms.search_index import SearchIndex
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.rooms.thread_subscriptions import ThreadSubscriptions
from conduwuit.service.rooms.typing import Typing
from conduwuit.service.rooms.upgrade import RoomUpgrades
from conduwuit.service.server_keys import ServerKeys
from conduwuit.service.server_notices import NoticesSettings, ServerNotices
from conduwuit.service.services import (
    AdminApiServices,
    FederationServices,
    PushServices,
    RoomServices,
    Services,
    ServingServices,
    UserServices,
)
from conduwuit.service.sliding_sync.connections import Connections
from conduwuit.service.sliding_sync.extensions import SlidingExtensions
from conduwuit.service.sliding_sync.lists import RoomFacts
from conduwuit.service.sliding_sync.room_data import SlidingRooms
from conduwuit.service.sliding_sync.service import SlidingSyncService
from conduwuit.service.sliding_sync.stored import ConnectionStore
from conduwuit.service.sync.rooms import RoomSections
from conduwuit.service.sync.service import SyncService
from conduwuit.service.tags import Tags
from conduwuit.service.tls import LazyTLS, system_tls
from conduwuit.service.uiaa import Uiaa
from conduwuit.service.user_directory import UserDirectory
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.admin import UserAdmin
from conduwuit.service.users.erasure import Erasures
from conduwuit.service.users.login import PasswordAuth
from conduwuit.service.users.moderation import AccountModeration
from conduwuit.service.users.openid import OpenId
from conduwuit.service.users.passwords import PasswordHasher
from conduwuit.service.users.profiles import Profiles
from conduwuit.service.users.registration import Registration
from conduwuit.service.users.registration_tokens import RegistrationTokens
from conduwuit.service.users.shadow_bans import ShadowBans
from conduwuit.service.users.shared_secret import SharedSecret
from conduwuit.service.users.suspension import SuspensionGuard
from conduwuit.service.users.whois import Whois
from conduwuit.service.voip import TurnConfig, Voip

if TYPE_CHECKING:
    from conduwuit.service.metrics.registry import Metrics


@dataclass(eq=False, repr=False)  # never compared or printed, as Services
class Server:
    """One server: its services and the aiohttp app that serves them."""

    services: Services
    app: web.Application
    #: The admin bot (its room is ``admin.room``); the runtime stops its tasks.
    admin: AdminBot

    @property
    def config(self) -> GlobalConfig:
        return self.services.config

    def close(self) -> None:
        self.services.close()


def build(config: GlobalConfig, clock: Clock = system_clock) -> Server:
    """Open the database and build every service, then the app over them."""
    services = build_services(config, clock)
    try:
        authenticator = TokenAuthenticator(
            services.users.devices,
            services.users.accounts,
            clock,
            ServerAuthenticator(services.federation.auth),
            services.users.appservices,
        )
        stats = services.metrics.requests if services.metrics is not None else None
        app = make_app(config, lazy_routes(services), authenticator, stats)
        admin = build_admin(services, clock)
    except BaseException:
        services.close()
        raise
    return Server(services, app, admin)


def build_admin(services: Services, clock: Clock = system_clock) -> AdminBot:
    """The admin room (made when the first user registers; its "never public" rule a
    guard on every send) and the bot that runs commands sent in it."""
    config, users, rooms = services.config, services.users, services.rooms
    room = AdminRoom(
        services.db,
        config.server_name,
        users.accounts,
        users.profiles,
        rooms.actions,
        rooms.membership,
    )
    rooms.actions.guards.append(room.guard)
    users.registration.registered_listeners.append(room.on_registered)
    users.registration.reserved.add(room.server_user.localpart)
    started = time.monotonic()

    def command_groups() -> list[Group]:
        """The commands, imported and built for the first command line (or help): the
        nine command modules were ~5 ms of the server's start-up (issue 21)."""
        from conduwuit.admin.commands.aliases import AliasCommands
        from conduwuit.admin.commands.appservices import AppserviceCommands
        from conduwuit.admin.commands.debug import DebugCommands
        from conduwuit.admin.commands.federation import FederationCommands
        from conduwuit.admin.commands.media import MediaCommands
        from conduwuit.admin.commands.moderation import ModerationCommands
        from conduwuit.admin.commands.rooms import RoomCommands
        from conduwuit.admin.commands.server import ServerCommands
        from conduwuit.admin.commands.users import UserCommands

        aliases = rooms.actions.aliases
        room_commands = RoomCommands(rooms.storage, aliases)
        room_aliases = AliasCommands(
            config.server_name, str(room.server_user), rooms.storage, aliases
        )
        return [
            UserCommands(
                config.server_name,
                users.accounts,
                users.registration,
                users.devices,
                rooms.storage.member_index,
                room,
                users.moderation,
            ).group(),
            room_commands.group(
                (
                    room_aliases.alias_group(),
                    room_aliases.directory_group(),
                    ModerationCommands(
                        config.server_name,
                        services.admin_api.rooms,
                        aliases,
                        rooms.metadata,
                        room.room_id,
                        services.federation.queries.alias,
                    ).group(),
                )
            ),
            ServerCommands(config, services.db, started).group(),
            MediaCommands(
                config.server_name, services.media, clock, rooms.storage.timeline.get
            ).group(),
            AppserviceCommands(users.appservices).group(),
            FederationCommands(
                config.server_name,
                rooms.storage,
                aliases,
                rooms.metadata,
                services.federation.resolver.well_known,
                services.serving.inbound,
            ).group(),
            DebugCommands(
                services.federation.client,
                services.federation.resolver,
                rooms.storage.timeline,
                room_commands.state,
                config.log,
            ).group(),
        ]

    parser = CommandParser(command_groups)
    bot = AdminBot(
        room,
        rooms.actions,
        parser,
        is_guest=users.accounts.is_guest,
        notices=config.admin_room_notices,
        guest_notices=config.log_guest_registrations,
    )
    users.registration.registered_listeners.append(bot.on_registered)
    rooms.storage.pipeline.persister.listeners.append(bot.stage_event)
    rooms.reports.listeners.append(bot.post)
    services.admin_api.users.admin_listeners.append(room.on_admin_changed)
    services.admin_api.rooms.shutdown_guards.append(room.refuse_shutdown)
    return bot


def build_services(config: GlobalConfig, clock: Clock = system_clock) -> Services:
    db = Database.open(database_options(config))
    try:
        return services_over(config, db, clock)
    except BaseException:
        db.close()
        raise


def services_over(config: GlobalConfig, db: Database, clock: Clock = system_clock) -> Services:
    """Every service over an open database (the caller owns ``db``)."""
    server_keys = ServerKeys(config.server_name, db.map(MAPS.global_))
    notifier = Notifier()
    users = build_users(config, db, clock, notifier)
    rooms = build_rooms(config, db, lambda: server_keys.keypair, notifier, clock, users)
    e2ee = build_e2ee(config, db, users, rooms, notifier)
    # One context of the system's CAs for push gateways, previews and appservices,
    # built on the first HTTPS request of any of them (issue 21).
    tls = system_tls()
    push = build_push(config, db, clock, users, rooms, tls)
    media, thumbnailer, previewer = build_media(config, db, clock, tls)
    federation = build_federation(config, db, server_keys, clock, rooms, users, e2ee)
    media.remote = FederationMedia(federation.client)
    appservice_sender, appservice_queries = build_appservices(
        config, db, clock, users, rooms, e2ee, tls
    )
    sections = RoomSections(
        rooms.history, rooms.typing, rooms.receipts, users.account_data, push.notifications
    )
    sync = SyncService(
        db,
        rooms.storage.member_index,
        sections,
        users.account_data,
        rooms.presence,
        notifier,
        extras=[e2ee.sync],
        initial_account_data=lambda user_id: {PUSH_RULES: push.rules.content(user_id)},
        is_partial=rooms.storage.partial.is_partial,
    )
    sliding_sync = SlidingSyncService(
        db,
        RoomFacts(rooms.storage, users.account_data, notifier),
        SlidingRooms(sections),
        SlidingExtensions(
            e2ee.sync,
            users.account_data,
            rooms.receipts,
            rooms.typing,
            sync.global_account_data,
            rooms.thread_subscriptions,
        ),
        notifier,
        Connections(store=ConnectionStore(db)),
    )
    serving = build_serving(config, db, server_keys, notifier, users, rooms, e2ee, federation)
    lag = loop_lag(config)
    return Services(
        config=config,
        db=db,
        server_keys=server_keys,
        users=users,
        rooms=rooms,
        notifier=notifier,
        sync=sync,
        sliding_sync=sliding_sync,
        e2ee=e2ee,
        voip=Voip(turn_config(config), config.server_name, clock),
        push=push,
        limits=build_limits(config, clock, users.accounts, users.appservices),
        media=media,
        thumbnailer=thumbnailer,
        previewer=previewer,
        federation=federation,
        serving=serving,
        appservice_sender=appservice_sender,
        appservice_queries=appservice_queries,
        admin_api=build_admin_api(config, db, users, rooms, media, push, clock),
        loop_lag=lag,
        metrics=build_metrics(
            config, db, notifier, federation, serving, lag, rooms, push, sliding_sync
        ),
    )


def build_metrics(
    config: GlobalConfig,
    db: Database,
    notifier: Notifier,
    federation: FederationServices,
    serving: ServingServices,
    lag: LoopLag | None,
    rooms: RoomServices,
    push: PushServices,
    sliding_sync: SlidingSyncService,
) -> Metrics | None:
    """With ``allow_metrics``: the metrics over the live state they read when scraped."""
    if not config.allow_metrics:
        return None
    # Here, not at the top: prometheus_client is loaded only when the metrics are on.
    from conduwuit.service.metrics.registry import Metrics, MetricSources

    storage, resolver = rooms.storage, federation.resolver
    caches: dict[str, Callable[[], int]] = {
        "dns": lambda: resolver.dns.cached_entries,
        "destinations": lambda: resolver.cached_entries,
        "state_snapshots": lambda: storage.state.store.cached_entries,
        "state_keys": lambda: storage.short.cached_entries,
        "room_servers": lambda: federation.sender.cached_rooms,
        "push_rules": lambda: push.rules.cached_entries,
        "sliding_sync_connections": lambda: len(sliding_sync.connections),
    }
    return Metrics(MetricSources(db, notifier, federation.sender, serving.inbound, lag, caches))


def build_admin_api(
    config: GlobalConfig,
    db: Database,
    users: UserServices,
    rooms: RoomServices,
    media: MediaRepository,
    push: PushServices,
    clock: Clock,
) -> AdminApiServices:
    """The admin API's services; room deletion and history purges with a purger over
    the rooms' storage (the runtime starts them: purges cut short resume); a history
    purge marks the purged span's notifications read."""
    room_admin = RoomAdmin(
        config.server_name,
        rooms.storage,
        rooms.actions.aliases,
        rooms.metadata,
        rooms.membership,
        lambda user_id: len(users.devices.list_devices(user_id)),
    )
    purger = RoomPurger(db, rooms.storage)
    history = HistoryPurges(db, rooms.storage, purger, config.server_name, clock)
    history.listeners.append(push.notifications.stage_purged_history)
    return AdminApiServices(
        users=UserAdmin(
            db,
            config.server_name,
            users.accounts,
            users.profiles,
            users.devices,
            users.erasures,
            users.registration,
            rooms.storage.member_index,
            users.shadow_bans,
            push.pushers.of_user,
        ),
        rooms=room_admin,
        deletions=RoomDeletions(room_admin, rooms.metadata, purger, clock),
        history=history,
        event_reports=EventReportAdmin(rooms.reports, rooms.storage.state, rooms.storage.timeline),
        media=MediaAdmin(media, users.accounts, users.profiles, rooms.storage),
    )


def build_appservices(
    config: GlobalConfig,
    db: Database,
    clock: Clock,
    users: UserServices,
    rooms: RoomServices,
    e2ee: E2ee,
    tls: LazyTLS | None = None,
) -> tuple[AppserviceSender, AppserviceQueries]:
    """The appservice sender, queueing events, and the typing, receipts, presence and
    to-device messages of services with ``receive_ephemeral`` and the device-list
    changes of those with MSC3202 (each in its own batch),
    for the services interested in them (the runtime starts and stops it, and closes
    the client), and the queries (unknown local aliases are asked of the services)
    over one client."""
    client = AppserviceClient(
        timeout_s=config.appservice_timeout,
        idle_timeout_s=config.appservice_idle_timeout,
        tls=tls or system_tls(),
    )
    sender = AppserviceSender(
        db,
        users.appservices,
        rooms.storage.timeline,
        rooms.storage.member_index,
        rooms.actions.aliases,
        rooms.typing,
        client,
        clock,
        AppserviceSenderSettings(retry_max_s=config.sender_retry_backoff_limit),
        KeyCountReader(users.devices.device_ids, e2ee.device_keys),
    )
    e2ee.device_lists.change_listeners.append(sender.stage_device_list_change)
    rooms.storage.pipeline.persister.listeners.append(sender.stage_event)
    rooms.typing.listeners.append(sender.typing_changed)
    rooms.receipts.public_listeners.append(sender.stage_public_receipt)
    rooms.receipts.private_listeners.append(sender.stage_private_receipt)
    rooms.presence.listeners.append(sender.stage_presence)
    e2ee.to_device.local_listeners.append(sender.stage_to_device)
    queries = AppserviceQueries(users.appservices, client)
    rooms.actions.aliases.ask_appservices = queries.alias_exists
    return sender, queries


def build_media(
    config: GlobalConfig, db: Database, clock: Clock, tls: LazyTLS | None = None
) -> tuple[MediaRepository, Thumbnailer, Previewer]:
    """The media repository over ``<database_path>/media``, its thumbnailer (caching
    under ``media/thumbnails``, forgetting a blob's thumbnails when the repository
    deletes the blob) and the URL previewer (storing the images it fetches through
    the repository, writing them first under ``media/tmp``, which start-up empties).

    The repository's start (crashed uploads reclaimed, the legacy freeze point,
    media_startup_check) runs here, before any request. Remote media comes once
    federation is built (build_federation sets the repository's ``remote``)."""
    root = config.database_path / "media"
    thumbnailer = thumbnailer_from_config(config, root / "thumbnails")
    media = MediaRepository(
        db,
        MediaStore(root),
        MediaConfig(
            server_name=config.server_name,
            max_upload_size=config.max_request_size,
            freeze_legacy=config.freeze_legacy_media,
            max_pending_uploads=config.max_pending_media_uploads,
            pending_expiry_ms=config.media_create_unused_expiration_time * 1000,
            prevent_downloads_from=frozenset(config.prevent_media_downloads_from),
            startup_check=config.media_startup_check,
            prune_missing=config.prune_missing_media,
        ),
        clock,
        on_blob_deleted=thumbnailer.forget,
    )
    media.start()
    previewer = previewer_from_config(
        config,
        store=RepositoryStore(media),
        denylist=IpDenylist(config.ip_range_denylist),
        work_dir=media.store.tmp,
        clock=clock,
        tls=tls or system_tls(),
    )
    return media, thumbnailer, previewer


def build_federation(
    config: GlobalConfig,
    db: Database,
    server_keys: ServerKeys,
    clock: Clock,
    rooms: RoomServices,
    users: UserServices,
    e2ee: E2ee,
) -> FederationServices:
    """Server discovery, the outbound client over it (its connections resolve through
    the same DNS cache, checked against ip_range_denylist), remote keys over the
    client, the inbound X-Matrix check over those keys, and the sender, which queues
    local events (in their own batch), typing and public receipts for the rooms'
    other servers (the runtime starts and stops it)."""
    tls = federation_tls(config)
    resolver = build_resolver(config, clock, tls)
    forbidden = frozenset(config.forbidden_remote_server_names)
    client = FederationClient(
        config.server_name,
        lambda: server_keys.keypair,
        resolver,
        IpDenylist(config.ip_range_denylist, lookup=resolver.dns.lookup),
        ClientSettings(
            allow_federation=config.allow_federation,
            forbidden_server_names=forbidden,
            conn_timeout_s=config.request_conn_timeout,
            timeout_s=config.federation_timeout,
            idle_timeout_s=config.federation_idle_timeout,
            ca_file=config.federation_ca_file,
            backoff_max_s=config.sender_retry_backoff_limit,
        ),
        clock,
        tls,
    )
    keys = RemoteKeys(
        server_keys,
        db.map(MAPS.server_signingkeys),
        client,
        KeySettings(
            trusted_servers=tuple(config.trusted_servers),
            query_trusted_first=config.query_trusted_key_servers_first,
            query_trusted_first_on_join=config.query_trusted_key_servers_first_on_join,
            only_trusted=config.only_query_trusted_key_servers,
        ),
        clock,
    )
    auth = RequestAuth(
        config.server_name,
        keys,
        clock,
        allow_federation=config.allow_federation,
        forbidden_servers=forbidden,
    )
    sender = FederationSender(
        db,
        config.server_name,
        client,
        rooms.storage.state,
        rooms.storage.member_index,
        SenderSettings(
            startup_netburst=config.startup_netburst,
            startup_netburst_keep=config.startup_netburst_keep,
            allow_outgoing_typing=config.allow_outgoing_typing,
            allow_outgoing_read_receipts=config.allow_outgoing_read_receipts,
            allow_outgoing_presence=config.allow_outgoing_presence,
        ),
        clock,
        partial=rooms.storage.partial,
    )
    auth.origin_listeners.append(sender.origin_alive)
    rooms.storage.pipeline.persister.listeners.append(sender.stage_event)
    rooms.typing.listeners.append(sender.typing_changed)
    rooms.receipts.public_listeners.append(sender.stage_receipt)
    rooms.presence.listeners.append(sender.stage_presence)
    e2ee.to_device.remote = sender.stage_to_device
    user_keys = UserKeys(
        db,
        config.server_name,
        e2ee,
        users.devices,
        sender,
        allow_device_names=config.allow_device_name_federation,
    )
    e2ee.device_lists.set_remote(user_keys)
    e2ee.device_lists.partial_servers = sender.partial_servers_of
    user_keys.catch_up = PartialDeviceListCatchUp(rooms.storage, sender, config.server_name)
    rooms.storage.partial.cleared_listeners.append(user_keys.catch_up.room_completed)
    remote_keys = RemoteUserKeys(
        db, config.server_name, client, e2ee.device_lists, e2ee.cross_signing, e2ee.wake
    )
    e2ee.remote = remote_keys
    remote_keys.partial_rooms_exist = rooms.storage.partial.any
    e2ee.device_lists.resync_finding = rooms.storage.partial.completing
    rooms.storage.partial.cleared_listeners.append(remote_keys.partial_room_completed)
    e2ee.cross_signing.remote_master = remote_keys.master_key
    rooms.storage.member_index.join_listeners.append(remote_keys.membership_changed)
    queries = FederationQueries(client)
    pdu_signatures = PduSignatures(keys)
    joins = RemoteJoins(
        config.server_name,
        lambda: server_keys.keypair,
        client,
        queries,
        pdu_signatures,
        rooms.storage.pipeline,
        clock,
        allow_unstable_room_versions=config.allow_unstable_room_versions,
        partial_state=config.federation_partial_state_joins,
    )
    rooms.membership.remote = joins
    remote_events = RemoteEvents(rooms.storage, client, pdu_signatures)
    partial_resync = PartialStateResync(rooms.storage, remote_events, config.server_name)
    joins.on_partial_join = partial_resync.resync_soon
    backfill = Backfill(remote_events, client, config.server_name)
    rooms.history.backfill = backfill.fill
    rooms.membership.remote_changes = RemoteMembership(
        joins.templates, rooms.storage.pipeline.persister, rooms.storage.timeline
    )
    rooms.actions.remote_invite = RemoteInvites(client, keys, rooms.storage.state).countersign
    rooms.hierarchy.remote = RemoteHierarchies(config.server_name, client, clock)
    return FederationServices(
        resolver=resolver,
        client=client,
        sender=sender,
        keys=keys,
        auth=auth,
        queries=queries,
        pdu_signatures=pdu_signatures,
        joins=joins,
        remote_events=remote_events,
        partial_resync=partial_resync,
        user_keys=user_keys,
        remote_keys=remote_keys,
        timestamps=RemoteTimestamps(
            config.server_name,
            rooms.history,
            client,
            remote_events,
            sender.servers_of_room,
            backfill.place,
        ),
        unknown_events=UnknownEvents(
            config.server_name,
            rooms.history,
            remote_events,
            backfill.place,
            sender.servers_in_room,
        ),
    )


def build_serving(
    config: GlobalConfig,
    db: Database,
    server_keys: ServerKeys,
    notifier: Notifier,
    users: UserServices,
    rooms: RoomServices,
    e2ee: E2ee,
    federation: FederationServices,
) -> ServingServices:
    """Resident rooms served to other servers, through one access check; their
    users joining, leaving and knocking, and their invites of ours."""
    access = RoomAccess(rooms.storage, users.erasures.is_erased, rooms.metadata)
    membership = FederationMembership(
        db,
        access,
        rooms.membership,
        federation.pdu_signatures,
        lambda: server_keys.keypair,
        config.server_name,
        users.accounts.is_active,
        notifier,
        federation.sender.hand_on,
    )
    inbound = InboundTransactions(
        db,
        access,
        federation.pdu_signatures,
        federation.client,
        rooms.typing,
        rooms.receipts,
        rooms.presence,
        e2ee.to_device,
        federation.remote_keys,
        EduSettings(
            typing=config.allow_incoming_typing,
            receipts=config.allow_incoming_read_receipts,
            presence=config.allow_incoming_presence,
            typing_timeout_ms=config.typing_federation_timeout_s * 1000,
        ),
        federation.remote_events,
    )
    federation.joins.receive_resident = inbound.receive_pdu
    return ServingServices(
        access=access,
        reads=RoomReads(access, config.server_name),
        membership=membership,
        inbound=inbound,
        directory=FederationDirectory(
            access,
            rooms.hierarchy,
            public_rooms=config.allow_public_room_directory_over_federation,
        ),
    )


def federation_tls(config: GlobalConfig) -> LazyTLS:
    """One TLS context for outbound federation, the well-known fetches' and the
    client's: the system's CAs and ``federation_ca_file``. Built on first use (an
    idle server holds no CA store: 0.8 MiB each, issue 21), but at start-up when
    ``federation_ca_file`` is set, so that a bad file stops the start, as it did."""
    ca_file = config.federation_ca_file
    if ca_file is not None:
        return LazyTLS.ready(federation_ssl_context(ca_file))
    return LazyTLS(lambda: federation_ssl_context(None))


def build_resolver(
    config: GlobalConfig, clock: Clock, tls: LazyTLS | None = None
) -> ServerResolver:
    """Server discovery over the system's nameservers (``/etc/resolv.conf``; names in
    ``/etc/hosts`` first) with the DNS options; well-known fetches on port 443 trusting
    the system's CAs and ``federation_ca_file``, through ``ip_range_denylist`` over the
    same DNS. The outbound client connects through ``IpDenylist(...,
    lookup=resolver.dns.lookup)`` too, so discovery and connections share one cache."""
    dns = Dns(
        system_nameservers,  # read on the first query, with dnspython
        DnsOptions(
            timeout_s=config.dns_timeout,
            attempts=config.dns_attempts,
            tcp_fallback=config.dns_tcp_fallback,
            tcp_only=config.query_over_tcp_only,
            query_all_nameservers=config.query_all_nameservers,
            min_ttl_s=config.dns_min_ttl,
            min_ttl_nxdomain_s=config.dns_min_ttl_nxdomain,
            cache_entries=config.dns_cache_entries,
            ip_lookup_strategy=config.ip_lookup_strategy,
        ),
        clock,
        system_hosts(),
    )
    well_known = WellKnownClient(
        IpDenylist(config.ip_range_denylist, lookup=dns.lookup),
        tls or federation_tls(config),
        clock,
        conn_timeout_s=config.well_known_conn_timeout,
        timeout_s=config.well_known_timeout,
    )
    return ServerResolver(dns, well_known, clock, cache_entries=config.dns_cache_entries)


def turn_config(config: GlobalConfig) -> TurnConfig:
    return TurnConfig(
        uris=tuple(config.turn_uris),
        secret=config.turn_secret,
        username=config.turn_username,
        password=config.turn_password,
        ttl_s=config.turn_ttl,
        allow_guests=config.turn_allow_guests,
    )


#: The lag probe's period when only the metrics want it: 20 wake-ups a second cost
#: next to nothing, and a stall still delays the next wake-up by its length.
METRICS_LAG_INTERVAL_S = 0.05


def loop_lag(config: GlobalConfig) -> LoopLag | None:
    if config.loop_lag_monitor:
        trace_ms = config.loop_lag_trace_ms
        return LoopLag(trace_over_s=trace_ms / 1000 if trace_ms else None)
    if config.allow_metrics:
        return LoopLag(interval_s=METRICS_LAG_INTERVAL_S)
    return None


def database_options(config: GlobalConfig, host: Machine | None = None) -> DatabaseOptions:
    """The database's options: what the config sets, the rest derived from ``host``
    (this machine unless given; see conduwuit/config/memory.py)."""
    derived = memory.derive(host or memory.machine())
    cache_mb = config.db_cache_capacity_mb
    if cache_mb is None:
        cache_mb = derived.db_cache_capacity_mb
    write_mb = config.db_write_buffer_capacity_mb or derived.db_write_buffer_capacity_mb
    return DatabaseOptions(
        path=config.database_path,
        compression=config.rocksdb_compression_algo,
        compression_level=config.rocksdb_compression_level,
        bottommost_compression=config.rocksdb_bottommost_compression,
        bottommost_compression_level=config.rocksdb_bottommost_compression_level,
        cache_capacity_mb=cache_mb * config.cache_capacity_modifier,
        write_buffer_capacity_mb=write_mb,
        map_write_buffer_mb=memory.map_write_buffer(write_mb),
        direct_io=config.rocksdb_direct_io,
        optimize_for_spinning_disks=config.rocksdb_optimize_for_spinning_disks,
        recovery_mode=config.rocksdb_recovery_mode,
        parallelism=config.rocksdb_parallelism_threads,
        log_level=config.rocksdb_log_level,
        max_log_file_size=config.rocksdb_max_log_file_size,
        log_time_to_roll=config.rocksdb_log_time_to_roll,
        max_log_files=config.rocksdb_max_log_files,
        backup_path=config.database_backup_path,
        backups_to_keep=config.database_backups_to_keep,
    )


def build_users(
    config: GlobalConfig, db: Database, clock: Clock, notifier: Notifier
) -> UserServices:
    accounts = Accounts(db, clock)
    profiles = Profiles(db)
    devices = Devices(
        db,
        clock,
        refreshable_token_lifetime_ms=config.refreshable_access_token_lifetime,
        refresh_token_lifetime_ms=config.refresh_token_lifetime,
        login_token_ttl_ms=config.login_token_ttl,
    )
    hasher = PasswordHasher(
        time_cost=config.argon2_time_cost,
        memory_cost=config.argon2_memory_cost,
        parallelism=config.argon2_parallelism,
    )
    password_auth = PasswordAuth(config.server_name, accounts, hasher)
    account_data = AccountData(db, notifier)
    devices.deletion_listeners.append(account_data.stage_device_deleted)
    erasures = Erasures(db, clock)
    registration_tokens = RegistrationTokens(db, clock)
    registration = Registration(
        db,
        config.server_name,
        accounts,
        profiles,
        devices,
        hasher,
        erasures,
        account_data,
        forbidden_usernames=config.forbidden_usernames,
        displayname_suffix=config.new_user_displayname_suffix,
        auto_join_rooms=config.auto_join_rooms,
    )
    uiaa = Uiaa(
        clock,
        session_timeout_ms=config.uiaa_session_timeout,
        check_password=password_auth.check,
        resolve_user=password_auth.resolve,
        registration_token=lambda: registration_token(config),
        reserve_token=registration_tokens.reserve,
        failures=RateLimiter(
            clock,
            per_second=config.rate_limit_uiaa_per_second,
            burst=config.rate_limit_uiaa_burst,
        ),
    )
    return UserServices(
        accounts=accounts,
        profiles=profiles,
        devices=devices,
        hasher=hasher,
        password_auth=password_auth,
        registration=registration,
        registration_tokens=registration_tokens,
        erasures=erasures,
        shadow_bans=ShadowBans(db, clock),
        suspensions=SuspensionGuard(accounts),
        moderation=AccountModeration(config.server_name, accounts),
        shared_secret=SharedSecret(config.registration_shared_secret, clock),
        uiaa=uiaa,
        account_data=account_data,
        tags=Tags(account_data),
        openid=OpenId(db, clock),
        whois=Whois(accounts, devices, config.server_name),
        filters=Filters(db),
        appservices=Appservices(db, config.server_name, accounts, registration),
        login_limiter=RateLimiter(
            clock,
            per_second=config.rate_limit_login_per_second,
            burst=config.rate_limit_login_burst,
        ),
        registration_limiter=RateLimiter(
            clock,
            per_second=config.rate_limit_registration_per_second,
            burst=config.rate_limit_registration_burst,
        ),
    )


def build_push(
    config: GlobalConfig,
    db: Database,
    clock: Clock,
    users: UserServices,
    rooms: RoomServices,
    tls: LazyTLS | None = None,
) -> PushServices:
    """Push rules, their evaluation, the notifications it produces (staged in the
    batch of every accepted event and of every read receipt, atomic with them), and
    pushers that deliver them to push gateways. A device's pushers are deleted in the
    device deletion's batch, all of a user's on deactivation."""
    storage = rooms.storage
    rules = PushRules(users.account_data, config.thread_subscription_push_rules)
    state = storage.state

    def carry_rules_over(user_id: str, room_id: str, joined: bool) -> None:
        """A local user joining an upgraded room keeps their rules about its predecessor
        (Synapse copies them at the join, upgrades by other servers included)."""
        if not joined or not user_id.endswith(f":{config.server_name}"):
            return
        create = state.content_at(state.current_hash(room_id), EventType.CREATE) or {}
        predecessor = create.get("predecessor")
        old_room = predecessor.get("room_id") if isinstance(predecessor, dict) else None
        if isinstance(old_room, str):
            rules.copy_room_rules(user_id, old_room, room_id)

    storage.member_index.join_listeners.append(carry_rules_over)
    subscriptions = rooms.thread_subscriptions if config.thread_subscription_push_rules else None
    evaluator = PushEvaluator(
        config.server_name, storage.member_index, storage.state, rules, subscriptions
    )
    notifications = Notifications(
        db,
        evaluator,
        storage.timeline,
        storage.member_index,
        clock,
        users.account_data.ignored_users,
        rooms.actions.invite_rule,
    )
    storage.pipeline.persister.listeners.append(notifications.stage_event)
    rooms.receipts.listeners.append(notifications.stage_receipt)
    denylist = IpDenylist(config.ip_range_denylist)
    pushers = Pushers(
        db,
        PusherStore(db),
        NotificationEvents(storage.timeline, storage.state),
        denylist,
        GatewayClient(
            denylist,
            timeout_s=config.request_timeout,
            idle_timeout_s=config.pusher_idle_timeout,
            tls=tls or system_tls(),
        ),
        clock,
    )
    notifications.listeners.append(pushers.on_notification)
    notifications.badge_listeners.append(pushers.on_badge)
    users.devices.deletion_listeners.append(pushers.stage_device_deleted)
    users.registration.deactivated_listeners.append(pushers.user_deactivated)
    return PushServices(
        rules=rules, evaluator=evaluator, notifications=notifications, pushers=pushers
    )


def build_limits(
    config: GlobalConfig, clock: Clock, accounts: Accounts, appservices: Appservices
) -> RateLimits:
    def limiter(per_second: float, burst: int) -> RateLimiter:
        return RateLimiter(clock, per_second=per_second, burst=burst)

    c = config
    return RateLimits(
        messages=limiter(c.rate_limit_message_per_second, c.rate_limit_message_burst),
        room_creation=limiter(
            c.rate_limit_room_creation_per_second, c.rate_limit_room_creation_burst
        ),
        joins=limiter(c.rate_limit_joins_per_second, c.rate_limit_joins_burst),
        invites=limiter(c.rate_limit_invites_per_second, c.rate_limit_invites_burst),
        invites_received=limiter(
            c.rate_limit_invites_received_per_second, c.rate_limit_invites_received_burst
        ),
        typing=limiter(c.rate_limit_typing_per_second, c.rate_limit_typing_burst),
        presence=limiter(c.rate_limit_presence_per_second, c.rate_limit_presence_burst),
        refresh=limiter(c.rate_limit_refresh_per_second, c.rate_limit_refresh_burst),
        exempt=lambda user_id: accounts.is_admin(user_id) or appservices.not_rate_limited(user_id),
    )


def rooms_config(config: GlobalConfig) -> RoomsConfig:
    return RoomsConfig(
        server_name=config.server_name,
        default_room_version=config.default_room_version,
        allow_unstable_room_versions=config.allow_unstable_room_versions,
        allow_room_creation=config.allow_room_creation,
        forbidden_alias_names=config.forbidden_alias_names,
    )


def build_rooms(
    config: GlobalConfig,
    db: Database,
    keypair: Callable[[], Keypair],
    notifier: Notifier,
    clock: Clock,
    users: UserServices,
) -> RoomServices:
    accounts, profiles = users.accounts, users.profiles
    storage = RoomStorage(db, config.server_name, keypair, notifier, clock)
    aliases = Aliases(db, config.server_name, config.forbidden_alias_names)
    aliases.exclusive_claimant = users.appservices.exclusive_alias_claimant

    is_admin, is_guest = accounts.is_admin, accounts.is_guest

    def is_local_user(user_id: str) -> bool:
        return user_id.endswith(f":{config.server_name}") and accounts.is_active(user_id)

    def may_publish(user_id: str) -> bool:
        return not config.lockdown_public_room_directory or is_admin(user_id)

    def profile(user_id: str) -> dict[str, object]:
        found = profiles.get(user_id)
        return {k: found[k] for k in ("displayname", "avatar_url") if k in found}

    notices_settings = server_notices_settings(config)
    # The server's own users: the admin room's and the server notices' (if on).
    server_users = {f"@{SERVER_USER_LOCALPART}:{config.server_name}"}
    if notices_settings is not None:
        server_users.add(f"@{notices_settings.localpart}:{config.server_name}")

    def invite_rule(invitee: str, inviter: str) -> InviteRule:
        # The server's own users' invites (admin room, notices) are never refused.
        if inviter in server_users:
            return InviteRule.ALLOW
        return users.account_data.invite_permission(invitee).rule_for(inviter)

    def may_invite(user_id: str) -> bool:
        return not config.block_non_admin_invites or is_admin(user_id) or user_id in server_users

    actions = RoomActions(
        storage,
        aliases,
        rooms_config(config),
        profile,
        may_publish,
        is_guest,
        invite_rule,
        is_admin,
        may_invite,
    )
    metadata = RoomMetadata(db)
    policy = JoinPolicy(
        metadata,
        is_admin,
        frozenset(config.forbidden_remote_server_names),
        tuple(config.forbidden_alias_names),
        config.auto_deactivate_banned_room_attempts,
        users.registration.deactivate,
        accounts.is_suspended,
    )
    storage.pipeline.local_checks.append(users.suspensions.check_event)
    membership = Membership(actions, policy)
    history = RoomHistory(actions, users.erasures.is_erased, users.account_data.ignored_users)
    hooks = AccountHooks(membership, users.shadow_bans.is_banned)
    thread_subscriptions = ThreadSubscriptions(db, history, notifier)
    directory = Directory(actions, history, is_admin, config.lockdown_public_room_directory)
    presence = Presence(
        db,
        storage.member_index,
        notifier,
        clock,
        enabled=config.allow_local_presence,
        idle_ms=config.presence_idle_timeout_s * 1000,
        offline_ms=config.presence_offline_timeout_s * 1000,
    )
    users.registration.registered_listeners.append(hooks.on_registered)
    users.registration.deactivated_listeners.append(hooks.on_deactivated)
    users.registration.deactivated_listeners.append(thread_subscriptions.user_deactivated)
    profiles.add_listener(hooks.on_profile_changed)
    server_notices = ServerNotices(
        db,
        config.server_name,
        notices_settings,
        accounts,
        profiles,
        users.tags,
        actions,
        membership,
    )
    membership.leave_guards.append(server_notices.guard_leave)
    if notices_settings is not None:
        users.registration.reserved.add(notices_settings.localpart)
    return RoomServices(
        storage=storage,
        actions=actions,
        metadata=metadata,
        membership=membership,
        history=history,
        directory=directory,
        relations=Relations(history),
        thread_subscriptions=thread_subscriptions,
        typing=Typing(
            db,
            storage.member_index,
            notifier,
            clock,
            config.typing_client_timeout_min_s * 1000,
            config.typing_client_timeout_max_s * 1000,
        ),
        receipts=Receipts(db, storage.member_index, storage.timeline, notifier, clock),
        hooks=hooks,
        upgrades=RoomUpgrades(membership),
        reports=Reports(db, clock, storage.member_index, storage.timeline, is_local_user),
        search=Search(history, SearchIndex(db)),
        hierarchy=Hierarchy(directory),
        user_directory=UserDirectory(
            storage,
            aliases,
            lambda u: profile(u) if is_local_user(u) else None,
            accounts.is_locked,
        ),
        presence=presence,
        initial_sync=RoomInitialSync(history, directory, users.account_data, presence),
        delayed_events=build_delayed_events(config, db, clock, actions, membership),
        server_notices=server_notices,
    )


def server_notices_settings(config: GlobalConfig) -> NoticesSettings | None:
    """The server_notices_* options; None when server notices are off."""
    if config.server_notices_mxid_localpart is None:
        return None
    return NoticesSettings(
        config.server_notices_mxid_localpart,
        config.server_notices_mxid_display_name,
        config.server_notices_mxid_avatar_url,
        config.server_notices_room_name,
        config.server_notices_room_topic,
    )


def build_delayed_events(
    config: GlobalConfig, db: Database, clock: Clock, actions: RoomActions, membership: Membership
) -> DelayedEvents:
    """Delayed events are sent and checked as their user, by the same paths as the
    send and state endpoints (member events through Membership); a state event
    cancels its sender's delayed state for it in the event's own batch."""

    async def send_as(
        user: UserId, room: RoomId, event_type: str, state_key: str | None, content: dict[str, Any]
    ) -> str:
        if state_key is None:
            return await actions.send(user, room, event_type, content)
        if event_type == EventType.MEMBER:
            return await membership.set_member_state(user, room, state_key, content)
        return await actions.send_state(user, room, event_type, state_key, content)

    async def check_as(
        user: UserId, room: RoomId, event_type: str, state_key: str | None, content: dict[str, Any]
    ) -> None:
        if event_type == EventType.MEMBER and state_key is not None:
            # Membership changes take their own path (joins may go over federation):
            # their auth is checked when sent, like Synapse's update_membership; the
            # request itself is checked now.
            actions.room_version(room)
            if content.get("membership") not in MEMBERSHIPS:
                raise bad_json(f"Invalid membership {content.get('membership')!r}")
            try:
                UserId.parse(state_key)
            except ValueError as exc:
                raise bad_json(f"Invalid member state_key: {exc}") from None
            return
        await actions.check_send(user, room, event_type, content, state_key)

    delayed = DelayedEvents(
        db, clock, send_as, check_as, max_delay_ms=config.max_event_delay_duration_ms
    )
    actions.storage.pipeline.persister.listeners.append(delayed.stage_event)
    return delayed


def build_e2ee(
    config: GlobalConfig, db: Database, users: UserServices, rooms: RoomServices, notifier: Notifier
) -> E2ee:
    """The e2ee services over the devices and the rooms' membership indexes.

    Device deletions and joined-state flips reach them through listeners, so a
    device's keys go in the deletion's own batch and room-mates hear of joins
    and leaves once those are committed.
    """
    devices, registration = users.devices, users.registration
    members = rooms.storage.member_index
    membership = JoinedMembership(
        lambda user_id: [room.room_id for room in members.rooms_of(user_id)], members.members
    )

    def wake(user_ids: Iterable[str]) -> None:
        notifier.notify(db.current_count(), users=user_ids)

    e2ee = E2ee(db, config.server_name, devices, membership, wake=wake)
    devices.deletion_listeners.append(e2ee.stage_device_deleted)
    devices.rename_listeners.append(e2ee.stage_device_renamed)
    registration.deactivated_listeners.append(e2ee.user_deactivated)
    members.join_listeners.append(e2ee.membership_changed)
    return e2ee
