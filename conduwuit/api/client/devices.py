"""Device management: list, show, rename, delete (client-server API, "Device management")."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import StrictStr

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.core.errors import not_found
from conduwuit.service.devices import Devices
from conduwuit.service.uiaa import PASSWORD, Uiaa


class UpdateDeviceBody(WireModel):
    display_name: StrictStr | None = None


class DeleteDeviceBody(WireModel):
    auth: dict[str, Any] | None = None


class DeleteDevicesBody(WireModel):
    devices: list[StrictStr]
    auth: dict[str, Any] | None = None


class DevicesHandlers:
    def __init__(self, devices: Devices, uiaa: Uiaa) -> None:
        self.devices = devices
        self.uiaa = uiaa

    async def list_devices(self, request: web.Request) -> web.Response:
        who = requester(request)
        listed = [d.to_json() for d in self.devices.list_devices(who.user_id)]
        return web.json_response({"devices": listed})

    async def get_device(self, request: web.Request) -> web.Response:
        who = requester(request)
        device = self.devices.get(who.user_id, request.match_info["device_id"])
        if device is None:
            raise not_found("Unknown device.")
        return web.json_response(device.to_json())

    async def update_device(self, request: web.Request) -> web.Response:
        who = requester(request)
        body = await parse_body(request, UpdateDeviceBody)
        device_id = request.match_info["device_id"]
        if "display_name" in body.model_fields_set:
            found = self.devices.set_display_name(who.user_id, device_id, body.display_name)
        else:
            found = self.devices.get(who.user_id, device_id) is not None
        if not found:
            if who.appservice_id is None:
                raise not_found("Unknown device.")
            # Spec v1.17 (MSC4190): an application service creates its users' devices.
            self.devices.create_device(who.user_id, device_id, body.display_name)
            return web.json_response({}, status=201)
        return web.json_response({})

    async def delete_device(self, request: web.Request) -> web.Response:
        who = requester(request)
        body = await parse_body(request, DeleteDeviceBody)
        if who.appservice_id is None:  # no user-interactive auth for appservices (v1.17)
            await self.uiaa.authenticate(body.auth, [[PASSWORD]], user_id=who.user_id)
        # "removed, or had been removed previously": unknown devices are fine too.
        self.devices.delete(who.user_id, [request.match_info["device_id"]])
        return web.json_response({})

    async def delete_devices(self, request: web.Request) -> web.Response:
        who = requester(request)
        body = await parse_body(request, DeleteDevicesBody)
        if who.appservice_id is None:  # no user-interactive auth for appservices (v1.17)
            await self.uiaa.authenticate(body.auth, [[PASSWORD]], user_id=who.user_id)
        self.devices.delete(who.user_id, list(body.devices))
        return web.json_response({})

    def routes(self) -> list[Route]:
        one = client_paths("/devices/{device_id}")
        return [
            Route(
                "GET",
                client_paths("/devices"),
                self.list_devices,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
            Route("GET", one, self.get_device, Auth.ACCESS_TOKEN, allow_guests=True),
            Route("PUT", one, self.update_device, Auth.ACCESS_TOKEN, allow_guests=True),
            Route("DELETE", one, self.delete_device, Auth.ACCESS_TOKEN),
            Route("POST", client_paths("/delete_devices"), self.delete_devices, Auth.ACCESS_TOKEN),
        ]


def routes(devices: Devices, uiaa: Uiaa) -> list[Route]:
    return DevicesHandlers(devices, uiaa).routes()
