"""Device and cross-signing keys (client-server API, "End-to-End Encryption").

POST /keys/upload, /keys/query, /keys/claim, GET /keys/changes,
POST /keys/device_signing/upload (UIA) and /keys/signatures/upload.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field, StrictInt, StrictStr

from conduwuit.api.client.e2ee_common import (
    PositionOf,
    RequesterOf,
    UiaGate,
    check_user_ids,
    plain_position,
)
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, json_body, parse, parse_body
from conduwuit.core.errors import ErrCode, MatrixError, missing_param
from conduwuit.service.e2ee import E2ee

#: Element and older clients still call the cross-signing endpoints under unstable.
WITH_UNSTABLE = ("r0", "v3", "unstable")


class UploadBody(WireModel):
    device_keys: dict[str, Any] | None = None
    one_time_keys: dict[str, Any] | None = None
    fallback_keys: dict[str, Any] | None = None
    # MSC2732's unstable name, which older clients still send.
    unstable_fallback_keys: dict[str, Any] | None = Field(
        None, alias="org.matrix.msc2732.fallback_keys"
    )


class QueryBody(WireModel):
    device_keys: dict[StrictStr, list[StrictStr]]
    timeout: StrictInt | None = None


class ClaimBody(WireModel):
    one_time_keys: dict[StrictStr, dict[StrictStr, StrictStr]]
    timeout: StrictInt | None = None


class KeysHandlers:
    def __init__(
        self,
        e2ee: E2ee,
        *,
        requester: RequesterOf,
        uia: UiaGate,
        position_of: PositionOf = plain_position,
    ) -> None:
        self.e2ee = e2ee
        self.requester = requester
        self.uia = uia
        self.position_of = position_of

    async def upload(self, request: web.Request) -> web.Response:
        who = self.requester(request)
        if not who.device_id:
            # An application service acting without ?device_id= (spec v1.17): Synapse's
            # answer, as the spec names no errcode.
            raise MatrixError(
                ErrCode.UNKNOWN,
                "To upload keys, you must pass device_id when authenticating.",
                status=400,
            )
        body = await parse_body(request, UploadBody)
        fallback = (
            body.fallback_keys if body.fallback_keys is not None else body.unstable_fallback_keys
        )
        counts = self.e2ee.device_keys.upload(
            who.user_id,
            who.device_id,
            device_keys=body.device_keys,
            one_time_keys=body.one_time_keys,
            fallback_keys=fallback,
        )
        return web.json_response({"one_time_key_counts": counts})

    async def query(self, request: web.Request) -> web.Response:
        who = self.requester(request)
        body = await parse_body(request, QueryBody)
        check_user_ids(body.device_keys)
        wanted = dict(body.device_keys)
        return web.json_response(await self.e2ee.query_all(who.user_id, wanted, body.timeout))

    async def claim(self, request: web.Request) -> web.Response:
        self.requester(request)
        body = await parse_body(request, ClaimBody)
        check_user_ids(body.one_time_keys)
        wanted = {u: dict(devices) for u, devices in body.one_time_keys.items()}
        return web.json_response(await self.e2ee.claim_all(wanted, body.timeout))

    async def changes(self, request: web.Request) -> web.Response:
        who = self.requester(request)
        raw_from = request.query.get("from")
        if raw_from is None:
            raise missing_param("Missing parameter: from")
        since = self.position_of(raw_from)
        raw_to = request.query.get("to")
        until = self.position_of(raw_to) if raw_to else None
        return web.json_response(
            self.e2ee.device_lists.changes(who.user_id, since, until).to_json()
        )

    async def device_signing_upload(self, request: web.Request) -> web.Response:
        who = self.requester(request)
        body = await json_body(request)
        auth = body.get("auth")
        if self.e2ee.cross_signing.requires_uia(who.user_id, body):
            await self.uia(auth if isinstance(auth, dict) else None, who.user_id)
        self.e2ee.cross_signing.upload(who.user_id, body)
        return web.json_response({})

    async def signatures_upload(self, request: web.Request) -> web.Response:
        who = self.requester(request)
        body = parse(_SignedKeys, await json_body(request))
        check_user_ids(body.model_extra or {})
        failures = self.e2ee.cross_signing.upload_signatures(who.user_id, body.model_extra or {})
        return web.json_response({"failures": failures})

    def routes(self) -> list[Route]:
        # Guests may use the device-key endpoints and to-device, as in Synapse (guests
        # can join encrypted rooms); cross-signing and backups are for full accounts.
        return [
            Route(
                "POST",
                client_paths("/keys/upload"),
                self.upload,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
                max_body=None,
            ),
            Route(
                "POST",
                client_paths("/keys/query"),
                self.query,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
                max_body=None,
            ),
            Route(
                "POST",
                client_paths("/keys/claim"),
                self.claim,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
                max_body=None,
            ),
            Route(
                "GET",
                client_paths("/keys/changes"),
                self.changes,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
            Route(
                "POST",
                client_paths("/keys/device_signing/upload", versions=WITH_UNSTABLE),
                self.device_signing_upload,
                Auth.ACCESS_TOKEN,
            ),
            Route(
                "POST",
                client_paths("/keys/signatures/upload", versions=WITH_UNSTABLE),
                self.signatures_upload,
                Auth.ACCESS_TOKEN,
                max_body=None,
            ),
        ]


def routes(
    e2ee: E2ee,
    *,
    requester: RequesterOf,
    uia: UiaGate,
    position_of: PositionOf = plain_position,
) -> list[Route]:
    return KeysHandlers(e2ee, requester=requester, uia=uia, position_of=position_of).routes()


class _SignedKeys(WireModel):
    """``{user_id: {key_id: signed object}}``: every field is a user."""

    __pydantic_extra__: dict[str, dict[StrictStr, dict[str, Any]]]
