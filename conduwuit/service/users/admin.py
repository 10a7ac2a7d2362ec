"""Local accounts as Synapse's admin API shows and changes them (``/_synapse/admin/v2/users``
and friends, docs/admin-api.md): the listing with its filters and orders, one
account's details, create-or-modify, password reset, deactivation, joined rooms.

Shapes follow Synapse's docs (docs/admin_api/user_admin_api.md): flags the docs show
as 0/1 are integers, ``creation_ts`` is milliseconds in the listing and seconds in the
details, as there. What this server has not (third-party IDs, external IDs, user
types, consent) is reported empty, null, or false. Locked accounts are left out
of the listing unless ``locked=true``, as in Synapse.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from conduwuit.core.admin_listing import order_rows
from conduwuit.core.errors import invalid_param, not_found
from conduwuit.core.ids import UserId
from conduwuit.core.membership import MembershipState
from conduwuit.db import Database
from conduwuit.service.devices import Devices
from conduwuit.service.push.pusher_store import Pusher
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.users.accounts import Account, Accounts
from conduwuit.service.users.erasure import Erasures
from conduwuit.service.users.ids import AccountUserId
from conduwuit.service.users.profiles import Profiles
from conduwuit.service.users.registration import Registration
from conduwuit.service.users.shadow_bans import ShadowBans

#: Synapse's ``order_by`` values of the user listing (``UserSortOrder``).
USER_ORDERS = (
    "name",
    "is_guest",
    "admin",
    "user_type",
    "deactivated",
    "shadow_banned",
    "displayname",
    "avatar_url",
    "creation_ts",
    "last_seen_ts",
)
#: Synapse's limit on a password given to the admin API.
MAX_PASSWORD_LENGTH = 512

#: Told ``(user_id, admin)`` after an account's admin flag changed (the admin room
#: brings new admins in and takes old ones out).
AdminListener = Callable[[str, bool], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class UserQuery:
    """The listing's filters and order (Synapse's query parameters)."""

    start: int = 0
    limit: int = 100
    user_id: str | None = None
    name: str | None = None
    guests: bool = True
    deactivated: bool = False
    admins: bool | None = None
    locked: bool = False
    order_by: str = "name"
    backwards: bool = False


@dataclass(frozen=True, slots=True)
class UserChange:
    """A create-or-modify request; None leaves a field as it is."""

    password: str | None = None
    logout_devices: bool = True
    displayname: str | None = None
    avatar_url: str | None = None
    admin: bool | None = None
    deactivated: bool | None = None
    locked: bool | None = None


def check_password(password: str) -> None:
    if len(password) > MAX_PASSWORD_LENGTH or "\x00" in password:
        raise invalid_param("Invalid password")


class UserAdmin:
    def __init__(
        self,
        db: Database,
        server_name: str,
        accounts: Accounts,
        profiles: Profiles,
        devices: Devices,
        erasures: Erasures,
        registration: Registration,
        members: MemberIndex,
        shadow_bans: ShadowBans,
        pushers_of: Callable[[str], Sequence[Pusher]],
    ) -> None:
        self._db = db
        self._pushers_of = pushers_of
        self.server_name = server_name
        self._accounts = accounts
        self._profiles = profiles
        self._devices = devices
        self._erasures = erasures
        self._registration = registration
        self._members = members
        self._shadow_bans = shadow_bans
        self.admin_listeners: list[AdminListener] = []

    # -- lookups ------------------------------------------------------------------
    def local(self, user_id: UserId) -> str:
        """400 unless ``user_id`` is of this server (Synapse's wording)."""
        if str(user_id.server_name) != self.server_name:
            raise invalid_param("Can only look up local users")
        return str(user_id)

    def existing(self, user_id: UserId) -> tuple[str, Account]:
        """A local account (deactivated ones included), else 404."""
        uid = self.local(user_id)
        account = self._accounts.get(uid)
        if account is None:
            raise not_found("User not found")
        return uid, account

    def changeable(self, user_id: UserId) -> tuple[str, Account]:
        """An existing local account the admin API may change: not one the server
        keeps for itself (the admin room's server user), as the admin room refuses."""
        if user_id.localpart in self._registration.reserved:
            raise invalid_param("Not allowed on the server's own user")
        return self.existing(user_id)

    def _last_seen(self, user_id: str) -> int | None:
        seen = [d.last_seen_ts for d in self._devices.list_devices(user_id) if d.last_seen_ts]
        return max(seen) if seen else None

    def _row(self, user_id: str, account: Account) -> dict[str, Any]:
        """One account as the listing shows it."""
        profile = self._profiles.get(user_id)
        return {
            "name": user_id,
            "is_guest": int(account.is_guest),
            "admin": int(account.is_admin),
            "user_type": None,
            "deactivated": int(account.deactivated),
            "erased": self._erasures.is_erased(user_id),
            "shadow_banned": int(self._shadow_bans.is_banned(user_id)),
            "displayname": profile.get("displayname"),
            "avatar_url": profile.get("avatar_url"),
            "creation_ts": account.created_ts,
            "approved": True,
            "locked": account.locked,
            "last_seen_ts": self._last_seen(user_id),
        }

    def details(self, user_id: UserId) -> dict[str, Any]:
        uid, account = self.existing(user_id)
        row = self._row(uid, account)
        return {
            **row,
            # Seconds here, as Synapse's docs show (the listing gives milliseconds).
            "creation_ts": account.created_ts // 1000,
            "suspended": account.suspended,
            "threepids": [],
            "external_ids": [],
            "appservice_id": None,
            "consent_server_notice_sent": None,
            "consent_version": None,
            "consent_ts": None,
        }

    def list_users(self, query: UserQuery) -> dict[str, Any]:
        if query.order_by not in USER_ORDERS:
            raise invalid_param(f"Unknown value for order_by: {query.order_by}")
        rows = []
        for uid, account in self._accounts.all():
            if not query.guests and account.is_guest:
                continue
            if not query.deactivated and account.deactivated:
                continue
            if not query.locked and account.locked:
                continue
            if query.admins is not None and account.is_admin != query.admins:
                continue
            row = self._row(uid, account)
            if query.name is not None:
                # Synapse: the localpart or the display name contains it (name wins
                # over user_id when both are given).
                localpart = uid[1:].split(":", 1)[0]
                names = (localpart, row["displayname"] or "")
                if not any(query.name.lower() in n.lower() for n in names):
                    continue
            elif query.user_id is not None and query.user_id.lower() not in uid.lower():
                continue
            rows.append(row)
        rows = order_rows(rows, query.order_by, descending=query.backwards, tie_break="name")
        page = rows[query.start : query.start + query.limit]
        reply: dict[str, Any] = {"users": page, "total": len(rows)}
        if query.start + len(page) < len(rows):
            reply["next_token"] = str(query.start + len(page))
        return reply

    def joined_rooms(self, user_id: UserId) -> dict[str, Any]:
        uid = str(user_id)
        if str(user_id.server_name) == self.server_name and not self._accounts.exists(uid):
            raise not_found("User not found")
        rooms = sorted(r.room_id for r in self._members.rooms_of(uid, (MembershipState.JOIN,)))
        return {"joined_rooms": rooms, "total": len(rooms)}

    def is_admin(self, user_id: UserId) -> bool:
        return self.existing(user_id)[1].is_admin

    async def set_admin(self, requester: UserId, user_id: UserId, admin: bool) -> None:
        """Synapse's ``PUT /v1/users/{userId}/admin``; an admin cannot demote themselves."""
        uid, account = self.changeable(user_id)
        if uid == str(requester) and not admin:
            raise invalid_param("You may not demote yourself.")
        if account.is_admin != admin:
            await self._set_admin(uid, admin)

    def set_shadow_banned(self, user_id: UserId, banned: bool) -> None:
        """Synapse's ``POST``/``DELETE /v1/users/{userId}/shadow_ban``: an existing
        local account other than the server's own user (400 for a remote user, as
        Synapse's "Only local users can be shadow-banned"; 404 for an unknown one)."""
        if str(user_id.server_name) != self.server_name:
            raise invalid_param("Only local users can be shadow-banned")
        uid, _ = self.changeable(user_id)
        self._shadow_bans.set_banned(uid, banned)

    def set_suspended(self, user_id: UserId, suspended: bool) -> dict[str, Any]:
        """Synapse's ``PUT /v1/suspend/{userId}``: any existing local account
        (deactivated ones too, as there); its answer names the user."""
        if str(user_id.server_name) != self.server_name:
            raise invalid_param("Can only suspend local users")
        uid, _ = self.changeable(user_id)
        self._accounts.set_suspended(uid, suspended)
        return {f"user_{uid}_suspended": suspended}

    def devices(self, user_id: UserId) -> dict[str, Any]:
        """Synapse's ``/v2/users/{userId}/devices``: each device with its user."""
        uid, _ = self.existing(user_id)
        devices = [{**d.to_json(), "user_id": uid} for d in self._devices.list_devices(uid)]
        return {"devices": devices, "total": len(devices)}

    def pushers(self, user_id: UserId) -> dict[str, Any]:
        """Synapse's ``/v1/users/{userId}/pushers``: a local user's pushers."""
        uid, _ = self.existing(user_id)
        pushers = [p.to_admin() for p in self._pushers_of(uid)]
        return {"pushers": pushers, "total": len(pushers)}

    def delete_device(self, user_id: UserId, device_id: str) -> None:
        """Log one device out. An unknown device is no error (Synapse answers 200)."""
        uid, _ = self.changeable(user_id)
        if self._devices.get(uid, device_id) is not None:
            self._devices.delete(uid, [device_id])

    # -- changes ------------------------------------------------------------------
    async def reset_password(self, user_id: UserId, password: str, logout_devices: bool) -> None:
        check_password(password)
        uid, account = self.changeable(user_id)
        if account.deactivated:
            raise invalid_param("The user is deactivated")
        await self._registration.change_password(
            uid, password, logout_devices=logout_devices, keep_device=None
        )

    async def deactivate(self, user_id: UserId, *, erase: bool) -> None:
        uid, _ = self.changeable(user_id)
        await self._registration.deactivate(uid, erase=erase)

    async def create_or_modify(
        self, requester: UserId, user_id: UserId, change: UserChange
    ) -> tuple[bool, dict[str, Any]]:
        """Apply ``change``; returns whether the account was created, and its details.
        Everything is checked before anything is written."""
        uid = self.local(user_id)
        if change.password is not None:
            check_password(change.password)
        if change.deactivated and change.locked:
            raise invalid_param("An user can't be deactivated and locked")
        if not self._accounts.exists(uid):
            await self._create(user_id, change)
            return True, self.details(user_id)
        _, account = self.changeable(user_id)
        if uid == str(requester) and change.admin is False:
            raise invalid_param("You may not demote yourself.")
        reactivate = account.deactivated and change.deactivated is False
        if reactivate and change.password is None:
            raise invalid_param("Must provide a password to re-activate an account.")
        if account.deactivated and not reactivate and change.password is not None:
            raise invalid_param("The user is deactivated; re-activate it to set a password")
        if reactivate:
            # Synapse lets an admin bring a deactivated account back (with a password).
            self._accounts.set_deactivated(uid, False)
        if change.password is not None:
            await self._registration.change_password(
                uid, change.password, logout_devices=change.logout_devices, keep_device=None
            )
        await self._set_profile(uid, change)
        if change.admin is not None and change.admin != account.is_admin:
            await self._set_admin(uid, change.admin)
        if change.deactivated and not account.deactivated:
            await self._registration.deactivate(uid)
        if change.locked is not None:
            self._accounts.set_locked(uid, change.locked)
        return False, self.details(user_id)

    async def _create(self, user_id: UserId, change: UserChange) -> None:
        if change.deactivated:
            raise invalid_param("A new account cannot be deactivated")
        new_id: AccountUserId = self._registration.check_available(user_id.localpart, admin=True)
        await self._registration.register(
            new_id,
            change.password,
            admin=bool(change.admin),
            displayname=change.displayname,
            login=False,
            first_admin=False,
        )
        if change.avatar_url is not None:
            await self._profiles.set_field(new_id, "avatar_url", change.avatar_url)
        if change.locked:
            self._accounts.set_locked(new_id, True)
        if change.admin:
            await self._tell_admin(new_id, True)

    async def _set_profile(self, uid: str, change: UserChange) -> None:
        for key, value in (("displayname", change.displayname), ("avatar_url", change.avatar_url)):
            if value is not None:
                await self._profiles.set_field(uid, key, value)

    async def _set_admin(self, uid: str, admin: bool) -> None:
        # The listeners first (the admin room), as ``make-user-admin`` does: if that
        # fails, the account is left as it was.
        await self._tell_admin(uid, admin)
        self._accounts.set_admin(uid, admin)

    async def _tell_admin(self, uid: str, admin: bool) -> None:
        for listener in self.admin_listeners:
            if inspect.isawaitable(called := listener(uid, admin)):
                await called
