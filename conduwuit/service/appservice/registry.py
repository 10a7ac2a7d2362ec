"""The registered application services, kept in ``id_appserviceregistrations`` and
in memory (every authenticated request asks whether its token is an ``as_token``).

Registering stores the registration and creates its sender user if missing
(conduwuit does the same), so the service can act as that user at once. Registering
an ``id`` again replaces that registration (conduwuit's behaviour); an ``as_token``
already used by another registration is refused, since a token must name one
service.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conduwuit.core.appservice import (
    AppserviceRegistration,
    NamespaceKind,
    RegistrationError,
    exclusive_owner,
    parse_registration,
    registration_to_json,
)
from conduwuit.core.errors import MatrixError
from conduwuit.db import Database
from conduwuit.db.maps import MAPS
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.ids import check_new_localpart
from conduwuit.service.users.registration import Registration


def parse_registration_yaml(text: str) -> AppserviceRegistration:
    """A registration from its YAML (as bridges write it), or RegistrationError."""
    import yaml  # on first use: most servers have no appservice (issue 21)

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistrationError(f"the registration is not valid YAML: {exc}") from None
    return parse_registration(raw)


def read_registration_dir(directory: Path) -> list[AppserviceRegistration]:
    """The registrations in the ``*.yaml`` / ``*.yml`` files of ``directory``, in file
    name order. A missing directory, or a file that cannot be read or is not a valid
    registration, raises RegistrationError naming it: the server refuses to start
    rather than run without the service."""
    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    except OSError as exc:
        raise RegistrationError(f"appservice_dir {directory}: {exc}") from None
    regs = []
    for path in paths:
        try:
            regs.append(parse_registration_yaml(path.read_text()))
        except (OSError, UnicodeDecodeError, RegistrationError) as exc:
            raise RegistrationError(f"{path}: {exc}") from None
    return regs


class Appservices:
    def __init__(
        self, db: Database, server_name: str, accounts: Accounts, registration: Registration
    ) -> None:
        self._db = db
        self._map = db.map(MAPS.id_appserviceregistrations)
        self._server_name = server_name
        self._accounts = accounts
        self._registration = registration
        self._by_id: dict[str, AppserviceRegistration] = {
            key.decode(): parse_registration(json.loads(value))
            for key, value in self._map.iter_prefix(b"")
        }
        #: Called with the id after a registration is stored / removed (the sender
        #: starts sending / drops the queue).
        self.registered_listeners: list[Callable[[str], None]] = []
        self.unregistered_listeners: list[Callable[[str], None]] = []

    @property
    def server_name(self) -> str:
        return self._server_name

    def all(self) -> list[AppserviceRegistration]:
        return sorted(self._by_id.values(), key=lambda r: r.id)

    def get(self, as_id: str) -> AppserviceRegistration | None:
        return self._by_id.get(as_id)

    def by_as_token(self, token: str) -> AppserviceRegistration | None:
        return next((r for r in self._by_id.values() if r.as_token == token), None)

    def exclusive_owner(self, kind: NamespaceKind, value: str) -> AppserviceRegistration | None:
        return exclusive_owner(self._by_id.values(), kind, value)

    def not_rate_limited(self, user_id: str) -> bool:
        """Whether ``user_id`` belongs to an appservice registered with
        ``rate_limited: false`` (its sender or a namespace user): the per-user rate
        limits do not apply (Synapse exempts such services' requests)."""
        return any(
            reg.rate_limited is False and reg.is_user_of(user_id, self._server_name)
            for reg in self._by_id.values()
        )

    def exclusive_alias_claimant(self, alias: str) -> str | None:
        """The sender user of the service claiming ``alias`` exclusively, if any."""
        owner = self.exclusive_owner(NamespaceKind.ALIASES, alias)
        return owner.sender(self._server_name) if owner is not None else None

    async def register(self, reg: AppserviceRegistration) -> bool:
        """Store ``reg`` (replacing one with its id); True if it replaced one."""
        clash = self.by_as_token(reg.as_token)
        if clash is not None and clash.id != reg.id:
            raise RegistrationError(f"'as_token' is already used by appservice {clash.id!r}")
        try:
            sender = check_new_localpart(reg.sender_localpart, self._server_name)
        except MatrixError as exc:
            raise RegistrationError(f"'sender_localpart': {exc.message}") from None
        if sender.split(":", 1)[0][1:] in self._registration.reserved:
            raise RegistrationError(f"'sender_localpart' {reg.sender_localpart!r} is reserved")
        replaced = reg.id in self._by_id
        with self._db.batch() as b:
            b.put(self._map, reg.id.encode(), json.dumps(registration_to_json(reg)).encode())
        self._by_id[reg.id] = reg
        if not self._accounts.exists(sender):
            # Not the server's first admin, even if it is its first account.
            await self._registration.register(sender, None, login=False, first_admin=False)
        for listener in self.registered_listeners:
            listener(reg.id)
        return replaced

    async def load_dir(self, directory: Path) -> list[str]:
        """Register every registration file of ``directory`` (``appservice_dir``,
        see :func:`read_registration_dir`), replacing ones with the same id."""
        regs = read_registration_dir(directory)
        for reg in regs:
            await self.register(reg)
        return [reg.id for reg in regs]

    def unregister(self, as_id: str) -> bool:
        if as_id not in self._by_id:
            return False
        with self._db.batch() as b:
            b.delete(self._map, as_id.encode())
        del self._by_id[as_id]
        for listener in self.unregistered_listeners:
            listener(as_id)
        return True
