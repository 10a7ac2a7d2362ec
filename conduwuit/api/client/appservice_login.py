"""The ``m.login.application_service`` type of /register and /login (Application
Service API, "Server admin style permissions"): the request carries the service's
``as_token`` and names a user the service may act as."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import access_token
from conduwuit.core.appservice import AppserviceRegistration, NamespaceKind
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.appservice.registry import Appservices

LOGIN_APPSERVICE = "m.login.application_service"


def calling_appservice(request: web.Request, appservices: Appservices) -> AppserviceRegistration:
    """The application service whose as_token the request carries: 401
    M_MISSING_TOKEN / M_UNKNOWN_TOKEN otherwise, as the spec asks."""
    token = access_token(request)
    if token is None:
        raise MatrixError(ErrCode.MISSING_TOKEN, "Missing application service token.")
    reg = appservices.by_as_token(token)
    if reg is None:
        raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Unknown application service token.")
    return reg


def check_acts_as(reg: AppserviceRegistration, user_id: str, server_name: str) -> None:
    """M_EXCLUSIVE unless ``user_id`` is the service's sender or in its namespace."""
    if not reg.is_user_of(user_id, server_name):
        raise MatrixError(
            ErrCode.EXCLUSIVE, f"{user_id} is not in the namespace of appservice {reg.id}."
        )


def check_not_exclusive(appservices: Appservices, user_id: str) -> None:
    """M_EXCLUSIVE if an application service claims ``user_id`` exclusively (for
    users other than that service)."""
    owner = appservices.exclusive_owner(NamespaceKind.USERS, user_id)
    if owner is not None:
        raise MatrixError(ErrCode.EXCLUSIVE, "This user ID is reserved by an application service.")
