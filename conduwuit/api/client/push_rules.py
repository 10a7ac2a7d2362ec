"""Push rules API: /pushrules/ (client-server API "Push Rules: API", pushrules.yaml).

Only the ``global`` scope exists; any other scope is an unknown endpoint
(M_UNRECOGNIZED, like Synapse). Refusals: 400 M_INVALID_PARAM for an unknown
kind, a reserved or malformed rule ID, or before/after naming an unknown or
server-default rule; 404 M_NOT_FOUND for an unknown rule; 400 M_BAD_JSON for a
bad body. A refused request writes nothing.
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import canonical_body
from conduwuit.core.errors import not_found
from conduwuit.core.push.rules import check_kind, render_view
from conduwuit.service.push import PushRules


class PushRuleHandlers:
    def __init__(self, push_rules: PushRules) -> None:
        self._rules = push_rules

    async def get_all(self, request: web.Request) -> web.Response:
        user_id = requester(request).user_id
        return web.json_response({"global": self._rules.render(user_id)})

    async def get_global(self, request: web.Request) -> web.Response:
        return web.json_response(self._rules.render(requester(request).user_id))

    async def get_rule(self, request: web.Request) -> web.Response:
        if request.match_info["kind"] not in self._rules.kinds:
            # A kind this server does not have (e.g. MSC4306's postcontent while
            # thread_subscription_push_rules is off) holds no rules: 404, which is how
            # clients and Complement's thread tests probe for a rule before changing
            # it; changes to such a kind stay 400.
            raise not_found("The push rule was not found.")
        user_id, kind, rule_id = self._target(request)
        view = self._rules.ruleset(user_id).find(kind, rule_id)
        return web.json_response(render_view(view, user_id))

    async def put_rule(self, request: web.Request) -> web.Response:
        user_id, kind, rule_id = self._target(request)
        body = await canonical_body(request)
        before, after = request.query.get("before"), request.query.get("after")
        self._rules.put_rule(user_id, kind, rule_id, body, before, after)
        return web.json_response({})

    async def delete_rule(self, request: web.Request) -> web.Response:
        user_id, kind, rule_id = self._target(request)
        self._rules.delete_rule(user_id, kind, rule_id)
        return web.json_response({})

    async def get_enabled(self, request: web.Request) -> web.Response:
        user_id, kind, rule_id = self._target(request)
        view = self._rules.ruleset(user_id).find(kind, rule_id)
        return web.json_response({"enabled": view.enabled})

    async def put_enabled(self, request: web.Request) -> web.Response:
        user_id, kind, rule_id = self._target(request)
        body = await canonical_body(request)
        self._rules.set_enabled(user_id, kind, rule_id, body.get("enabled"))
        return web.json_response({})

    async def get_actions(self, request: web.Request) -> web.Response:
        user_id, kind, rule_id = self._target(request)
        view = self._rules.ruleset(user_id).find(kind, rule_id)
        return web.json_response({"actions": view.actions})

    async def put_actions(self, request: web.Request) -> web.Response:
        user_id, kind, rule_id = self._target(request)
        body = await canonical_body(request)
        self._rules.set_actions(user_id, kind, rule_id, body.get("actions"))
        return web.json_response({})

    def _target(self, request: web.Request) -> tuple[str, str, str]:
        """The caller, and the kind (checked) and rule ID of the path."""
        kind = check_kind(request.match_info["kind"], self._rules.kinds)
        return requester(request).user_id, kind, request.match_info["rule_id"]

    def routes(self) -> list[Route]:
        rule = "/pushrules/global/{kind}/{rule_id}"
        token = Auth.ACCESS_TOKEN
        return [
            Route(
                "GET", client_paths("/pushrules/") + client_paths("/pushrules"), self.get_all, token
            ),
            Route(
                "GET",
                client_paths("/pushrules/global/") + client_paths("/pushrules/global"),
                self.get_global,
                token,
            ),
            Route("GET", client_paths(rule), self.get_rule, token),
            Route("PUT", client_paths(rule), self.put_rule, token),
            Route("DELETE", client_paths(rule), self.delete_rule, token),
            Route("GET", client_paths(f"{rule}/enabled"), self.get_enabled, token),
            Route("PUT", client_paths(f"{rule}/enabled"), self.put_enabled, token),
            Route("GET", client_paths(f"{rule}/actions"), self.get_actions, token),
            Route("PUT", client_paths(f"{rule}/actions"), self.put_actions, token),
        ]
