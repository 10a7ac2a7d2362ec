"""``POST /search`` (client-server API "Server Side Search"): room events only."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json, missing_param
from conduwuit.service.rooms.search import Search


class SearchHandlers:
    def __init__(self, search: Search) -> None:
        self.search = search

    async def post_search(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        categories = body.get("search_categories")
        if not isinstance(categories, dict):
            raise missing_param("Missing parameter: search_categories")
        criteria = categories.get("room_events")
        if criteria is None:
            return web.json_response({"search_categories": {}})
        if not isinstance(criteria, dict):
            raise bad_json("room_events must be an object")
        result = self.search.search(me(request), criteria, request.query.get("next_batch"))
        return web.json_response(result)

    def routes(self) -> list[Route]:
        return [Route("POST", client_paths("/search"), self.post_search, Auth.ACCESS_TOKEN)]


def routes(search: Search) -> list[Route]:
    return SearchHandlers(search).routes()
