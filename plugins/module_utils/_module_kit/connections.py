"""The option ``parallel`` of the modules that read (and write) several files at once: its
argument spec, its check, and the pool of connections it bounds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._api.parallel import MAX_CONNECTIONS, ConnectionPool
from .._api.service import FirewallApi
from .._model.errors import FieldError

PARALLEL_ARG: dict[str, Any] = {"type": "int", "default": 4}


def parallel_problems(params: dict[str, Any]) -> list[FieldError]:
    """The error of a ``parallel`` this module cannot open, named before any request."""
    parallel = params["parallel"]
    if 1 <= parallel <= MAX_CONNECTIONS:
        return []
    return [FieldError("parallel", "parallel", parallel, "not a number of connections this module opens", f"1 to {MAX_CONNECTIONS}")]


@contextmanager
def connection_pool(api: FirewallApi, params: dict[str, Any]) -> Iterator[ConnectionPool]:
    """A pool of up to ``parallel`` connections around ``api``; the ones it opened are closed after."""
    pool = ConnectionPool(api, int(params["parallel"]))
    try:
        yield pool
    finally:
        pool.close()
