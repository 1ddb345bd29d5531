"""The emulator serves PVE's firewall API tree as the reference schema describes it.

Walks ``../shared/reference/pve-api-firewall-schema.json`` (skipped when absent): every path
and method is served, every parameter has the same type, optionality, format, pattern,
bounds, enum and default; then each constraint is probed over HTTP with a value that breaks
it, and the 400 answer must carry PVE's message for it. Return shapes of the list endpoints
are checked against the schema's item properties.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator

# Concrete values that pass the schema, for the path of each probe.
PATH_VALUES = {"node": "pve1", "vnet": "vnet1", "group": "grp", "name": "probe", "pos": "0", "cidr": "10.0.0.1"}
# Keys PVE returns that its return schemas leave out (reference 1.2 and 1.5): digest and pos
# of every list, errors of invalid rules and entries, ipversion of aliases.
UNDOCUMENTED_KEYS = {"digest", "pos", "errors", "ipversion"}


Case = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def cases(shared_dir: Path) -> list[Case]:
    """(path, method, info) of every endpoint of the reference schema."""
    schema = json.loads((shared_dir / "reference" / "pve-api-firewall-schema.json").read_text())
    return [(endpoint["path"], method, info) for endpoint in schema["endpoints"] for method, info in sorted(endpoint["info"].items())]


def _concrete(path: str, **override: str) -> str:
    """The path with schema-valid values (``override`` replaces some)."""
    values = {**PATH_VALUES, "vmid": "200" if "/lxc/" in path else "100", **override}
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def _path_params(path: str) -> set[str]:
    return {part[1:-1] for part in path.split("/") if part.startswith("{")}


@pytest.fixture(scope="module")
def served(pve_emulator: RunningEmulator) -> dict[str, dict[str, Any]]:
    return {entry["path"]: entry["info"] for entry in pve_emulator.control.schema()}


# -- the table --------------------------------------------------------------------------------

FACTS = ("type", "format", "pattern", "maxLength", "minLength", "minimum", "maximum", "enum")


def _facts(param: Mapping[str, Any]) -> dict[str, Any]:
    facts = {key: param[key] for key in FACTS if key in param}
    facts["optional"] = bool(param.get("optional", 0))
    if "default" in param:
        facts["default"] = str(param["default"])  # the schema mixes 1 and "1"
    if isinstance(facts.get("format"), Mapping):
        facts["format"] = {key: _facts(value) for key, value in facts["format"].items()}
    return facts


def test_every_reference_path_and_method_is_served(served: dict[str, dict[str, Any]], cases: list[Case]) -> None:
    missing = [f"{method} {path}" for path, method, _facts in cases if method not in served.get(path, {})]
    assert not missing
    assert len({case[0] for case in cases}) == 45


def test_every_parameter_has_the_reference_facts(served: dict[str, dict[str, Any]], cases: list[Case]) -> None:
    problems = []
    for path, method, info in cases:
        expected = info["parameters"].get("properties", {})
        actual = served[path][method]["parameters"]["properties"]
        if set(expected) != set(actual):
            problems.append(f"{method} {path}: parameters {sorted(set(expected) ^ set(actual))} differ")
            continue
        for name, param in expected.items():
            if _facts(param) != _facts(actual[name]):
                problems.append(f"{method} {path} {name}: {_facts(param)} != {_facts(actual[name])}")
    assert not problems, "\n".join(problems)


def test_names_and_proxying_follow_the_reference(served: dict[str, dict[str, Any]], cases: list[Case]) -> None:
    for path, method, info in cases:
        assert served[path][method]["name"] == info["name"], f"{method} {path}"
        assert served[path][method].get("proxyto") == info.get("proxyto"), f"{method} {path}"


# -- probes over HTTP -------------------------------------------------------------------------

# A value each format rejects, and the start of PVE's message for it.
BAD_FORMAT_VALUES = {
    "pve-fw-addr-spec": ("10.0.0.300", "invalid format - invalid IP address"),
    "pve-fw-dport-spec": ("70000", "invalid format - invalid port '70000'"),
    "pve-fw-sport-spec": ("echo-request", "invalid format - invalid port 'echo-request'"),
    "pve-fw-protocol-spec": ("nosuchproto", "invalid format - unknown protocol 'nosuchproto'"),
    "pve-fw-icmp-type-spec": ("no-such-type", "invalid format - invalid icmp-type value 'no-such-type'"),
    "pve-iface": ("eth-0", "invalid format - invalid network interface name 'eth-0'"),
    "IPorCIDR": ("10.0.0.300", "invalid format - value does not look like a valid IP address or CIDR network"),
    "IPorCIDRorAlias": ("10.0.0.300", "invalid format - value does not look like a valid IP address or CIDR network"),
    "pve-configid-list": ("1bad", "invalid format - invalid configuration ID '1bad'"),
    "pve-node": ("-node", "invalid format - value does not look like a valid node name"),
    "pve-vmid": ("0100", "invalid format - value does not look like a valid VM ID"),
    "pve-sdn-vnet-id": ("1vnet", "invalid format - vnet ID '1vnet' contains illegal characters"),
    "pve-fw-conntrack-helper": ("gopher", "invalid format - unknown helper gopher"),
}


def _probes(name: str, param: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(bad value, expected message start) for each constraint the reference gives."""
    kind = param.get("type")
    if kind == "integer":
        yield "abc", "type check ('integer') failed - got 'abc'"
        # a format (pve-vmid) is checked before the bounds, so it answers first
        if "minimum" in param and "format" not in param:
            yield str(param["minimum"] - 1), f"value must have a minimum value of {param['minimum']}"
        if "maximum" in param and "format" not in param:
            yield str(param["maximum"] + 1), f"value must have a maximum value of {param['maximum']}"
    elif kind == "boolean":
        yield "maybe", "type check ('boolean') failed - got 'maybe'"
    fmt = param.get("format")
    if isinstance(fmt, str):
        yield BAD_FORMAT_VALUES[fmt]
    elif isinstance(fmt, Mapping):
        yield "rate=1/fortnight,enable=1", "invalid format - rate: value does not match the regex pattern"
    if "pattern" in param:
        yield "1starts-with-a-digit", "value does not match the regex pattern"
    if "maxLength" in param and kind == "string" and not fmt:
        yield "A" * (param["maxLength"] + 1), f"value may only be {param['maxLength']} characters long"
    if "enum" in param:
        yield "bogus", f"value 'bogus' does not have a value in the enumeration '{', '.join(param['enum'])}'"


def _send(running: RunningEmulator, method: str, path: str, params: Mapping[str, str]) -> Any:
    return running.api().call(method, path, params)


def test_each_constraint_is_enforced_with_pves_message(pve: RunningEmulator, cases: list[Case]) -> None:
    checked, problems = 0, []
    for path, method, info in cases:
        path_names = _path_params(path)
        for name, param in info["parameters"].get("properties", {}).items():
            for value, message in _probes(name, param):
                if name in path_names:
                    target, params = _concrete(path, **{name: value}), {}
                else:
                    target, params = _concrete(path), {name: value}
                response = _send(pve, method, target, params)
                checked += 1
                got = response.errors.get(name, "")
                if response.status != 400 or not got.startswith(message):
                    problems.append(f"{method} {target} {name}={value!r}: {response.status} {got!r} (want {message!r})")
    assert not problems, "\n".join(problems)
    assert checked > 600


def test_missing_required_and_unknown_parameters_are_reported(pve: RunningEmulator, cases: list[Case]) -> None:
    for path, method, info in cases:
        properties = info["parameters"].get("properties", {})
        required = {name for name, param in properties.items() if not param.get("optional") and name not in _path_params(path)}
        response = _send(pve, method, _concrete(path), {"bogus_param": "1"})
        assert response.status == 400, f"{method} {path}"
        assert response.errors["bogus_param"] == "property is not defined in schema and the schema does not allow additional properties"
        for name in required:
            assert response.errors[name] == "property is missing and it is not optional", f"{method} {path} {name}"


def _populate(running: RunningEmulator) -> None:
    api = running.api()
    for owner in ("/cluster/firewall", "/nodes/pve1/qemu/100/firewall", "/nodes/pve1/lxc/200/firewall"):
        api.post(f"{owner}/aliases", name="probehost", cidr="192.0.2.7", comment="an alias")
        api.post(f"{owner}/ipset", name="probe", comment="a set")
        api.post(f"{owner}/ipset/probe", cidr="10.0.0.1", nomatch=1, comment="an entry")
    api.post("/cluster/firewall/groups", group="grp", comment="a group")
    for base in (
        "/cluster/firewall/rules",
        "/cluster/firewall/groups/grp",
        "/nodes/pve1/firewall/rules",
        "/nodes/pve1/qemu/100/firewall/rules",
        "/nodes/pve1/lxc/200/firewall/rules",
    ):
        api.post(base, type="in", action="ACCEPT", proto="tcp", dport="22", source="probehost", log="info", comment="c", enable=1)
        api.post(base, type="in", action="DROP", proto="icmp", **{"icmp-type": "echo-request"})
    api.post("/cluster/sdn/vnets/vnet1/firewall/rules", type="forward", action="ACCEPT", macro="SSH", enable=1)
    api.put("/cluster/firewall/options", enable=1, policy_in="DROP", log_ratelimit="enable=1")
    api.put("/nodes/pve1/firewall/options", enable=1, log_level_in="info", nf_conntrack_max=262144)
    api.put("/nodes/pve1/qemu/100/firewall/options", enable=1, dhcp=1, policy_in="ACCEPT")
    api.put("/cluster/sdn/vnets/vnet1/firewall/options", enable=1, policy_forward="DROP")
    running.control.add_log("pve1", entries=[{"vmid": 100}, {"vmid": 0}])


def test_returned_keys_are_those_of_the_reference_return_schema(pve: RunningEmulator, cases: list[Case]) -> None:
    _populate(pve)
    checked = 0
    for path, method, info in cases:
        if method != "GET" or "{pos}" in path:
            continue
        returns = info.get("returns", {})
        properties = (returns.get("items") or returns).get("properties")
        if not properties:
            continue
        response = _send(pve, "GET", _concrete(path), {})
        assert response.status == 200, f"GET {path}: {response.status} {response.message}"
        items = response.data if isinstance(response.data, list) else [response.data]
        assert items, f"GET {path} returned nothing to check"
        for item in items:
            unknown = set(item) - set(properties) - UNDOCUMENTED_KEYS
            assert not unknown, f"GET {path}: keys {unknown} are not in the reference return schema"
            checked += 1
    assert checked > 30


def test_the_emulators_table_is_its_own_code() -> None:
    """The route table must not read ../shared at run time (the emulator runs without it)."""
    package = Path(__file__).resolve().parents[2] / "emulator"
    for source in package.rglob("*.py"):
        text = source.read_text()
        assert "pve-api-firewall-schema" not in text, source
        assert not re.search(r"shared[/\"']|shared_(dir|path)|SHARED", text), source
