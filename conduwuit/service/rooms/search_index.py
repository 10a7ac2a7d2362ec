"""The word index behind ``POST /search`` (conduwuit's ``tokenids``): the words of
``content.body``, ``content.name`` and ``content.topic``, lowercased, each a key
``shortroomid + word + 0xFF + pduid``. A query is one prefix scan per word and
room, never a scan of the timeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import SEP, u64

SEARCH_KEYS = {"content.body": "body", "content.name": "name", "content.topic": "topic"}
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORD_BYTES = 50


def words(text: str) -> set[str]:
    return {
        w for w in (m.lower() for m in _WORD.findall(text)) if len(w.encode()) <= MAX_WORD_BYTES
    }


def event_words(pdu: Mapping[str, Any], keys: Iterable[str] = SEARCH_KEYS) -> set[str]:
    content = pdu.get("content")
    if not isinstance(content, dict):
        return set()
    out: set[str] = set()
    for key in keys:
        value = content.get(SEARCH_KEYS.get(key, ""))
        if isinstance(value, str):
            out |= words(value)
    return out


class SearchIndex:
    def __init__(self, db: Database) -> None:
        self._tokens = db.map(MAPS.tokenids)

    @staticmethod
    def _key(shortroomid: int, word: str, pdu_id: bytes) -> bytes:
        return u64(shortroomid) + word.encode() + SEP + pdu_id

    def index(self, batch: Batch, shortroomid: int, pdu_id: bytes, pdu: Mapping[str, Any]) -> None:
        for word in event_words(pdu):
            batch.put(self._tokens, self._key(shortroomid, word, pdu_id), b"")

    def unindex(
        self, batch: Batch, shortroomid: int, pdu_id: bytes, pdu: Mapping[str, Any]
    ) -> None:
        for word in event_words(pdu):
            batch.delete(self._tokens, self._key(shortroomid, word, pdu_id))

    def matches(self, shortroomid: int, word: str) -> set[bytes]:
        """pduids of a room's events containing ``word``."""
        start = u64(shortroomid) + word.encode() + SEP
        return {k[len(start) :] for k, _ in self._tokens.iter_prefix(start)}
