"""Composition of the rooms services and their routes (part of the composition root)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conduwuit.api.client import presence as presence_api
from conduwuit.api.client import rooms as rooms_api
from conduwuit.api.client.rooms import ephemeral, misc, spaces
from conduwuit.api.client.rooms import search as search_api
from conduwuit.api.router import Route
from conduwuit.config import GlobalConfig
from conduwuit.core.signing import Keypair
from conduwuit.db import Database
from conduwuit.service.account_data import AccountData
from conduwuit.service.clock import Clock
from conduwuit.service.filters import Filters
from conduwuit.service.notifier import Notifier
from conduwuit.service.presence import Presence
from conduwuit.service.rooms import RoomCore
from conduwuit.service.rooms.account_hooks import AccountHooks
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.directory import Directory
from conduwuit.service.rooms.hierarchy import Hierarchy
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.ops import RoomOps, RoomsConfig
from conduwuit.service.rooms.reads import RoomReads
from conduwuit.service.rooms.receipts import Receipts
from conduwuit.service.rooms.relations import Relations
from conduwuit.service.rooms.reports import Reports
from conduwuit.service.rooms.search import Search
from conduwuit.service.rooms.search_index import SearchIndex
from conduwuit.service.rooms.typing import Typing
from conduwuit.service.rooms.upgrade import RoomUpgrades
from conduwuit.service.user_directory import UserDirectory
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.profiles import Profiles
from conduwuit.service.users.registration import Registration


@dataclass
class RoomServices:
    core: RoomCore
    ops: RoomOps
    membership: Membership
    reads: RoomReads
    directory: Directory
    relations: Relations
    typing: Typing
    receipts: Receipts
    hooks: AccountHooks
    upgrades: RoomUpgrades
    reports: Reports
    search: Search
    hierarchy: Hierarchy
    user_directory: UserDirectory
    presence: Presence

    @classmethod
    def build(
        cls,
        config: GlobalConfig,
        db: Database,
        keypair: Callable[[], Keypair],
        notifier: Notifier,
        clock: Clock,
        accounts: Accounts,
        profiles: Profiles,
        registration: Registration,
    ) -> RoomServices:
        core = RoomCore(db, config.server_name, keypair, notifier, clock)
        aliases = Aliases(db, config.server_name, config.forbidden_alias_names)

        def is_admin(user_id: str) -> bool:
            account = accounts.get(user_id)
            return account is not None and account.is_admin

        def is_guest(user_id: str) -> bool:
            account = accounts.get(user_id)
            return account is not None and account.is_guest

        def may_publish(user_id: str) -> bool:
            return not config.lockdown_public_room_directory or is_admin(user_id)

        def profile(user_id: str) -> dict[str, object]:
            found = profiles.get(user_id)
            return {k: found[k] for k in ("displayname", "avatar_url") if k in found}

        ops = RoomOps(
            core,
            aliases,
            RoomsConfig(
                server_name=config.server_name,
                default_room_version=config.default_room_version,
                allow_unstable_room_versions=config.allow_unstable_room_versions,
                allow_room_creation=config.allow_room_creation,
                forbidden_alias_names=config.forbidden_alias_names,
            ),
            profile,
            may_publish,
            is_guest,
        )
        membership = Membership(ops)
        reads = RoomReads(ops)
        hooks = AccountHooks(membership)
        directory = Directory(ops, reads, is_admin, config.lockdown_public_room_directory)
        registration.registered_listeners.append(hooks.on_registered)
        registration.deactivated_listeners.append(hooks.on_deactivated)
        profiles.add_listener(hooks.on_profile_changed)
        return cls(
            core=core,
            ops=ops,
            membership=membership,
            reads=reads,
            directory=directory,
            relations=Relations(reads),
            typing=Typing(
                db,
                core.members,
                notifier,
                clock,
                config.typing_client_timeout_min_s * 1000,
                config.typing_client_timeout_max_s * 1000,
            ),
            receipts=Receipts(db, core.members, core.timeline, notifier, clock),
            hooks=hooks,
            upgrades=RoomUpgrades(membership),
            reports=Reports(core.members, core.timeline),
            search=Search(reads, SearchIndex(db)),
            hierarchy=Hierarchy(directory),
            user_directory=UserDirectory(core, aliases),
            presence=Presence(
                db,
                core.members,
                notifier,
                clock,
                enabled=config.allow_local_presence,
                idle_ms=config.presence_idle_timeout_s * 1000,
                offline_ms=config.presence_offline_timeout_s * 1000,
            ),
        )

    def routes(
        self, config: GlobalConfig, account_data: AccountData, filters: Filters
    ) -> list[Route]:
        return [
            *rooms_api.routes(
                self.ops,
                self.membership,
                self.reads,
                self.directory,
                filters,
                config.allow_public_room_directory_without_auth,
            ),
            *ephemeral.routes(self.relations, self.typing, self.receipts, account_data),
            *misc.routes(self.upgrades, self.reports, self.reads, self.core.members),
            *search_api.routes(self.search),
            *spaces.routes(self.hierarchy, self.user_directory, self.ops.aliases),
            *presence_api.routes(self.presence),
        ]
