"""The ways an API call fails, as PVE's HTTP server reports them (reference 1.0).

Handlers raise these; the server turns them into PVE's JSON envelope. ``ParamError`` is
``raise_param_exc`` (HTTP 400 with an ``errors`` map), ``ApiFailure`` a plain ``die`` (HTTP 500
with the message).
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An HTTP error answer: status, message and optional ``errors`` map."""

    def __init__(self, status: int, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors) if errors else None


class ParamError(ApiError):
    """HTTP 400 "Parameter verification failed." with ``{param: message}``."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(400, "Parameter verification failed.", errors)


def param_error(param: str, message: str) -> ParamError:
    return ParamError({param: message})


class ApiFailure(ApiError):
    """HTTP 500: a handler's ``die "message\\n"``."""

    def __init__(self, message: str) -> None:
        super().__init__(500, message)


class Unauthorized(ApiError):
    def __init__(self, message: str = "No ticket") -> None:
        super().__init__(401, message)


class Forbidden(ApiError):
    def __init__(self, path: str, privilege: str) -> None:
        super().__init__(403, f"Permission check failed ({path}, {privilege})")


class NotImplementedRoute(ApiError):
    """PVE's answer for a path or method its API tree does not have."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(501, f"Method '{method} {path}' not implemented")


MODIFIED = "detected modified configuration - file changed by other user? Try again."
