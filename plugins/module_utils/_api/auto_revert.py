"""Enabling the datacenter firewall through PVE's auto-revert (reference 5.4): store a
timestamp as ``enable``, prove access over a new connection, then confirm with 1; if the proof
fails, PVE switches the firewall off again within about 60 seconds by itself.

Apart from the lockout analysis (``access_guard``), so that the modules that write ``enable``
import the verdict engine only when they judge a change.
"""

from __future__ import annotations

from typing import Any

from .._compiler.api_mapping import ApiCall
from .._model.errors import PveFirewallError
from .service import FirewallApi
from .transport import PveApiError, PveTransport

AUTO_REVERT_ENABLE = 2  # any value > 1 makes PVE store a timestamp and revert after 60 s


class AccessLost(PveFirewallError):
    """Access failed right after the firewall was enabled with auto-revert."""

    def result_details(self) -> dict[str, Any]:
        return {"changed": True}  # the enable was written, and PVE reverts it


def enable_with_auto_revert(api: FirewallApi, call: ApiCall, digest: str | None) -> list[ApiCall]:
    """PUT with ``enable`` as a timestamp, prove access over a new connection, confirm with 1.

    Returns the calls made. If the proof fails, nothing more is sent: PVE reverts by itself.
    """
    first = ApiCall(call.method, call.path, {**call.params, "enable": AUTO_REVERT_ENABLE})
    api.send(first, digest)
    probe = PveTransport(api.transport.settings)
    try:
        probe.request("GET", call.path)
        confirm = ApiCall("PUT", call.path, {"enable": 1})
        FirewallApi(probe).send(confirm)
    except PveApiError as error:
        raise AccessLost(
            f"the firewall was enabled with auto-revert, but a new connection then failed ({error}); "
            "PVE switches the firewall off again within about 60 seconds"
        ) from None
    finally:
        probe.close()
    return [first, confirm]
