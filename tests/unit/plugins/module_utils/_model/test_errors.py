"""Every exception the collection defines derives from PveFirewallError, and says what it adds
to a module's failure result."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from ansible_collections.pve.firewall.plugins import module_utils
from ansible_collections.pve.firewall.plugins.module_utils._api.sync import SyncError
from ansible_collections.pve.firewall.plugins.module_utils._api.transport import PveApiError
from ansible_collections.pve.firewall.plugins.module_utils._compiler.api_mapping import ApiCall
from ansible_collections.pve.firewall.plugins.module_utils._model.errors import FieldError, FirewallValidationError, PveFirewallError


def _collection_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(module_utils.__path__, module_utils.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return [found[key] for key in sorted(found)]


EXCEPTIONS = _collection_exceptions()


def test_the_collection_defines_exceptions_in_several_layers() -> None:
    layers = {cls.__module__.split(".")[5] for cls in EXCEPTIONS}
    assert {"_model", "_compiler", "_engine", "_api", "_module_kit"} <= layers, layers


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda cls: f"{cls.__module__.rsplit('.', 2)[-2]}.{cls.__name__}")
def test_every_exception_derives_from_the_base(cls: type[BaseException]) -> None:
    assert issubclass(cls, PveFirewallError)


def test_result_details_carry_what_each_failure_needs() -> None:
    error = FirewallValidationError([FieldError("rules[0]", "dport", "x", "invalid port", "1-65535")])
    assert error.result_details() == {"errors": [{"location": "rules[0]", "field": "dport", "value": "x", "message": "invalid port", "accepted": "1-65535"}]}
    api_error = PveApiError("PUT", "/cluster/firewall/options", 400, "Parameter verification failed.", {"policy_in": "bad\n"})
    assert api_error.result_details() == {"status": 400, "api_errors": {"policy_in": "bad"}}
    done = (ApiCall("POST", "/cluster/firewall/rules", {"type": "in"}),)
    assert SyncError("gone", done).result_details() == {"commands": ["POST /cluster/firewall/rules type=in"]}


def test_a_sync_failure_names_the_earlier_writes_once() -> None:
    first = ApiCall("PUT", "/cluster/firewall/options", {"enable": 1})
    later = ApiCall("PUT", "/nodes/pve1/qemu/100/config", {"net0": "x"})
    error = SyncError("conflict", (later,)).following((first,))
    assert error.done == (first, later)
    assert str(error) == "conflict (after 2 successful writes; a rerun converges from here)"
    alone = SyncError("conflict")
    assert alone.following(()) is alone
