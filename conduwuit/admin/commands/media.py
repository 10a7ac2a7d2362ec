"""``!admin media``: looking at and deleting media (conduwuit's command names)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conduwuit.admin.parser import Command, CommandError, Group, arg
from conduwuit.admin.render import code_block
from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import ServerName
from conduwuit.core.media_refs import media_refs
from conduwuit.service.clock import Clock
from conduwuit.service.media.repository import MediaRepository
from conduwuit.service.users.ids import make_user_id, parse_user_id

_MXC = re.compile(r"mxc://([^/]+)/([A-Za-z0-9_-]+)")
_DURATION = re.compile(r"(\d+)\s*(s|m|h|d|w)")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_LOCAL_FLAG = "--yes-i-want-to-delete-local-media"

#: An event by ID (a timeline event or an outlier), or None.
EventLookup = Callable[[str], dict[str, Any] | None]


def parse_duration_ms(text: str) -> int:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w`` (one number and unit) in milliseconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise CommandError(f"{text!r} is not a duration such as 30s, 15m, 12h, 7d or 2w")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_mxc(text: str) -> tuple[str, str]:
    match = _MXC.fullmatch(text.strip())
    if match is None:
        raise CommandError(f"{text!r} is not an MXC URI (mxc://server/media_id)")
    return match.group(1), match.group(2)


@dataclass
class MediaCommands:
    server_name: str
    media: MediaRepository
    clock: Clock
    event: EventLookup

    async def delete(self, ns: argparse.Namespace) -> str:
        if (ns.mxc is None) == (ns.event_id is None):
            raise CommandError("Give one of --mxc or --event-id")
        if ns.mxc is not None:
            if not await self.media.delete(*parse_mxc(ns.mxc)):
                raise CommandError(f"No media {ns.mxc} here")
            return f"Deleted {ns.mxc}."
        return await self._delete_event_media(ns.event_id)

    async def _delete_event_media(self, event_id: str) -> str:
        """conduwuit's ``--event-id``: the media and thumbnail an event refers to."""
        pdu = self.event(event_id)
        if pdu is None:
            raise CommandError(f"No event {event_id} here")
        refs = media_refs(pdu.get("content"))
        if not refs:
            raise CommandError(f"Event {event_id} refers to no media (a url in its content)")
        metas = [self.media.metadata(str(m.server_name), m.media_id) for m in refs]
        held = [m for m in metas if m is not None]
        count = await self.media.delete_many(held)
        return f"Deleted {count} of the {len(refs)} media event {event_id} refers to."

    async def delete_list(self, ns: argparse.Namespace) -> str:
        """conduwuit's ``delete-list``: the MXC URIs of a code block, one a line. A line
        that is not an MXC URI refuses the whole list, deleting nothing (conduwuit
        skips it); media not held here is listed and the rest deleted."""
        lines: list[str] = [line.strip() for line in ns.code_block if line.strip()]
        if not lines:
            raise CommandError("Give the MXC URIs in a code block, one a line")
        refs = [(line, parse_mxc(line)) for line in lines]
        found = [(line, self.media.metadata(*ref)) for line, ref in refs]
        missing = [line for line, meta in found if meta is None]
        count = await self.media.delete_many([meta for _, meta in found if meta is not None])
        out = f"Deleted {count} of {len(lines)} media."
        if missing:
            out += f"\nNot here ({len(missing)}):\n" + code_block(missing)
        return out

    async def delete_past_remote_media(self, ns: argparse.Namespace) -> str:
        if ns.before and ns.after:
            raise CommandError("Give only one of --before or --after")
        span = parse_duration_ms(ns.duration)
        count = await self.media.delete_before(
            self.clock() - span,
            include_local=ns.yes_i_want_to_delete_local_media,
            newer=ns.after,
        )
        kind = (
            "media created or cached"
            if ns.yes_i_want_to_delete_local_media
            else "remote media cached"
        )
        when = f"in the last {ns.duration}" if ns.after else f"more than {ns.duration} ago"
        return f"Deleted {count} {kind} {when}."

    async def delete_all_from_user(self, ns: argparse.Namespace) -> str:
        user_id = ns.user if ns.user.startswith("@") else make_user_id(ns.user, self.server_name)
        parsed = parse_user_id(user_id)
        if parsed is None or parsed[1] != self.server_name:
            raise CommandError(f"{ns.user!r} is not a local user ID")
        count = await self.media.delete_user_media(user_id)
        return f"Deleted {count} media uploaded by {user_id}."

    async def delete_all_from_server(self, ns: argparse.Namespace) -> str:
        try:
            server = str(ServerName.parse(ns.server_name))
        except ValueError:
            raise CommandError(f"{ns.server_name!r} is not a server name") from None
        if server == self.server_name and not ns.yes_i_want_to_delete_local_media:
            raise CommandError(f"{server} is this server: add {_LOCAL_FLAG} to delete local media")
        count = await self.media.delete_from_server(server)
        return f"Deleted {count} media from {server}."

    async def get_file_info(self, ns: argparse.Namespace) -> str:
        server, media_id = parse_mxc(ns.mxc)
        meta = self.media.metadata(server, media_id)
        if meta is None:
            raise CommandError(f"No media {ns.mxc} here")
        quarantine = self.media.quarantine
        rows = [
            f"content type: {meta.content_type}",
            f"file name: {meta.filename}",
            f"size: {meta.size} bytes",
            f"created (remote: cached) at: {meta.created_ts}",
            f"uploader: {meta.uploader}",
            f"sha256: {meta.sha256}",
            f"quarantined by: {quarantine.quarantined_by(server, media_id)}",
            f"protected from quarantine: {quarantine.protected(server, media_id)}",
        ]
        return f"{ns.mxc}:\n" + code_block(rows)

    async def get_remote_file(self, ns: argparse.Namespace) -> str:
        """conduwuit's ``get-remote-file``: fetch (and cache) another server's media
        from its origin, as a download through this server would."""
        server, media_id = parse_mxc(ns.mxc)
        if server == self.server_name:
            raise CommandError(f"{ns.mxc} is this server's media: see get-file-info")
        if ns.timeout <= 0:
            raise CommandError("--timeout must be a positive number of milliseconds")
        try:
            found = await self.media.get(server, media_id, timeout_ms=ns.timeout)
        except MatrixError as exc:
            raise CommandError(f"Could not fetch {ns.mxc}: {exc.errcode}: {exc.message}") from None
        meta = found.metadata
        return (
            f"Fetched {ns.mxc}: {meta.size} bytes, content type {meta.content_type}, "
            f"file name {meta.filename}; it is cached here."
        )

    def group(self) -> Group:
        local_flag = arg(
            _LOCAL_FLAG,
            dest="yes_i_want_to_delete_local_media",
            action="store_true",
            help="delete this server's own media too",
        )
        return Group(
            "media",
            "Look at and delete media on this server",
            (
                Command(
                    "media",
                    "delete",
                    "Delete one media (local, or a cached remote one) by its MXC URI, or "
                    "the media and thumbnail an event refers to",
                    self.delete,
                    (
                        arg("--mxc", help="the media's mxc:// URI"),
                        arg("--event-id", help="an event whose content refers to media"),
                    ),
                    "!admin media delete --mxc mxc://example.org/abcdef",
                ),
                Command(
                    "media",
                    "delete-list",
                    "Delete the media listed in a code block after the command, one MXC URI a line "
                    "(a line that is not one refuses the list; media not here is reported)",
                    self.delete_list,
                    (),
                    "!admin media delete-list",
                ),
                Command(
                    "media",
                    "delete-past-remote-media",
                    "Delete cached remote media older than a duration (30s, 15m, 12h, 7d, 2w), "
                    "or with --after cached within it",
                    self.delete_past_remote_media,
                    (
                        arg("duration", help="how old: a number and s, m, h, d or w"),
                        arg("--before", "-b", action="store_true", help="older (the default)"),
                        arg("--after", "-a", action="store_true", help="newer"),
                        local_flag,
                    ),
                    "!admin media delete-past-remote-media 7d",
                ),
                Command(
                    "media",
                    "delete-all-from-user",
                    "Delete every media a local user uploaded",
                    self.delete_all_from_user,
                    (arg("user", help="a local user ID or localpart"),),
                    "!admin media delete-all-from-user @spammer:example.org",
                ),
                Command(
                    "media",
                    "delete-all-from-server",
                    "Delete every cached media from a server (this server's only with "
                    f"{_LOCAL_FLAG})",
                    self.delete_all_from_server,
                    (arg("server_name", help="the media's origin server"), local_flag),
                    "!admin media delete-all-from-server spam.example",
                ),
                Command(
                    "media",
                    "get-remote-file",
                    "Fetch another server's media from its origin into the cache here",
                    self.get_remote_file,
                    (
                        arg("mxc", help="the media's mxc:// URI"),
                        arg(
                            "--timeout",
                            "-t",
                            type=int,
                            default=10_000,
                            help="how long to wait for it, in milliseconds (default 10000)",
                        ),
                    ),
                    "!admin media get-remote-file mxc://example.org/abcdef",
                ),
                Command(
                    "media",
                    "get-file-info",
                    "Show what this server holds about a media",
                    self.get_file_info,
                    (arg("mxc", help="the media's mxc:// URI"),),
                    "!admin media get-file-info mxc://example.org/abcdef",
                ),
            ),
        )
