"""The services of one server, as plain records.

``conduwuit.server`` builds them (the one composition root) and the API layer's
route table (``conduwuit.api.routes``) reads them; nothing here wires anything.
They are containers of collaborators, never compared or printed, so their
dataclasses generate only ``__init__`` (``eq=False, repr=False``): the 91 fields'
``__eq__`` and ``__repr__`` were ~1.7 ms of every start-up (issue 21).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from conduwuit.config import GlobalConfig
from conduwuit.db import Database
from conduwuit.service.account_data import AccountData
from conduwuit.service.appservice.queries import AppserviceQueries
from conduwuit.service.appservice.registry import Appservices
from conduwuit.service.appservice.sender import AppserviceSender
from conduwuit.service.devices import Devices
from conduwuit.service.e2ee import E2ee
from conduwuit.service.federation.auth import RequestAuth
from conduwuit.service.federation.client import FederationClient
from conduwuit.service.federation.directory import FederationDirectory
from conduwuit.service.federation.event_checks import PduSignatures
from conduwuit.service.federation.inbound import InboundTransactions
from conduwuit.service.federation.joins import RemoteJoins
from conduwuit.service.federation.keys import RemoteKeys
from conduwuit.service.federation.partial_resync import PartialStateResync
from conduwuit.service.federation.queries import FederationQueries
from conduwuit.service.federation.remote_events import RemoteEvents
from conduwuit.service.federation.remote_user_keys import RemoteUserKeys
from conduwuit.service.federation.resolver import ServerResolver
from conduwuit.service.federation.room_access import RoomAccess
from conduwuit.service.federation.room_membership import FederationMembership
from conduwuit.service.federation.room_reads import RoomReads
from conduwuit.service.federation.sender import FederationSender
from conduwuit.service.federation.timestamps import RemoteTimestamps
from conduwuit.service.federation.unknown_events import UnknownEvents
from conduwuit.service.federation.user_keys import UserKeys
from conduwuit.service.filters import Filters
from conduwuit.service.loop_lag import LoopLag
from conduwuit.service.media.admin import MediaAdmin
from conduwuit.service.media.preview import Previewer
from conduwuit.service.media.repository import MediaRepository
from conduwuit.service.media.thumbnail import Thumbnailer
from conduwuit.service.notifier import Notifier
from conduwuit.service.presence import Presence
from conduwuit.service.push import Notifications, PushEvaluator, PushRules
from conduwuit.service.push.pushers import Pushers
from conduwuit.service.ratelimit import RateLimiter, RateLimits
from conduwuit.service.rooms.account_hooks import AccountHooks
from conduwuit.service.rooms.actions import RoomActions
from conduwuit.service.rooms.admin import RoomAdmin
from conduwuit.service.rooms.admin_delete import RoomDeletions
from conduwuit.service.rooms.admin_reports import EventReportAdmin
from conduwuit.service.rooms.delayed_events import DelayedEvents
from conduwuit.service.rooms.directory import Directory
from conduwuit.service.rooms.hierarchy import Hierarchy
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.initial_sync import RoomInitialSync
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.metadata import RoomMetadata
from conduwuit.service.rooms.purge_history import HistoryPurges
from conduwuit.service.rooms.receipts import Receipts
from conduwuit.service.rooms.relations import Relations
from conduwuit.service.rooms.reports import Reports
from conduwuit.service.rooms.search import Search
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.rooms.thread_subscriptions import ThreadSubscriptions
from conduwuit.service.rooms.typing import Typing
from conduwuit.service.rooms.upgrade import RoomUpgrades
from conduwuit.service.server_keys import ServerKeys
from conduwuit.service.server_notices import ServerNotices
from conduwuit.service.sliding_sync.service import SlidingSyncService
from conduwuit.service.sync.service import SyncService
from conduwuit.service.tags import Tags
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
from conduwuit.service.voip import Voip

if TYPE_CHECKING:
    # Imported where the metrics are built (prometheus_client only when they are on).
    from conduwuit.service.metrics.registry import Metrics


@dataclass(eq=False, repr=False)
class UserServices:
    """Accounts, sessions and per-user data."""

    accounts: Accounts
    profiles: Profiles
    devices: Devices
    hasher: PasswordHasher
    password_auth: PasswordAuth
    registration: Registration
    #: Registration tokens made with the admin API.
    registration_tokens: RegistrationTokens
    erasures: Erasures
    #: Shadow-banned users (the admin API sets them; the client API fakes their sends).
    shadow_bans: ShadowBans
    #: Refuses the events of suspended accounts (the room pipeline runs it).
    suspensions: SuspensionGuard
    #: Locks and suspensions as admins set them (spec endpoints, admin room).
    moderation: AccountModeration
    shared_secret: SharedSecret
    uiaa: Uiaa
    account_data: AccountData
    tags: Tags
    openid: OpenId
    whois: Whois
    filters: Filters
    login_limiter: RateLimiter
    registration_limiter: RateLimiter
    #: Registered application services (they authenticate with their as_token).
    appservices: Appservices


@dataclass(eq=False, repr=False)
class RoomServices:
    """Rooms: their storage and event pipeline, and what clients do in rooms."""

    storage: RoomStorage
    actions: RoomActions
    #: Rooms the admins banned or whose federation they disabled.
    metadata: RoomMetadata
    membership: Membership
    history: RoomHistory
    directory: Directory
    relations: Relations
    #: Users' thread subscriptions (MSC4306).
    thread_subscriptions: ThreadSubscriptions
    typing: Typing
    receipts: Receipts
    hooks: AccountHooks
    upgrades: RoomUpgrades
    reports: Reports
    search: Search
    hierarchy: Hierarchy
    user_directory: UserDirectory
    presence: Presence
    initial_sync: RoomInitialSync
    #: Delayed events (MSC4140); the runtime starts and stops their timer.
    delayed_events: DelayedEvents
    #: Server notices (Synapse's admin API): each user's notices room.
    server_notices: ServerNotices


@dataclass(eq=False, repr=False)
class PushServices:
    """Users' push rules, their evaluation per event, the notifications, and pushers
    (the runtime starts and stops their delivery)."""

    rules: PushRules
    evaluator: PushEvaluator
    notifications: Notifications
    pushers: Pushers


@dataclass(eq=False, repr=False)
class FederationServices:
    """Talking to other servers: where each one is, the outbound client (the runtime
    closes both), their keys, inbound request authentication, and the queries
    clients trigger."""

    resolver: ServerResolver

    client: FederationClient
    #: Local events and EDUs to the other servers of their rooms (started by the runtime).
    sender: FederationSender
    keys: RemoteKeys
    auth: RequestAuth
    queries: FederationQueries
    #: Hashes and signatures of every received PDU (for the federation room work).
    pdu_signatures: PduSignatures
    #: Joining rooms this server is not in (make_join/send_join).
    joins: RemoteJoins
    #: Events and room state fetched from other servers (gaps of received events, backfill).
    remote_events: RemoteEvents
    #: Completing rooms joined with partial state (the runtime starts and stops it).
    partial_resync: PartialStateResync
    #: Our users' devices and keys for other servers, and their device-list EDUs.
    user_keys: UserKeys
    #: Other servers' users' devices and keys (cached; the runtime stops its resyncs).
    remote_keys: RemoteUserKeys
    #: ``/timestamp_to_event`` asking the room's other servers past gaps in our history.
    timestamps: RemoteTimestamps
    #: Events a client names that we do not hold, fetched into gaps of our history.
    unknown_events: UnknownEvents


@dataclass(eq=False, repr=False)
class AdminApiServices:
    """What Synapse's admin API (``/_synapse/admin``) shows and changes."""

    users: UserAdmin
    rooms: RoomAdmin
    #: Room deletion and purge (its purges cut short resume at start).
    deletions: RoomDeletions
    #: Purges of rooms' history (those cut short resume at start).
    history: HistoryPurges
    event_reports: EventReportAdmin
    media: MediaAdmin


@dataclass(eq=False, repr=False)
class ServingServices:
    """Resident rooms as other servers see them: who may read what, and the reads."""

    access: RoomAccess
    reads: RoomReads
    membership: FederationMembership
    inbound: InboundTransactions
    directory: FederationDirectory


@dataclass(eq=False, repr=False)
class Services:
    """Every service of one server over one database."""

    config: GlobalConfig
    db: Database
    server_keys: ServerKeys
    users: UserServices
    rooms: RoomServices
    notifier: Notifier
    sync: SyncService
    sliding_sync: SlidingSyncService
    e2ee: E2ee
    voip: Voip
    push: PushServices
    limits: RateLimits
    media: MediaRepository
    #: Thumbnails and URL previews of the media repository (the runtime closes them).
    thumbnailer: Thumbnailer
    previewer: Previewer
    federation: FederationServices
    serving: ServingServices
    #: Events to the application services interested in them (the runtime runs it).
    appservice_sender: AppserviceSender
    #: User and alias queries and pings to application services.
    appservice_queries: AppserviceQueries
    admin_api: AdminApiServices
    #: The event-loop stall monitor when ``loop_lag_monitor`` is on (the runtime runs it).
    loop_lag: LoopLag | None = None
    #: Prometheus metrics when ``allow_metrics`` is on.
    metrics: Metrics | None = None

    def close(self) -> None:
        # Queued sliding sync connection writes reach the database before it closes.
        self.sliding_sync.connections.close()
        self.db.close()
