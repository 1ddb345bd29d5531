"""One API call from raw request to PVE's JSON envelope, independent of the transport.

Order as in PVE's server: authentication (401), route (501), CSRF and privileges of writes
(401/403), schema validation of every parameter (400), then the handler (400/500 from it).
Success is ``{"data": ...}`` (plus ``total`` for logs); an error is ``{"data": null,
"message": "...\\n", "errors": {...}}`` with the message also as the HTTP reason phrase.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .auth import Auth
from .context import Call, ClusterContext
from .endpoints import TICKET_PARAMS
from .errors import ApiError, Forbidden, NotImplementedRoute, Unauthorized
from .routes import Result, Router
from .schema import validate


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # below /api2/json
    params: Mapping[str, object]
    headers: Mapping[str, str]
    node: str = ""  # the node whose listener took the request


@dataclass(frozen=True)
class ApiResponse:
    status: int
    reason: str
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


def error_response(error: ApiError) -> ApiResponse:
    body: dict[str, Any] = {"data": None, "message": error.message + "\n"}
    if error.errors:
        body["errors"] = error.errors
    return ApiResponse(error.status, error.message.replace("\n", " "), body)


class Dispatcher:
    def __init__(self, router: Router, ctx: ClusterContext, auth: Auth) -> None:
        self.router = router
        self.ctx = ctx
        self.auth = auth

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            return self._handle(request)
        except ApiError as error:
            return error_response(error)
        except Exception as error:  # a handler bug must still answer, like PVE's 500
            traceback.print_exc(file=sys.stderr)
            return error_response(ApiError(500, f"internal error: {error}"))

    def _handle(self, request: ApiRequest) -> ApiResponse:
        if request.path.rstrip("/") == "/access/ticket":
            return self._ticket(request)
        identity = self.auth.identify(request.headers)
        endpoint, path_params = self.router.match(request.method, request.path)
        params = {**request.params, **path_params}
        if endpoint.protected:
            if identity.by_ticket and not identity.csrf_ok:
                raise Unauthorized("Permission denied - invalid csrf token")
            if identity.read_only and endpoint.permission is not None:
                raise Forbidden(*endpoint.permission.describe(self._acl_fields(params)))
        values = validate(endpoint.params, params)
        result = endpoint.handler(Call(self.ctx, values, identity.user, request.node))
        if isinstance(result, Result):
            return ApiResponse(200, "OK", {"data": result.data, **result.extra})
        return ApiResponse(200, "OK", {"data": result})

    def _acl_fields(self, params: Mapping[str, object]) -> dict[str, object]:
        fields = dict(params)
        vnet = self.ctx.topology.vnets.get(str(params.get("vnet", "")))
        fields["zone"] = vnet.zone if vnet else "unknown"
        return fields

    def _ticket(self, request: ApiRequest) -> ApiResponse:
        if request.method == "GET":  # PVE's dummy GET, so that a browser can test the URL
            return ApiResponse(200, "OK", {"data": None})
        if request.method != "POST":
            raise NotImplementedRoute(request.method, request.path)
        values = validate(TICKET_PARAMS, request.params)
        answer = self.auth.login(values["username"], values["password"], values.get("realm"))
        return ApiResponse(200, "OK", {"data": answer})
