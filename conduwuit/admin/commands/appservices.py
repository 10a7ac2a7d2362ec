"""``!admin appservices``: registering application services from the admin room
(conduwuit's way: the registration YAML in a code block after the command)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from conduwuit.admin.parser import Command, CommandError, Group, arg
from conduwuit.core.appservice import RegistrationError, registration_to_json
from conduwuit.service.appservice.registry import Appservices, parse_registration_yaml


@dataclass
class AppserviceCommands:
    appservices: Appservices

    async def register(self, ns: argparse.Namespace) -> str:
        text: str = ns.code_text
        if not text.strip():
            raise CommandError(
                "Expected the registration YAML in a code block after the command "
                "(```yaml ... ```)."
            )
        try:
            reg = parse_registration_yaml(text)
            replaced = await self.appservices.register(reg)
        except RegistrationError as exc:
            raise CommandError(f"Invalid appservice registration: {exc}") from None
        verb = "Replaced" if replaced else "Registered"
        return f"{verb} appservice {reg.id}."

    async def unregister(self, ns: argparse.Namespace) -> str:
        if not self.appservices.unregister(ns.name):
            raise CommandError(f"No appservice is registered as {ns.name!r}")
        return f"Unregistered appservice {ns.name}."

    async def show_config(self, ns: argparse.Namespace) -> str:
        reg = self.appservices.get(ns.name)
        if reg is None:
            raise CommandError(f"No appservice is registered as {ns.name!r}")
        import yaml  # on first use (issue 21)

        config = yaml.safe_dump(registration_to_json(reg), sort_keys=False)
        return f"Config for {reg.id}:\n\n```yaml\n{config}```"

    async def list_registered(self, ns: argparse.Namespace) -> str:
        names = [reg.id for reg in self.appservices.all()]
        return f"Appservices ({len(names)}): {', '.join(names)}"

    def group(self) -> Group:
        name = (arg("name", help="the appservice's id (from its registration)"),)
        return Group(
            "appservices",
            "Register and remove application services (bridges, bots)",
            (
                Command(
                    "appservices",
                    "register",
                    "Register (or replace) an appservice: its registration YAML in a fenced "
                    "code block after the command (see docs/appservices.md)",
                    self.register,
                    (),
                    "!admin appservices register",
                ),
                Command(
                    "appservices",
                    "unregister",
                    "Remove a registered appservice",
                    self.unregister,
                    name,
                    "!admin appservices unregister my-bridge",
                ),
                Command(
                    "appservices",
                    "show-appservice-config",
                    "Show an appservice's registration",
                    self.show_config,
                    name,
                    "!admin appservices show-appservice-config my-bridge",
                ),
                Command(
                    "appservices",
                    "list",
                    "List the registered appservices",
                    self.list_registered,
                    (),
                    "!admin appservices list",
                ),
            ),
        )
