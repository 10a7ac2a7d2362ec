"""``!admin users``: local accounts (conduwuit's command names)."""

from __future__ import annotations

import argparse
import secrets
from dataclasses import dataclass

from conduwuit.admin.parser import Command, CommandError, Group, arg
from conduwuit.admin.render import code_block
from conduwuit.admin.room import AdminRoom
from conduwuit.service.devices import Devices
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.ids import make_user_id, parse_user_id
from conduwuit.service.users.moderation import AccountModeration, Moderation
from conduwuit.service.users.registration import Registration

GENERATED_PASSWORD_BYTES = 18


@dataclass
class UserCommands:
    server_name: str
    accounts: Accounts
    registration: Registration
    devices: Devices
    members: MemberIndex
    admin_room: AdminRoom
    moderation: AccountModeration

    def _local(self, raw: str, *, active: bool = True) -> str:
        """A local user ID from a user ID or a bare localpart, which must exist."""
        user_id = raw if raw.startswith("@") else make_user_id(raw, self.server_name)
        parsed = parse_user_id(user_id)
        if parsed is None:
            raise CommandError(f"{raw!r} is not a valid user ID")
        if parsed[1] != self.server_name:
            raise CommandError(f"{user_id} is not a user of this server")
        if user_id == str(self.admin_room.server_user):
            raise CommandError("Not allowed on the server user")
        if not self.accounts.exists(user_id):
            raise CommandError(f"{user_id} does not exist")
        if active and not self.accounts.is_active(user_id):
            raise CommandError(f"{user_id} is deactivated")
        return user_id

    async def create_user(self, ns: argparse.Namespace) -> str:
        user_id = self.registration.check_available(ns.username)
        password = ns.password or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        await self.registration.register(user_id, password, login=False)
        if ns.password:
            return f"Created user {user_id}."
        return f"Created user {user_id} with password: `{password}`"

    async def reset_password(self, ns: argparse.Namespace) -> str:
        user_id = self._local(ns.username)
        password = ns.password or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        await self.registration.change_password(
            user_id, password, logout_devices=True, keep_device=None
        )
        if ns.password:
            return f"Password of {user_id} changed; all their devices are logged out."
        return f"Password of {user_id} changed to: `{password}` (all devices logged out)"

    async def deactivate(self, ns: argparse.Namespace) -> str:
        user_id = self._local(ns.user_id)
        await self.registration.deactivate(user_id)
        return f"Deactivated {user_id}."

    async def make_admin(self, ns: argparse.Namespace) -> str:
        user_id = self._local(ns.user_id)
        if self.accounts.is_admin(user_id):
            raise CommandError(f"{user_id} is already an admin")
        # The room first: if that fails, the account is left as it was.
        await self.admin_room.ensure(user_id)
        self.accounts.set_admin(user_id, True)
        return f"{user_id} is now a server admin."

    async def revoke_admin(self, ns: argparse.Namespace) -> str:
        user_id = self._local(ns.user_id)
        if not self.accounts.is_admin(user_id):
            raise CommandError(f"{user_id} is not an admin")
        await self.admin_room.remove_admin(user_id)
        self.accounts.set_admin(user_id, False)
        return f"{user_id} is no longer a server admin."

    def _moderate(self, raw: str, kind: Moderation, on: bool) -> str:
        """Lock/suspend (or lift it): admins are refused, as by the spec's endpoints."""
        user_id = self._local(raw)
        if self.accounts.is_admin(user_id):
            raise CommandError(f"{user_id} is a server admin; revoke that first")
        was = self.moderation.is_set(kind, user_id)
        word = {Moderation.LOCK: "locked", Moderation.SUSPEND: "suspended"}[kind]
        if was == on:
            raise CommandError(f"{user_id} is {'already' if on else 'not'} {word}")
        self.moderation.set(kind, user_id, on)
        return f"{user_id} is {'now' if on else 'no longer'} {word}."

    async def lock(self, ns: argparse.Namespace) -> str:
        return self._moderate(ns.user_id, Moderation.LOCK, True)

    async def unlock(self, ns: argparse.Namespace) -> str:
        return self._moderate(ns.user_id, Moderation.LOCK, False)

    async def suspend(self, ns: argparse.Namespace) -> str:
        return self._moderate(ns.user_id, Moderation.SUSPEND, True)

    async def unsuspend(self, ns: argparse.Namespace) -> str:
        return self._moderate(ns.user_id, Moderation.SUSPEND, False)

    async def list_users(self, ns: argparse.Namespace) -> str:
        rows = []
        for user_id, account in self.accounts.all():
            if account.deactivated or user_id == str(self.admin_room.server_user):
                continue
            flags = [
                f
                for f, on in (
                    ("admin", account.is_admin),
                    ("guest", account.is_guest),
                    ("locked", account.locked),
                    ("suspended", account.suspended),
                )
                if on
            ]
            rows.append(f"{user_id} ({', '.join(flags)})" if flags else user_id)
        return f"Found {len(rows)} local user account(s):\n" + code_block(rows)

    async def list_joined_rooms(self, ns: argparse.Namespace) -> str:
        user_id = self._local(ns.user_id, active=False)
        rooms = sorted(room.room_id for room in self.members.rooms_of(user_id))
        return f"{user_id} is joined to {len(rooms)} room(s):\n" + code_block(rooms)

    async def list_devices(self, ns: argparse.Namespace) -> str:
        user_id = self._local(ns.user_id, active=False)
        devices = self.devices.list_devices(user_id)
        rows = [
            f"{d.device_id}  {d.display_name or '-'}  last seen {d.last_seen_ip or '-'}"
            for d in devices
        ]
        return f"{user_id} has {len(rows)} device(s):\n" + code_block(rows)

    def group(self) -> Group:
        user = arg("user_id", help="a local user ID or localpart")
        password = arg("password", nargs="?", help="the password (generated if omitted)")
        return Group(
            "users",
            "Manage local user accounts",
            (
                Command(
                    "users",
                    "create-user",
                    "Create a local user (a password is generated if none is given)",
                    self.create_user,
                    (arg("username", help="the new user's localpart"), password),
                    "!admin users create-user alice",
                ),
                Command(
                    "users",
                    "reset-password",
                    "Set a user's password (generated if none is given); logs them out",
                    self.reset_password,
                    (arg("username", help="a local user ID or localpart"), password),
                    "!admin users reset-password alice",
                ),
                Command(
                    "users",
                    "deactivate",
                    "Deactivate a local user: they leave every room and are logged out",
                    self.deactivate,
                    (user,),
                    "!admin users deactivate @alice:example.org",
                ),
                Command(
                    "users",
                    "make-user-admin",
                    "Make a local user a server admin (and bring them into this room)",
                    self.make_admin,
                    (user,),
                    "!admin users make-user-admin @alice:example.org",
                ),
                Command(
                    "users",
                    "revoke-user-admin",
                    "Take server admin away from a local user (and remove them from this room)",
                    self.revoke_admin,
                    (user,),
                    "!admin users revoke-user-admin @alice:example.org",
                ),
                Command(
                    "users",
                    "lock",
                    "Lock a local account: every request but a logout answers M_USER_LOCKED "
                    "(its sessions are kept for when it is unlocked)",
                    self.lock,
                    (user,),
                    "!admin users lock @alice:example.org",
                ),
                Command(
                    "users",
                    "unlock",
                    "Unlock a locked local account",
                    self.unlock,
                    (user,),
                    "!admin users unlock @alice:example.org",
                ),
                Command(
                    "users",
                    "suspend",
                    "Suspend a local account: it can read and leave rooms but not join, "
                    "invite, send or change its profile (M_USER_SUSPENDED)",
                    self.suspend,
                    (user,),
                    "!admin users suspend @alice:example.org",
                ),
                Command(
                    "users",
                    "unsuspend",
                    "Lift the suspension of a local account",
                    self.unsuspend,
                    (user,),
                    "!admin users unsuspend @alice:example.org",
                ),
                Command(
                    "users",
                    "list-users",
                    "List the local users that are not deactivated",
                    self.list_users,
                    (),
                    "!admin users list-users",
                ),
                Command(
                    "users",
                    "list-joined-rooms",
                    "List the rooms a local user is joined to",
                    self.list_joined_rooms,
                    (user,),
                    "!admin users list-joined-rooms @alice:example.org",
                ),
                Command(
                    "users",
                    "list-devices",
                    "List a local user's devices",
                    self.list_devices,
                    (user,),
                    "!admin users list-devices @alice:example.org",
                ),
            ),
        )
