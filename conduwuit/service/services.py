"""The composition root: builds every service from the config and the database.

Each service gets only the collaborators it uses; the API layer's ``routes``
functions get the services they call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conduwuit.api import root, wellknown
from conduwuit.api.admin import register as admin_register
from conduwuit.api.auth import TokenAuthenticator, requester
from conduwuit.api.client import (
    account,
    account_data,
    capabilities,
    devices,
    filter,
    login,
    profile,
    register,
    room_keys,
    to_device,
    versions,
)
from conduwuit.api.client import keys as client_keys
from conduwuit.api.client import sync as sync_api
from conduwuit.api.federation import keys, version
from conduwuit.api.router import Authenticator, Route
from conduwuit.config import GlobalConfig, registration_token
from conduwuit.core.errors import invalid_param
from conduwuit.db import Database, DatabaseOptions
from conduwuit.db.maps import MAPS
from conduwuit.service.account_data import AccountData
from conduwuit.service.clock import Clock, system_clock
from conduwuit.service.devices import Devices
from conduwuit.service.e2ee import E2ee
from conduwuit.service.e2ee.ports import JoinedMembership
from conduwuit.service.filters import Filters
from conduwuit.service.notifier import Notifier
from conduwuit.service.ratelimit import RateLimiter
from conduwuit.service.room_services import RoomServices
from conduwuit.service.server_keys import ServerKeys
from conduwuit.service.sync.rooms import RoomSections
from conduwuit.service.sync.service import SyncService, parse_since
from conduwuit.service.uiaa import PASSWORD, Uiaa
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.login import PasswordAuth
from conduwuit.service.users.passwords import PasswordHasher
from conduwuit.service.users.profiles import Profiles
from conduwuit.service.users.registration import Registration
from conduwuit.service.users.shared_secret import SharedSecret


def database_options(config: GlobalConfig) -> DatabaseOptions:
    return DatabaseOptions(
        path=config.database_path,
        compression=config.rocksdb_compression_algo,
        compression_level=config.rocksdb_compression_level,
        bottommost_compression=config.rocksdb_bottommost_compression,
        bottommost_compression_level=config.rocksdb_bottommost_compression_level,
        cache_capacity_mb=config.db_cache_capacity_mb * config.cache_capacity_modifier,
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


@dataclass
class UserServices:
    """Accounts, sessions and per-user data (issue 4)."""

    accounts: Accounts
    profiles: Profiles
    devices: Devices
    hasher: PasswordHasher
    password_auth: PasswordAuth
    registration: Registration
    shared_secret: SharedSecret
    uiaa: Uiaa
    account_data: AccountData
    filters: Filters
    login_limiter: RateLimiter
    registration_limiter: RateLimiter

    @classmethod
    def build(
        cls, config: GlobalConfig, db: Database, clock: Clock, notifier: Notifier
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
        registration = Registration(
            db,
            config.server_name,
            accounts,
            profiles,
            devices,
            hasher,
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
            failures=RateLimiter(
                clock,
                per_second=config.rate_limit_uiaa_per_second,
                burst=config.rate_limit_uiaa_burst,
            ),
        )
        return cls(
            accounts=accounts,
            profiles=profiles,
            devices=devices,
            hasher=hasher,
            password_auth=password_auth,
            registration=registration,
            shared_secret=SharedSecret(config.registration_shared_secret, clock),
            uiaa=uiaa,
            account_data=AccountData(db, notifier),
            filters=Filters(db),
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

    def routes(self, config: GlobalConfig, db: Database) -> list[Route]:
        return [
            *register.routes(config, self.registration, self.uiaa, self.registration_limiter),
            *login.routes(
                config,
                db,
                self.accounts,
                self.devices,
                self.password_auth,
                self.registration,
                self.uiaa,
                self.login_limiter,
            ),
            *admin_register.routes(self.shared_secret, self.registration, config.server_name),
            *account.routes(self.registration, self.uiaa),
            *devices.routes(self.devices, self.uiaa),
            *profile.routes(config, self.accounts, self.profiles),
            *account_data.routes(self.account_data),
            *filter.routes(self.filters),
            *capabilities.routes(config),
        ]


def build_e2ee(
    config: GlobalConfig, db: Database, users: UserServices, rooms: RoomServices, notifier: Notifier
) -> E2ee:
    """The e2ee services over the devices and the rooms' membership indexes.

    Device deletions and joined-state flips reach them through listeners, so a
    device's keys go in the deletion's own batch and room-mates hear of joins
    and leaves once those are committed.
    """
    devices, registration = users.devices, users.registration
    members = rooms.core.members
    membership = JoinedMembership(
        lambda user_id: [room.room_id for room in members.rooms_of(user_id)], members.members
    )

    def wake(user_ids: Iterable[str]) -> None:
        notifier.notify(db.current_count(), users=user_ids)

    e2ee = E2ee(db, config.server_name, devices, membership, wake=wake)
    devices.deletion_listeners.append(e2ee.stage_device_deleted)
    registration.deactivated_listeners.append(e2ee.user_deactivated)
    members.join_listeners.append(e2ee.device_lists.membership_changed)
    return e2ee


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


@dataclass
class Services:
    config: GlobalConfig
    db: Database
    server_keys: ServerKeys
    users: UserServices
    rooms: RoomServices
    notifier: Notifier
    sync: SyncService
    e2ee: E2ee
    authenticator: Authenticator | None = None

    @classmethod
    def open(cls, config: GlobalConfig, clock: Clock = system_clock) -> Services:
        db = Database.open(database_options(config))
        try:
            server_keys = ServerKeys(config.server_name, db.map(MAPS.global_))
            notifier = Notifier()
            users = UserServices.build(config, db, clock, notifier)
            rooms = RoomServices.build(
                config,
                db,
                lambda: server_keys.keypair,
                notifier,
                clock,
                users.accounts,
                users.profiles,
                users.registration,
            )
            e2ee = build_e2ee(config, db, users, rooms, notifier)
        except BaseException:
            db.close()
            raise
        authenticator = TokenAuthenticator(users.devices, users.accounts, clock)
        sync = SyncService(
            db,
            rooms.core.members,
            RoomSections(rooms.reads, rooms.typing, rooms.receipts, users.account_data),
            users.account_data,
            rooms.presence,
            notifier,
            extras=[e2ee.sync],
        )
        return cls(
            config=config,
            db=db,
            server_keys=server_keys,
            users=users,
            rooms=rooms,
            notifier=notifier,
            sync=sync,
            e2ee=e2ee,
            authenticator=authenticator,
        )

    def routes(self) -> list[Route]:
        return [
            *root.routes(self.config.server_name),
            *versions.routes(),
            *wellknown.routes(self.config.well_known),
            *version.routes(),
            *keys.routes(self.server_keys),
            *self.users.routes(self.config, self.db),
            *self.rooms.routes(self.config, self.users.account_data, self.users.filters),
            *sync_api.routes(self.sync, self.users.filters),
            *e2ee_routes(self.e2ee, self.users.uiaa),
        ]

    def close(self) -> None:
        self.db.close()
