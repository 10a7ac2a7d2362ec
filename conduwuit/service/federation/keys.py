"""Other servers' signing keys: fetched, verified, cached (server-server API,
"Retrieving server keys").

A key document comes either from the server itself (``GET /_matrix/key/v2/server``)
or from a notary in ``trusted_servers`` (``POST /_matrix/key/v2/query``). Either way
it must name the server, be signed by the server with a key it lists (every
signature by a listed key must verify), and, from a notary, also carry the
notary's valid signature. Which source goes first follows conduwuit:
``only_query_trusted_key_servers`` asks notaries only, otherwise
``query_trusted_key_servers_first`` (``..._on_join`` for joins) picks the order and
the other source is the fallback.

Verified keys are merged into one record per server in the ``server_signingkeys``
map (keys from older documents stay known, each with the ``valid_until_ts`` of the
newest document that listed it), together with the newest document itself, which
this server serves again as a notary. Concurrent lookups of one server share one
fetch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from conduwuit.core.ids import ServerName
from conduwuit.core.signing import SignatureError, verify_signed_json
from conduwuit.service.clock import Clock
from conduwuit.service.federation.client import FederationError
from conduwuit.service.server_keys import ServerKeys

log = logging.getLogger(__name__)

#: Largest key document or notary answer read.
MAX_KEY_RESPONSE = 1024 * 1024


class KeyValueMap(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...


class Fetcher(Protocol):
    """What key fetching needs of the federation client."""

    async def request(
        self,
        server_name: str,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        content: Any = None,
        max_response: int = ...,
        sign: bool = True,
    ) -> Any: ...


@dataclass(frozen=True)
class KeySettings:
    trusted_servers: tuple[str, ...] = ()
    query_trusted_first: bool = True
    query_trusted_first_on_join: bool = True
    only_trusted: bool = False


@dataclass(frozen=True)
class VerifyKey:
    key: str
    #: Until when signatures by it are valid: ``valid_until_ts`` of a current key,
    #: ``expired_ts`` of an old one.
    valid_until_ts: int
    old: bool = False


class InvalidKeyDocument(ValueError):
    """A key document that is malformed or not signed as it must be."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def verified_keys(document: Any, server_name: str) -> dict[str, VerifyKey]:
    """The keys of a self-signed document of ``server_name``, or InvalidKeyDocument."""
    if not isinstance(document, dict) or document.get("server_name") != server_name:
        raise InvalidKeyDocument(f"not a key document of {server_name}")
    valid_until = _int(document.get("valid_until_ts"))
    verify_keys = document.get("verify_keys")
    if valid_until is None or not isinstance(verify_keys, dict) or not verify_keys:
        raise InvalidKeyDocument(f"key document of {server_name} lacks valid_until_ts/verify_keys")
    keys: dict[str, VerifyKey] = {}
    for key_id, value in verify_keys.items():
        if not isinstance(value, dict) or not isinstance(value.get("key"), str):
            raise InvalidKeyDocument(f"malformed verify key {key_id} of {server_name}")
        keys[key_id] = VerifyKey(value["key"], valid_until)
    signatures = document.get("signatures")
    own = signatures.get(server_name) if isinstance(signatures, dict) else None
    signed_by = [key_id for key_id in own or {} if key_id in keys]
    if not signed_by:
        raise InvalidKeyDocument(f"key document of {server_name} is not signed by its keys")
    try:
        for key_id in signed_by:
            verify_signed_json(document, server_name, key_id, keys[key_id].key)
    except SignatureError as exc:
        raise InvalidKeyDocument(str(exc)) from None
    old = document.get("old_verify_keys")
    for key_id, value in (old if isinstance(old, dict) else {}).items():
        if key_id in keys or not isinstance(value, dict):
            continue
        expired = _int(value.get("expired_ts"))
        if isinstance(value.get("key"), str) and expired is not None:
            keys[key_id] = VerifyKey(value["key"], expired, old=True)
    return keys


class RemoteKeys:
    def __init__(
        self,
        own: ServerKeys,
        store: KeyValueMap,
        fetcher: Fetcher,
        settings: KeySettings,
        clock: Clock,
    ) -> None:
        self._own = own
        self._store = store
        self._fetcher = fetcher
        self.settings = settings
        self._clock = clock
        self._inflight: dict[str, asyncio.Future[None]] = {}

    # -- the cache ------------------------------------------------------------------

    def _record(self, server_name: str) -> dict[str, Any]:
        raw = self._store.get(server_name.encode())
        return json.loads(raw) if raw is not None else {"keys": {}, "document": None}

    def cached(self, server_name: str) -> dict[str, VerifyKey]:
        if server_name == self._own.server_name:
            return self._own_keys()
        return {
            key_id: VerifyKey(v["key"], v["valid_until_ts"], v.get("old", False))
            for key_id, v in self._record(server_name)["keys"].items()
        }

    def cached_document(self, server_name: str) -> dict[str, Any] | None:
        document: dict[str, Any] | None = self._record(server_name)["document"]
        return document

    def _own_keys(self) -> dict[str, VerifyKey]:
        keys = {self._own.keypair.key_id: VerifyKey(self._own.keypair.public_key, 2**53 - 1)}
        for key_id, old in self._own.old_keys.items():
            keys[key_id] = VerifyKey(old.key, old.expired_ts, old=True)
        return keys

    def _store_document(self, server_name: str, document: dict[str, Any]) -> None:
        keys = verified_keys(document, server_name)
        record = self._record(server_name)
        merged: dict[str, Any] = dict(record["keys"])
        for key_id, key in keys.items():
            previous = merged.get(key_id)
            if previous is not None and previous["key"] != key.key:
                log.warning("%s changed the key of %s; keeping the newer", server_name, key_id)
            if key.old:
                # Retired: valid only for what it signed until expired_ts, whatever
                # an older document said.
                merged[key_id] = {"key": key.key, "valid_until_ts": key.valid_until_ts, "old": True}
            elif previous is None or (
                not previous.get("old") and previous["valid_until_ts"] <= key.valid_until_ts
            ):
                merged[key_id] = {"key": key.key, "valid_until_ts": key.valid_until_ts}
        newest = record["document"]
        if newest is None or newest["valid_until_ts"] <= document["valid_until_ts"]:
            newest = document
        self._store.put(
            server_name.encode(), json.dumps({"keys": merged, "document": newest}).encode()
        )

    # -- lookups --------------------------------------------------------------------

    async def key(
        self, server_name: str, key_id: str, *, valid_at: int | None = None, for_join: bool = False
    ) -> VerifyKey | None:
        """``key_id`` of ``server_name`` if it is valid at ``valid_at`` (default now),
        fetched when the cache does not have it so; None when no source has it."""
        at = self._clock() if valid_at is None else valid_at
        found = self.cached(server_name).get(key_id)
        if found is not None and found.valid_until_ts >= at:
            return found
        if server_name == self._own.server_name:
            return None
        await self.fetch(server_name, at, for_join=for_join)
        found = self.cached(server_name).get(key_id)
        return found if found is not None and found.valid_until_ts >= at else None

    async def fetch(
        self, server_name: str, minimum_valid_until_ts: int, *, for_join: bool = False
    ) -> None:
        """Fetch and store ``server_name``'s keys; concurrent callers share one fetch."""
        running = self._inflight.get(server_name)
        if running is not None:
            await asyncio.shield(running)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[server_name] = future
        try:
            await self._fetch(server_name, minimum_valid_until_ts, for_join)
        finally:
            del self._inflight[server_name]
            future.set_result(None)

    async def _fetch(self, server_name: str, minimum: int, for_join: bool) -> None:
        settings = self.settings
        notaries = [n for n in settings.trusted_servers if n != server_name]
        first = settings.query_trusted_first_on_join if for_join else settings.query_trusted_first
        order: list[str | None]
        if settings.only_trusted:
            order = list(notaries)
        elif first:
            order = [*notaries, None]
        else:
            order = [None, *notaries]
        for source in order:
            try:
                if source is None:
                    await self._fetch_direct(server_name)
                else:
                    await self._fetch_from_notary(source, server_name)
            except (FederationError, InvalidKeyDocument) as exc:
                log.info("keys of %s from %s: %s", server_name, source or "itself", exc)
                continue
            keys = self.cached(server_name)
            if any(not k.old and k.valid_until_ts >= minimum for k in keys.values()):
                return

    async def _fetch_direct(self, server_name: str) -> None:
        document = await self._fetcher.request(
            server_name, "GET", "/_matrix/key/v2/server", max_response=MAX_KEY_RESPONSE
        )
        self._store_document(server_name, document)

    async def _fetch_from_notary(self, notary: str, server_name: str) -> None:
        answer = await self._fetcher.request(
            notary,
            "POST",
            "/_matrix/key/v2/query",
            content={"server_keys": {server_name: {}}},
            max_response=MAX_KEY_RESPONSE,
        )
        documents = answer.get("server_keys") if isinstance(answer, dict) else None
        if not isinstance(documents, list):
            raise InvalidKeyDocument(f"notary {notary} answered without server_keys")
        for document in documents:
            if not isinstance(document, dict) or document.get("server_name") != server_name:
                continue
            await self._check_notary_signature(notary, document)
            self._store_document(server_name, document)

    async def _check_notary_signature(self, notary: str, document: dict[str, Any]) -> None:
        signatures = document.get("signatures")
        by_notary = signatures.get(notary) if isinstance(signatures, dict) else None
        if not isinstance(by_notary, dict) or not by_notary:
            raise InvalidKeyDocument(f"notary {notary} did not sign its answer")
        now = self._clock()
        for key_id in by_notary:
            key = self.cached(notary).get(key_id)
            if key is None or key.valid_until_ts < now:
                # The notary's own keys always come from the notary itself.
                await self._fetch_direct(notary)
                key = self.cached(notary).get(key_id)
            if key is None or key.valid_until_ts < now:
                raise InvalidKeyDocument(f"unknown key {key_id} of notary {notary}")
            try:
                verify_signed_json(document, notary, key_id, key.key)
            except SignatureError as exc:
                raise InvalidKeyDocument(f"notary {notary}: {exc}") from None

    # -- serving as a notary ----------------------------------------------------------

    async def notary_documents(
        self, server_name: str, minimum_valid_until_ts: int | None
    ) -> list[dict[str, Any]]:
        """The key documents of ``server_name`` this server vouches for, each
        additionally signed by us; fetched when the cache has none valid until
        ``minimum_valid_until_ts`` (default now); empty when nothing is known."""
        if server_name == self._own.server_name:
            return [self._own.key_document()]
        if not ServerName.is_valid(server_name):
            return []
        minimum = self._clock() if minimum_valid_until_ts is None else minimum_valid_until_ts
        document = self.cached_document(server_name)
        if document is None or document["valid_until_ts"] < minimum:
            try:
                await self.fetch(server_name, minimum)
            except FederationError:
                pass
            document = self.cached_document(server_name)
        return [] if document is None else [self._own.sign(document)]
