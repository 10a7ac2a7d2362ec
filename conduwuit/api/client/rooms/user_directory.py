"""``POST /user_directory/search`` (client-server API "User directory")."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json, missing_param
from conduwuit.service.user_directory import UserDirectory


class UserDirectoryHandlers:
    def __init__(self, directory: UserDirectory) -> None:
        self.directory = directory

    async def search_users(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        term = body.get("search_term")
        if not isinstance(term, str):
            raise missing_param("Missing parameter: search_term")
        limit = body.get("limit", 10)
        if not isinstance(limit, int):
            raise bad_json("limit must be an integer")
        return web.json_response(self.directory.search(me(request), term, limit))

    def routes(self) -> list[Route]:
        return [
            Route(
                "POST", client_paths("/user_directory/search"), self.search_users, Auth.ACCESS_TOKEN
            )
        ]


def routes(directory: UserDirectory) -> list[Route]:
    return UserDirectoryHandlers(directory).routes()
