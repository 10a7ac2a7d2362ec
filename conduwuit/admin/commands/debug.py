"""``!admin debug``: cheap diagnostics (conduwuit's command names): ping a server
over federation, how its name resolves, an event by ID, the log level at runtime."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field

from conduwuit.admin.parser import Command, CommandError, Group, Runner, arg
from conduwuit.config.logging import apply_log_filter, parse_log_filter
from conduwuit.core.ids import ServerName
from conduwuit.service.federation.client import FederationClient, FederationError
from conduwuit.service.federation.resolver import ServerResolver
from conduwuit.service.rooms.timeline import Timeline

VERSION_PATH = "/_matrix/federation/v1/version"


def _json_block(value: object) -> str:
    return f"```json\n{json.dumps(value, indent=2, sort_keys=True)}\n```"


def _server_name(raw: str) -> str:
    try:
        return str(ServerName.parse(raw))
    except ValueError as exc:
        raise CommandError(f"{raw!r} is not a server name: {exc}") from None


@dataclass
class DebugCommands:
    client: FederationClient
    resolver: ServerResolver
    timeline: Timeline
    #: ``rooms state``: the same answer under conduwuit's debug name.
    room_state: Runner
    #: The ``log`` option: what ``change-log-level --reset`` goes back to.
    configured_log: str
    _named: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._named = set(parse_log_filter(self.configured_log)[1])

    async def echo(self, ns: argparse.Namespace) -> str:
        return " ".join(ns.message)

    async def ping(self, ns: argparse.Namespace) -> str:
        server = _server_name(ns.server)
        start = time.monotonic()
        try:
            answer = await self.client.get(server, VERSION_PATH)
        except FederationError as exc:
            raise CommandError(f"{server} did not answer: {exc}") from None
        elapsed_ms = (time.monotonic() - start) * 1000
        return f"{server} answered in {elapsed_ms:.1f} ms:\n{_json_block(answer)}"

    async def resolve_true_destination(self, ns: argparse.Namespace) -> str:
        server = _server_name(ns.server)
        try:
            found = await self.resolver.resolve(server)
        except Exception as exc:  # the resolver's errors are varied: each is an answer
            raise CommandError(f"Could not resolve {server}: {exc}") from None
        return (
            f"{server} resolves to {found.host} port {found.port}\n"
            f"Host header: {found.host_header}\nTLS name: {found.tls_name}"
        )

    async def get_pdu(self, ns: argparse.Namespace) -> str:
        pdu = self.timeline.get(ns.event_id)
        if pdu is None:
            raise CommandError(f"No event {ns.event_id} here")
        return f"Event {ns.event_id}:\n{_json_block(pdu)}"

    async def change_log_level(self, ns: argparse.Namespace) -> str:
        if ns.reset:
            text = self.configured_log
        elif ns.filter is None:
            raise CommandError(
                "Give a log filter (such as debug or info,conduwuit=debug) or --reset"
            )
        else:
            text = ns.filter
        try:
            self._named = apply_log_filter(text, self._named)
        except ValueError as exc:
            raise CommandError(f"Log filter not changed: {exc}") from None
        return f"Log filter is now {text!r}."

    def group(self) -> Group:
        server = arg("server", help="a server name, e.g. matrix.org")
        return Group(
            "debug",
            "Diagnostics",
            (
                Command(
                    "debug",
                    "echo",
                    "Answer with the message given (is the bot alive?)",
                    self.echo,
                    (arg("message", nargs="*", help="words to echo"),),
                    "!admin debug echo hello",
                ),
                Command(
                    "debug",
                    "ping",
                    "Ask a server for its version over federation and time the answer",
                    self.ping,
                    (server,),
                    "!admin debug ping matrix.org",
                ),
                Command(
                    "debug",
                    "resolve-true-destination",
                    "Where federation requests to a server go (well-known, SRV, port)",
                    self.resolve_true_destination,
                    (server,),
                    "!admin debug resolve-true-destination matrix.org",
                ),
                Command(
                    "debug",
                    "get-pdu",
                    "An event stored here, by ID, as JSON",
                    self.get_pdu,
                    (arg("event_id", help="the event's ID"),),
                    "!admin debug get-pdu '$abc'",
                ),
                Command(
                    "debug",
                    "get-room-state",
                    "A room's current state events as JSON (as rooms state)",
                    self.room_state,
                    (arg("room", help="a room ID or alias"),),
                    "!admin debug get-room-state !abc:example.org",
                ),
                Command(
                    "debug",
                    "change-log-level",
                    "Change the log filter at runtime (the log option's syntax), or go back "
                    "to the configured one",
                    self.change_log_level,
                    (
                        arg("filter", nargs="?", help='e.g. "debug" or "info,conduwuit=debug"'),
                        arg("--reset", action="store_true", help="back to the log option"),
                    ),
                    "!admin debug change-log-level info,conduwuit.service.federation=debug",
                ),
            ),
        )
