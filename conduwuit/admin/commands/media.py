"""``!admin media``: deleting media (conduwuit's command names)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from conduwuit.admin.parser import Command, CommandError, Group, arg
from conduwuit.service.clock import Clock
from conduwuit.service.media.repository import MediaRepository
from conduwuit.service.users.ids import make_user_id, parse_user_id

_MXC = re.compile(r"mxc://([^/]+)/([A-Za-z0-9_-]+)")
_DURATION = re.compile(r"(\d+)\s*(s|m|h|d|w)")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_duration_ms(text: str) -> int:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w`` (one number and unit) in milliseconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise CommandError(f"{text!r} is not a duration such as 30s, 15m, 12h, 7d or 2w")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


@dataclass
class MediaCommands:
    server_name: str
    media: MediaRepository
    clock: Clock

    async def delete(self, ns: argparse.Namespace) -> str:
        match = _MXC.fullmatch(ns.mxc)
        if match is None:
            raise CommandError(f"{ns.mxc!r} is not an MXC URI (mxc://server/media_id)")
        if not await self.media.delete(match.group(1), match.group(2)):
            raise CommandError(f"No media {ns.mxc} here")
        return f"Deleted {ns.mxc}."

    async def delete_all_from_user(self, ns: argparse.Namespace) -> str:
        user_id = ns.user if ns.user.startswith("@") else make_user_id(ns.user, self.server_name)
        parsed = parse_user_id(user_id)
        if parsed is None or parsed[1] != self.server_name:
            raise CommandError(f"{ns.user!r} is not a local user ID")
        count = await self.media.delete_user_media(user_id)
        return f"Deleted {count} media uploaded by {user_id}."

    async def delete_past_remote_media(self, ns: argparse.Namespace) -> str:
        older_than = parse_duration_ms(ns.duration)
        count = await self.media.delete_before(self.clock() - older_than)
        return f"Deleted {count} remote media cached more than {ns.duration} ago."

    def group(self) -> Group:
        return Group(
            "media",
            "Delete media from this server",
            (
                Command(
                    "media",
                    "delete",
                    "Delete one media (local, or a cached remote one) by its MXC URI",
                    self.delete,
                    (arg("--mxc", required=True, help="the media's mxc:// URI"),),
                    "!admin media delete --mxc mxc://example.org/abcdef",
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
                    "delete-past-remote-media",
                    "Delete cached remote media older than a duration (30s, 15m, 12h, 7d, 2w)",
                    self.delete_past_remote_media,
                    (arg("duration", help="how old: a number and s, m, h, d or w"),),
                    "!admin media delete-past-remote-media 7d",
                ),
            ),
        )
