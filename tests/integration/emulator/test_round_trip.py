"""Round trip through the emulator: what a module writes, read back, equals what it planned.

For every valid input (the valid rules and options of the validation corpus, and generated
rules, IP set entries and aliases with the values PVE's writer treats specially: '0', blank
comments, GROUP rules with match fields), the input either is refused up front by the
compiler with a clear error, or it is written through the API, stored by the emulator as
PVE's writer stores it, re-read as PVE's parser reads it, and compares equal to the input in
the canonical form the modules plan against. A difference is a plan that never settles: the
module would change the same object on every run.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._compiler.api_mapping import (
    alias_from_api,
    alias_to_api,
    ipset_entry_from_api,
    ipset_entry_to_api,
    options_from_api,
    options_to_api,
    rule_from_api,
    rule_to_api,
)
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import render_fw
from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_alias, normalise_ipset_entry, normalise_rule
from ansible_collections.pve.firewall.plugins.module_utils._compiler.options import option_spec
from ansible_collections.pve.firewall.plugins.module_utils._compiler.rule_validation import References, check_rule
from ansible_collections.pve.firewall.plugins.module_utils._compiler.user_input import alias_from_user, entry_from_user, options_from_user, rule_from_user
from ansible_collections.pve.firewall.plugins.module_utils._model.errors import FieldError
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Alias, FileKind, FirewallFile, IPSet, IPSetEntry, Level, SecurityGroup
from ansible_collections.pve.firewall.tests.emulator.client import ApiCallError, ApiClient
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator

CORPUS = Path(__file__).resolve().parents[2] / "unit/plugins/module_utils/_compiler/test_validation_corpus.py"
RULE_PATHS = {
    "cluster": "/cluster/firewall/rules",
    "host": "/nodes/pve1/firewall/rules",
    "vm": "/nodes/pve1/qemu/100/firewall/rules",
    "ct": "/nodes/pve1/lxc/200/firewall/rules",
    "vnet": "/cluster/sdn/vnets/vnet1/firewall/rules",
    "group": "/cluster/firewall/groups/corpus",
}
OPTION_PATHS = {
    "cluster": "/cluster/firewall/options",
    "host": "/nodes/pve1/firewall/options",
    "vm": "/nodes/pve1/qemu/100/firewall/options",
    "ct": "/nodes/pve1/lxc/200/firewall/options",
    "vnet": "/cluster/sdn/vnets/vnet1/firewall/options",
}
OPTION_TABLES = {"cluster": "cluster", "host": "host", "vm": "vm", "ct": "vm", "vnet": "vnet"}
IPSET_PATH = "/cluster/firewall/ipset/corpus"
ALIAS_PATH = "/cluster/firewall/aliases"

# The objects the corpus rules refer to (its BASE_CONFIG), so that PVE's reference checks pass.
CLUSTER_FW = FirewallFile(
    FileKind.CLUSTER,
    aliases=(Alias("dcnet", "10.1.0.0/16"), Alias("dcnet6", "2001:db8:1::/48"), Alias("dchost", "10.1.2.3")),
    ipsets=(IPSet("dcset", None, (IPSetEntry("10.2.0.0/16"), IPSetEntry("2001:db8:2::/48"))), IPSet("management", None, (IPSetEntry("192.168.1.0/24"),))),
    groups=(SecurityGroup("corpus"), SecurityGroup("webservers")),
)
GUEST_FW = FirewallFile(
    FileKind.GUEST,
    aliases=(Alias("vmnet", "192.168.100.0/24"), Alias("vmnet6", "fd00:100::/64")),
    ipsets=(IPSet("vmset", None, (IPSetEntry("192.168.100.10"),)),),
)


def _references(level: str) -> References:
    """What the modules check a rule's references against (the prepared files)."""
    guest = level in ("vm", "ct")
    return References(
        cluster_ipsets=frozenset(ipset.name for ipset in CLUSTER_FW.ipsets),
        guest_ipsets=frozenset(ipset.name for ipset in GUEST_FW.ipsets) if guest else frozenset(),
        cluster_aliases={alias.name: 6 if ":" in alias.cidr else 4 for alias in CLUSTER_FW.aliases},
        guest_aliases={alias.name: 6 if ":" in alias.cidr else 4 for alias in GUEST_FW.aliases} if guest else {},
    )


def _corpus_inputs() -> Iterator[tuple[str, str, str, object]]:
    """(kind, id, level, data) of every valid rule and option input of the validation corpus."""
    spec = importlib.util.spec_from_file_location("validation_corpus", CORPUS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    for case in module.VALID:
        names, defaults = case.run.__code__.co_names, case.run.__defaults__ or ()
        if "run_rule" in names and len(defaults) == 2:
            yield "rule", case.id, *defaults
        elif "run_options" in names and len(defaults) == 2:
            yield "options", case.id, *defaults


CORPUS_INPUTS = list(_corpus_inputs())


def _prepare(pve: RunningEmulator) -> ApiClient:
    pve.control.write_file("firewall/cluster.fw", render_fw(CLUSTER_FW, canonical=False))
    pve.control.write_file("firewall/100.fw", render_fw(GUEST_FW, canonical=False))
    pve.control.write_file("firewall/200.fw", render_fw(GUEST_FW, canonical=False))
    return pve.api()


def _refused_up_front(errors: list[FieldError]) -> bool:
    """A refusal that names the field and says why is a clear error."""
    assert all(error.field and error.message for error in errors), errors
    return bool(errors)


def rule_round_trip(api: ApiClient, level: str, data: object) -> None:
    rule, errors = rule_from_user(data, "rule")
    if rule is not None:
        errors = [*errors, *check_rule(rule, Level(level), location="rule", refs=_references(level)).errors]
    if _refused_up_front(errors):
        return
    assert rule is not None
    path = RULE_PATHS[level]
    try:
        api.post(path, **rule_to_api(rule))
    except ApiCallError as error:
        pytest.fail(f"the compiler accepts {data!r} at {level} level, PVE refuses it: {error}")
    stored = [item for item in api.get(path) if item.get("pos") == 0]
    assert len(stored) == 1
    assert rule_from_api(stored[0]) == normalise_rule(rule), f"{data!r} at {level} level does not read back as planned"


def options_round_trip(api: ApiClient, level: str, data: object) -> None:
    table = OPTION_TABLES[level]
    wanted, errors = options_from_user(table, data)
    api_keys = {key: value for key, value in wanted.items() if (spec := option_spec(table, key)) is not None and spec.api}
    if _refused_up_front(errors) or not api_keys:
        return
    api.put(OPTION_PATHS[level], **options_to_api(table, api_keys))
    read = options_from_api(table, api.get(OPTION_PATHS[level]))
    assert {key: read.get(key) for key in api_keys} == api_keys, f"options {data!r} at {level} level do not read back as planned"


@pytest.mark.parametrize(("kind", "level", "data"), [pytest.param(kind, level, data, id=f"{kind}-{id_}") for kind, id_, level, data in CORPUS_INPUTS])
def test_valid_corpus_input_reads_back_as_planned(pve: RunningEmulator, kind: str, level: str, data: object) -> None:
    api = _prepare(pve)
    if kind == "rule":
        rule_round_trip(api, level, data)
    else:
        options_round_trip(api, level, data)


def test_the_corpus_covers_rules_at_every_level_and_options():
    assert {level for kind, _id, level, _data in CORPUS_INPUTS if kind == "rule"} == set(RULE_PATHS)
    assert any(kind == "options" for kind, *_rest in CORPUS_INPUTS)


# -- generated inputs: the values PVE's writer drops or re-reads differently ----------------------

TRICKY_TEXT = st.sampled_from([None, "0", "", " ", "x", "0 ", "a # b", "\u3000"])
_RULE_FIELDS = {
    "proto": st.sampled_from([None, "0", "tcp", "udp", "icmp", "TCP", "6"]),
    "dport": st.sampled_from([None, "0", "22", "80:90", "ssh", "0:10", 0]),
    "sport": st.sampled_from([None, "0", "1024"]),
    "source": st.sampled_from([None, "0", "10.0.0.1", "10.0.0.0/8", "10.0.0.1/32", "+dcset", "dcnet"]),
    "dest": st.sampled_from([None, "0", "192.0.2.1", "2001:db8::1/128"]),
    "log": st.sampled_from([None, "0", "nolog", "info"]),
    "icmp_type": st.sampled_from([None, "0", "echo-request"]),
    "macro": st.sampled_from([None, "0", "SSH", "ssh"]),
    "iface": st.sampled_from([None, "0", "net0", "vmbr0"]),
    "comment": TRICKY_TEXT,
}


@st.composite
def user_rules(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    level = draw(st.sampled_from(sorted(RULE_PATHS)))
    group_rule = level != "group" and draw(st.booleans())
    data: dict[str, Any] = (
        {"type": "group", "action": draw(st.sampled_from(["webservers", "WebServers"]))} if group_rule else {"type": "in", "action": "ACCEPT"}
    )
    if level == "vnet" and not group_rule:
        data["type"] = "forward"
    data["enable"] = draw(st.booleans())
    for name, values in _RULE_FIELDS.items():
        value = draw(values)
        if value is not None:
            data[name.replace("_", "-") if name == "icmp_type" else name] = value
    return level, data


ROUND_TRIP_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@ROUND_TRIP_SETTINGS
@given(case=user_rules())
def test_generated_rules_read_back_as_planned_or_are_refused(pve: RunningEmulator, case: tuple[str, dict[str, Any]]) -> None:
    pve.emulator.reset()
    level, data = case
    rule_round_trip(_prepare(pve), level, data)


@ROUND_TRIP_SETTINGS
@given(
    cidr=st.sampled_from(["10.0.0.1", "10.0.0.1/32", "10.0.0.0/8", "fd00::1/128", "fd00::/64", "dcnet", "dc/dchost"]),
    nomatch=st.booleans(),
    comment=TRICKY_TEXT,
)
def test_generated_ipset_entries_read_back_as_planned_or_are_refused(pve: RunningEmulator, cidr: str, nomatch: bool, comment: str | None) -> None:
    pve.emulator.reset()
    api = _prepare(pve)
    entry, errors = entry_from_user({"cidr": cidr, "nomatch": nomatch, "comment": comment}, "entry")
    if _refused_up_front(errors):
        return
    assert entry is not None
    api.post("/cluster/firewall/ipset", name="corpus")
    api.post(IPSET_PATH, **ipset_entry_to_api(entry))
    read = [normalise_ipset_entry(ipset_entry_from_api(item)) for item in api.get(IPSET_PATH)]
    assert read == [normalise_ipset_entry(entry)]


@ROUND_TRIP_SETTINGS
@given(
    name=st.sampled_from(["web", "Web_1"]),
    cidr=st.sampled_from(["10.0.0.1", "10.0.0.1/32", "10.0.0.0/8", "fd00::1", "fd00::1/128", "fd00::/64"]),
    comment=TRICKY_TEXT,
)
def test_generated_aliases_read_back_as_planned_or_are_refused(pve: RunningEmulator, name: str, cidr: str, comment: str | None) -> None:
    pve.emulator.reset()
    api = _prepare(pve)
    alias, errors = alias_from_user({"name": name, "cidr": cidr, "comment": comment}, "alias")
    if _refused_up_front(errors):
        return
    assert alias is not None
    api.post(ALIAS_PATH, **alias_to_api(alias))
    read = [normalise_alias(alias_from_api(item)) for item in api.get(ALIAS_PATH) if item["name"] == alias.name]
    assert read == [normalise_alias(alias)]


# -- files as PVE's writer and parser treat them (regressions of issue 15, classes 3 and 4) -------

HOST_RULES = "/nodes/pve1/firewall/rules"


@pytest.fixture
def files_pve(pve: RunningEmulator) -> RunningEmulator:
    """The emulator with connections not judged: these files are about what the API answers."""
    pve.control.settings(judging=False)
    return pve


def test_a_write_drops_what_pves_writer_drops(files_pve: RunningEmulator) -> None:
    files_pve.control.write_file("nodes/pve1/host.fw", "[RULES]\n\nIN ACCEPT -p tcp -dport 0 -source 0 # 0\n")
    api = files_pve.api()
    assert rule_from_api(api.get(HOST_RULES)[0]).comment == "0"  # FW parse_fw_rule keeps it
    api.post(HOST_RULES, type="in", action="DROP", enable=1)
    assert files_pve.control.read_file("nodes/pve1/host.fw") == "[RULES]\n\nIN DROP\nIN ACCEPT -p tcp\n\n"


def test_an_unknown_rule_type_fails_every_later_write(files_pve: RunningEmulator) -> None:
    files_pve.control.write_file("nodes/pve1/host.fw", "[RULES]\n\nIN ACCEPT\nFOO BAR\n")
    api = files_pve.api()
    assert [item["type"] for item in api.get(HOST_RULES)] == ["in", "foo"]
    response = api.call("POST", HOST_RULES, {"type": "in", "action": "DROP", "enable": 1})
    assert response.status == 500
    assert response.message.startswith("unknown rule type 'foo' at /usr/share/perl5/PVE/Firewall.pm line ")
    assert files_pve.control.read_file("nodes/pve1/host.fw") == "[RULES]\n\nIN ACCEPT\nFOO BAR\n"


def test_a_bad_log_ratelimit_makes_the_cluster_configuration_unreadable(files_pve: RunningEmulator) -> None:
    files_pve.control.write_file("firewall/cluster.fw", "[OPTIONS]\n\nlog_ratelimit: enable=1,rate=fast\n\n[RULES]\n\nIN ACCEPT\n")
    api = files_pve.api()
    for path in ("/cluster/firewall/options", "/cluster/firewall/rules"):
        assert api.call("GET", path).status == 500


def test_a_crlf_file_is_read_as_pve_reads_it(files_pve: RunningEmulator) -> None:
    files_pve.control.write_file("nodes/pve1/host.fw", "[OPTIONS]\r\nenable: 1\r\n\r\n[RULES]\r\nIN ACCEPT\r\n")
    api = files_pve.api()
    assert api.get(HOST_RULES) == [] or [item for item in api.get(HOST_RULES) if "type" in item] == []
    assert "enable" not in api.get("/nodes/pve1/firewall/options")


def test_an_aligned_alias_column_is_dropped_and_a_later_set_wins(files_pve: RunningEmulator) -> None:
    files_pve.control.write_file("firewall/cluster.fw", "[ALIASES]\n\nweb  10.0.0.1\ndb 10.0.0.2\n\n[IPSET web]\n\n10.0.0.1\n\n[IPSET WEB]\n\n10.0.0.2\n")
    api = files_pve.api()
    assert [item["name"] for item in api.get(ALIAS_PATH)] == ["db"]
    assert [item["cidr"] for item in api.get("/cluster/firewall/ipset/web")] == ["10.0.0.2"]


def test_an_unreadable_cluster_configuration_keeps_the_last_ruleset(pve: RunningEmulator) -> None:
    # pve-firewall logs the load error and keeps what it applied (PVE::Service::pve_firewall::run),
    # so the connections the emulator judges still get an answer.
    pve.control.settings(judging=True)
    api = pve.api()
    assert api.get(HOST_RULES) == []
    pve.control.write_file("firewall/cluster.fw", "[OPTIONS]\n\nlog_ratelimit: enable=1,rate=fast\n")
    fresh = pve.api()  # a new connection is judged against the ruleset
    assert fresh.call("GET", "/cluster/resources").status == 200
    assert fresh.call("GET", HOST_RULES).status == 500  # the API loads cluster.fw first
