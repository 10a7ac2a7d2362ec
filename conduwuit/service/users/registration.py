"""Creating, changing and deactivating accounts: each one logical change, one batch."""

from __future__ import annotations

import inspect
import json
import secrets
from collections.abc import Awaitable, Callable

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.db import Database
from conduwuit.db.maps import MAPS
from conduwuit.service.account_data import AccountData
from conduwuit.service.devices import Devices, Session
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.erasure import Erasures
from conduwuit.service.users.ids import AccountUserId, check_new_localpart, make_user_id
from conduwuit.service.users.passwords import PasswordHasher
from conduwuit.service.users.profiles import Profiles

#: Generated localparts: digits, like Synapse's numeric guest IDs, but random so
#: they reveal nothing about how many users exist.
GENERATED_LOCALPART_LENGTH = 12


class Registration:
    def __init__(
        self,
        db: Database,
        server_name: str,
        accounts: Accounts,
        profiles: Profiles,
        devices: Devices,
        hasher: PasswordHasher,
        erasures: Erasures,
        account_data: AccountData,
        *,
        forbidden_usernames: list[str],
        displayname_suffix: str,
        auto_join_rooms: list[str],
    ) -> None:
        self._db = db
        self._server_name = server_name
        self._accounts = accounts
        self._profiles = profiles
        self._devices = devices
        self._hasher = hasher
        self._erasures = erasures
        self._account_data = account_data
        self._forbidden = [name.lower() for name in forbidden_usernames if name]
        self._suffix = displayname_suffix
        self._auto_join = auto_join_rooms
        self._autojoin_map = db.map(MAPS.userid_autojoin)
        #: Localparts the server keeps for itself (the admin room's server user),
        #: taken even before their account exists.
        self.reserved: set[str] = set()
        # Called with the user ID after the change committed (the rooms service
        # honours auto_join_rooms and leaves every room on deactivation).
        # Sync or async; the rooms service's joins and leaves are awaited.
        self.registered_listeners: list[Callable[[str], Awaitable[None] | None]] = []
        self.deactivated_listeners: list[Callable[[str], Awaitable[None] | None]] = []

    def check_available(self, localpart: str, *, admin: bool = False) -> AccountUserId:
        """The ID for this username, or the spec's error: M_INVALID_USERNAME, M_USER_IN_USE.

        ``admin`` (shared-secret registration) skips forbidden_usernames.
        """
        user_id = check_new_localpart(localpart, self._server_name)
        if not admin and any(name in localpart for name in self._forbidden):
            raise MatrixError(ErrCode.INVALID_USERNAME, "This username is not allowed.")
        if self._accounts.exists(user_id) or localpart in self.reserved:
            raise MatrixError(ErrCode.USER_IN_USE, "The desired user ID is already taken.")
        return user_id

    def generate_user_id(self) -> AccountUserId:
        while True:
            localpart = "".join(
                secrets.choice("0123456789") for _ in range(GENERATED_LOCALPART_LENGTH)
            )
            user_id = make_user_id(localpart, self._server_name)
            if not self._accounts.exists(user_id):
                return user_id

    async def register(
        self,
        user_id: AccountUserId,
        password: str | None,
        *,
        is_guest: bool = False,
        admin: bool = False,
        displayname: str | None = None,
        login: bool = True,
        device_id: str | None = None,
        device_display_name: str | None = None,
        refresh: bool = False,
        ip: str | None = None,
        first_admin: bool = True,
    ) -> Session | None:
        """Create the account (and a logged-in device unless ``login`` is false).
        ``first_admin``: whether the server's first account becomes its admin.

        The password is hashed first (off the loop); everything else is one batch
        committed with no await in between, so a concurrent registration of the same
        ID fails with M_USER_IN_USE instead of overwriting.
        """
        password_hash = await self._hasher.hash(password) if password is not None else None
        if self._accounts.exists(user_id):
            raise MatrixError(ErrCode.USER_IN_USE, "The desired user ID is already taken.")
        localpart = user_id[1:].split(":", 1)[0]
        name = displayname if displayname is not None else localpart
        if self._suffix and displayname is None:
            name = f"{name} {self._suffix}"
        session = None
        with self._db.batch() as b:
            self._accounts.create(
                b, user_id, password_hash, is_guest=is_guest, admin=admin, first_admin=first_admin
            )
            self._profiles.stage(b, user_id, {"displayname": name})
            if self._auto_join and not is_guest:
                b.put(self._autojoin_map, user_id.encode(), json.dumps(self._auto_join).encode())
            if login:
                session = self._devices.stage_login(
                    b, user_id, device_id, device_display_name, refresh=refresh, ip=ip
                )
        for listener in self.registered_listeners:
            if inspect.isawaitable(called := listener(user_id)):
                await called
        return session

    def login(
        self,
        user_id: str,
        device_id: str | None,
        display_name: str | None,
        *,
        refresh: bool = False,
        ip: str | None = None,
    ) -> Session:
        with self._db.batch() as b:
            return self._devices.stage_login(
                b, user_id, device_id, display_name, refresh=refresh, ip=ip
            )

    async def change_password(
        self, user_id: str, new_password: str, *, logout_devices: bool, keep_device: str | None
    ) -> None:
        password_hash = await self._hasher.hash(new_password)
        with self._db.batch() as b:
            self._accounts.set_password_hash(b, user_id, password_hash)
            if logout_devices:
                self._devices.stage_delete_all(b, user_id, keep=keep_device)

    async def deactivate(self, user_id: str, *, erase: bool = False) -> None:
        """Mark the account, drop its password, devices, tokens and profile.

        ``erase`` (spec v1.10) also marks the user erased, so their events are served
        redacted to whoever was not joined when they were sent, and drops their
        account data (room tags, push rules, read markers): the spec's "any non-event
        data associated with the user". Leaving rooms is the rooms service's part (a
        deactivated listener).
        """
        with self._db.batch() as b:
            self._accounts.deactivate(b, user_id)
            self._devices.stage_delete_all(b, user_id)
            # Synapse clears display name and avatar on deactivation too.
            self._profiles.stage(b, user_id, {})
            b.delete(self._autojoin_map, user_id.encode())
            if erase:
                self._erasures.stage_erase(b, user_id)
                self._account_data.stage_delete_user(b, user_id)
        for listener in self.deactivated_listeners:
            if inspect.isawaitable(called := listener(user_id)):
                await called
