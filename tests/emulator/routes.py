"""The API tree: endpoints (path template, method, parameters, handler) and path matching."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .context import Call
from .errors import NotImplementedRoute
from .schema import Param


@dataclass(frozen=True)
class Result:
    """A handler's answer when it carries more than ``data`` (the log's ``total``)."""

    data: Any
    extra: Mapping[str, Any] = field(default_factory=dict)


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Permission:
    """What a write needs (for the 403 of read-only tokens): ACL path template and privilege."""

    path: str
    privilege: str

    def describe(self, params: Mapping[str, Any]) -> tuple[str, str]:
        return self.path.format(**params), self.privilege


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    name: str
    params: Mapping[str, Param]
    handler: Handler
    description: str = ""
    permission: Permission | None = None  # None: open to every authenticated user
    needs_auth: bool = True
    proxyto: str | None = None

    @property
    def protected(self) -> bool:
        return self.method != "GET"

    def as_schema(self) -> dict[str, object]:
        """This endpoint in the api-viewer's shape (``info.<METHOD>`` of a path)."""
        return {
            "method": self.method,
            "name": self.name,
            "description": self.description,
            "parameters": {"additionalProperties": 0, "properties": {name: param.as_schema() for name, param in self.params.items()}},
            **({"protected": 1} if self.protected else {}),
            **({"proxyto": self.proxyto} if self.proxyto else {}),
        }


def _compile(template: str) -> re.Pattern[str]:
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{(\w+)\})?", template):
        pattern += re.escape(literal)
        if name:
            # an ipset entry's {cidr} keeps its '/' (PVE: fragmentDelimiter '')
            pattern += rf"(?P<{name}>.+)" if name == "cidr" else rf"(?P<{name}>[^/]+)"
    return re.compile(pattern)


class Router:
    def __init__(self, endpoints: Iterable[Endpoint]) -> None:
        self.endpoints: tuple[Endpoint, ...] = tuple(endpoints)
        self._by_path: dict[str, dict[str, Endpoint]] = {}
        for endpoint in self.endpoints:
            methods = self._by_path.setdefault(endpoint.path, {})
            if endpoint.method in methods:
                raise ValueError(f"duplicate endpoint {endpoint.method} {endpoint.path}")
            methods[endpoint.method] = endpoint
        # longest literal prefix first, so /ipset/{name} never swallows /ipset/{name}/{cidr}
        self._patterns = sorted(((path, _compile(path)) for path in self._by_path), key=lambda item: -item[0].count("/"))

    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
        trimmed = path.rstrip("/") or "/"
        for template, pattern in self._patterns:
            found = pattern.fullmatch(trimmed)
            if found is None:
                continue
            endpoint = self._by_path[template].get(method)
            if endpoint is None:
                break
            return endpoint, {name: unquote(value) for name, value in found.groupdict().items()}
        raise NotImplementedRoute(method, path)

    def schema(self) -> list[dict[str, object]]:
        """Every path with its methods, like the api-viewer's flattened tree."""
        return [
            {"path": path, "info": {method: endpoint.as_schema() for method, endpoint in sorted(methods.items())}}
            for path, methods in sorted(self._by_path.items())
        ]
