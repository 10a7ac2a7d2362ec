"""The media an event refers to, as Synapse's room media admin API finds it
(``_get_media_mxcs_in_room_txn``): events whose ``content.url`` is a string (Synapse's
``contains_url``), their ``url`` and ``info.thumbnail_url`` when each is an MXC URI.
Encrypted events refer to nothing readable here, so their media is not found (as in
Synapse, whose docs say so)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conduwuit.core.ids import MxcUri


def media_refs(content: Any) -> list[MxcUri]:
    """The MXC URIs an event's content refers to: its ``url``, then its
    ``info.thumbnail_url``; nothing unless ``url`` is a string. Values that are not
    valid MXC URIs are skipped."""
    if not isinstance(content, Mapping) or not isinstance(content.get("url"), str):
        return []
    info = content.get("info")
    candidates = [content["url"], info.get("thumbnail_url") if isinstance(info, Mapping) else None]
    found = []
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        try:
            found.append(MxcUri.parse(candidate))
        except ValueError:
            continue
    return found
