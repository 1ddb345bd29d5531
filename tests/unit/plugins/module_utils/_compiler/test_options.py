"""Option specs per level, value normalisation, .fw option lines and output forms."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.options import (
    CONNTRACK_HELPERS,
    OPTION_LEVELS,
    OPTION_SPECS,
    api_option_value,
    normalise_option,
    option_level,
    parse_option_line,
    render_option_value,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.errors import FieldError
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FILE_OPTION_LEVEL, FileKind, Level, OptionValue

SCHEMA_LEVELS = {
    "/cluster/firewall/options": "cluster",
    "/nodes/{node}/firewall/options": "host",
    "/nodes/{node}/qemu/{vmid}/firewall/options": "vm",
    "/nodes/{node}/lxc/{vmid}/firewall/options": "vm",
    "/cluster/sdn/vnets/{vnet}/firewall/options": "vnet",
}
NOT_OPTIONS = {"delete", "digest", "node", "vmid", "vnet"}
FILE_ONLY = {("host", "protection_limit"), ("vm", "ips"), ("vm", "ips_queues"), ("vm", "layer2_protocols")}
LOG_LEVELS = "emerg, alert, crit, err, warning, notice, info, debug, nolog"


def _value(level: str, key: str, value: object) -> OptionValue | None:
    result, errors = normalise_option(level, key, value, location="test")
    assert errors == [], errors
    return result


def _error(level: str, key: str, value: object) -> FieldError:
    result, errors = normalise_option(level, key, value, location="cluster.fw options")
    assert result is None
    assert len(errors) == 1
    error = errors[0]
    assert (error.location, error.field, error.value) == ("cluster.fw options", key, value)
    assert error.accepted
    return error


# --- specs against the PVE API schema --------------------------------------------------------


@pytest.fixture(scope="module")
def schema_options(shared_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(endpoint path, level, PUT parameters) of every options endpoint in the schema."""
    path = shared_dir / "reference" / "pve-api-firewall-schema.json"
    if not path.exists():
        pytest.skip(f"{path} is absent: cannot compare the option specs with PVE's API schema")
    endpoints = json.loads(path.read_text(encoding="utf-8"))["endpoints"]
    found = [
        (endpoint["path"], SCHEMA_LEVELS[endpoint["path"]], endpoint["info"]["PUT"]["parameters"]["properties"])
        for endpoint in endpoints
        if endpoint["path"] in SCHEMA_LEVELS and "PUT" in endpoint["info"]
    ]
    assert {entry[0] for entry in found} == set(SCHEMA_LEVELS)
    return found


def _expected_kind(key: str, prop: dict[str, Any]) -> str:
    if key == "log_ratelimit":
        return "property"
    if key == "nf_conntrack_helpers":
        return "helpers"
    if prop["type"] in ("boolean", "integer"):
        return prop["type"]
    return "loglevel" if ", ".join(prop["enum"]) == LOG_LEVELS else "enum"


def test_specs_agree_with_every_options_put_parameter(schema_options: list[tuple[str, str, dict[str, Any]]]):
    for path, level, properties in schema_options:
        for key, prop in properties.items():
            if key in NOT_OPTIONS:
                continue
            spec = OPTION_SPECS[level].get(key)
            assert spec is not None, (path, key)
            where = (path, key)
            assert spec.api, where
            assert spec.kind == _expected_kind(key, prop), where
            assert spec.enum == tuple(prop.get("enum", ())), where
            assert spec.minimum == prop.get("minimum"), where
            assert spec.maximum == prop.get("maximum"), where
            default = prop.get("default")
            assert spec.default == (bool(default) if prop["type"] == "boolean" and default is not None else default), where
            assert spec.description and prop["description"].startswith(spec.description.split(";")[0]), where


def test_every_api_key_is_in_the_schema(schema_options: list[tuple[str, str, dict[str, Any]]]):
    keys_by_level: dict[str, set[str]] = {}
    for _path, level, properties in schema_options:
        keys_by_level.setdefault(level, set()).update(set(properties) - NOT_OPTIONS)
    for level in OPTION_LEVELS:
        api_keys = {key for key, spec in OPTION_SPECS[level].items() if spec.api}
        assert api_keys == keys_by_level[level], level


def test_log_ratelimit_format_agrees_with_the_schema(schema_options: list[tuple[str, str, dict[str, Any]]]):
    cluster = next(properties for _path, level, properties in schema_options if level == "cluster")
    fmt = cluster["log_ratelimit"]["format"]
    assert set(fmt) == {"enable", "rate", "burst"}
    defaults = f"enable={fmt['enable']['default']},burst={fmt['burst']['default']},rate={fmt['rate']['default']}"
    assert OPTION_SPECS["cluster"]["log_ratelimit"].effective_default == defaults


def test_conntrack_helpers_are_the_ones_the_schema_names(schema_options: list[tuple[str, str, dict[str, Any]]]):
    host = next(properties for _path, level, properties in schema_options if level == "host")
    listed = re.search(r"Supported protocols: (.*)$", host["nf_conntrack_helpers"]["description"])
    assert listed
    assert list(CONNTRACK_HELPERS) == [name.strip() for name in listed.group(1).split(",")]


def test_file_only_keys():
    assert {(level, key) for level in OPTION_LEVELS for key, spec in OPTION_SPECS[level].items() if not spec.api} == FILE_ONLY
    assert OPTION_SPECS["vm"]["ips"].kind == "boolean"
    assert OPTION_SPECS["host"]["protection_limit"].kind == "integer"


def test_effective_defaults_where_pve_differs_from_the_schema():
    dhcp = OPTION_SPECS["vm"]["dhcp"]
    assert (dhcp.default, dhcp.effective_default) == (False, True)
    assert (OPTION_SPECS["host"]["nosmurfs"].default, OPTION_SPECS["host"]["nosmurfs"].effective_default) == (None, True)
    assert OPTION_SPECS["cluster"]["policy_in"].effective_default == "DROP"
    assert OPTION_SPECS["vm"]["policy_out"].effective_default == "ACCEPT"
    assert OPTION_SPECS["vm"]["macfilter"].effective_default is True
    assert OPTION_SPECS["cluster"]["enable"].effective_default == 0


@pytest.mark.parametrize("level", OPTION_LEVELS)
def test_defaults_are_canonical_values_of_their_option(level: str):
    for key, spec in OPTION_SPECS[level].items():
        for default in (spec.default, spec.effective_default):
            if default is not None:
                assert _value(level, key, default) == default, (level, key, default)


def test_file_kinds_map_to_option_tables():
    assert set(FILE_OPTION_LEVEL.values()) == set(OPTION_SPECS) == set(OPTION_LEVELS)


# --- levels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (Level.CLUSTER, "cluster"),
        (Level.HOST, "host"),
        (Level.VM, "vm"),
        (Level.CT, "vm"),
        (Level.VNET, "vnet"),
        (FileKind.GUEST, "vm"),
        ("node", "host"),
        ("ct", "vm"),
        ("host", "host"),
    ],
)
def test_option_level(level: Level | str, name: str):
    assert option_level(level) == name


@pytest.mark.parametrize("level", [Level.GROUP, "group", "Cluster", ""])
def test_levels_without_options_are_rejected(level: Level | str):
    with pytest.raises(ValueError, match="no options"):
        option_level(level)


# --- normalisation per kind -------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [(True, True), (1, True), ("1", True), (False, False), (0, False), ("0", False)])
@pytest.mark.parametrize(("level", "key"), [("vm", "dhcp"), ("host", "enable"), ("vnet", "enable"), ("cluster", "ebtables")])
def test_booleans(level: str, key: str, given: object, expected: bool):
    result = _value(level, key, given)
    assert result is expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("yes", "type check ('boolean') failed - got 'yes'"),
        ("true", "type check ('boolean') failed - got 'true'"),
        (2, "type check ('boolean') failed - got '2'"),
        ("", "type check ('boolean') failed - got empty string"),
    ],
)
def test_boolean_errors(given: object, message: str):
    assert _error("vm", "dhcp", given).message == message


@pytest.mark.parametrize(("given", "expected"), [(0, 0), (1, 1), (2, 2), ("1", 1), (1700000000, 1700000000)])
def test_cluster_enable_is_an_integer_not_a_boolean(given: object, expected: int):
    result = _value("cluster", "enable", given)
    assert isinstance(result, int) and not isinstance(result, bool) and result == expected


def test_integers_and_their_bounds():
    assert _value("host", "nf_conntrack_max", "40000") == 40000
    assert _value("host", "nf_conntrack_max", 32768) == 32768
    assert _value("host", "nf_conntrack_tcp_timeout_syn_recv", 30) == 30
    assert _error("host", "nf_conntrack_max", 32767).message == "value must have a minimum value of 32768"
    assert _error("host", "nf_conntrack_tcp_timeout_syn_recv", 61).message == "value must have a maximum value of 60"
    assert _error("cluster", "enable", -1).message == "value must have a minimum value of 0"
    assert _error("host", "protection_synflood_rate", "fast").message == "type check ('integer') failed - got 'fast'"
    assert _error("host", "protection_synflood_rate", True).message == "type check ('integer') failed - got 'True'"
    assert _error("host", "protection_synflood_rate", 2.5).message == "type check ('integer') failed - got '2.5'"
    assert "32768" in _error("host", "nf_conntrack_max", 1).accepted


@pytest.mark.parametrize(("given", "expected"), [("drop", "DROP"), ("Accept", "ACCEPT"), ("REJECT", "REJECT")])
@pytest.mark.parametrize("level", ["cluster", "vm"])
def test_policies_in_any_case_become_uppercase(level: str, given: str, expected: str):
    assert _value(level, "policy_in", given) == expected


def test_enum_errors_name_the_enumeration():
    assert _error("vnet", "policy_forward", "REJECT").message == "value 'REJECT' does not have a value in the enumeration 'ACCEPT, DROP'"
    assert _error("cluster", "policy_in", "allow").message == "value 'allow' does not have a value in the enumeration 'ACCEPT, REJECT, DROP'"
    assert _error("cluster", "policy_out", 1).message == "value '1' does not have a value in the enumeration 'ACCEPT, REJECT, DROP'"


def test_log_levels():
    assert _value("host", "log_level_in", "INFO") == "info"
    assert _value("vnet", "log_level_forward", "nolog") == "nolog"
    assert _value("vm", "log_level_out", "") == "nolog"
    assert _error("host", "smurf_log_level", "verbose").message == f"value 'verbose' does not have a value in the enumeration '{LOG_LEVELS}'"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("ftp", "ftp"), ("sip,ftp,ftp", "ftp,sip"), ("", ""), (["tftp", "amanda"], "amanda,tftp")],
)
def test_conntrack_helpers(given: object, expected: str):
    assert _value("host", "nf_conntrack_helpers", given) == expected


@pytest.mark.parametrize("given", ["tftp,", "ftp,sip,", "ftp,,", ","])
def test_conntrack_helpers_with_a_trailing_comma_are_refused(given: str):
    # FW pve_fw_verify_conntrack_helper: Perl's split drops the trailing empty field, so the
    # list no longer joins back to the value; the API refuses it and host.fw skips the line
    assert _error("host", "nf_conntrack_helpers", given).message == "invalid format - extraneous commas in list"


@pytest.mark.parametrize(("given", "bad"), [("ftp,foo", "foo"), ("ftp,,sip", ""), ("FTP", "FTP"), ("ftp, sip", " sip")])
def test_unknown_conntrack_helpers(given: str, bad: str):
    assert _error("host", "nf_conntrack_helpers", given).message == f"invalid format - unknown helper {bad}"


@pytest.mark.parametrize(
    "given",
    [
        "1",
        "enable=1",
        "enable=yes",
        "enable=1,rate=1/second",
        "1,burst=5",
        "burst=5,rate=1/second,enable=true",
        {"enable": True},
        {"enable": 1, "rate": "1/second", "burst": 5},
    ],
)
def test_equivalent_log_ratelimits_have_one_canonical_form(given: object):
    assert _value("cluster", "log_ratelimit", given) == "enable=1,burst=5,rate=1/second"


def test_log_ratelimit_keeps_what_differs_from_the_defaults():
    assert _value("cluster", "log_ratelimit", "0") == "enable=0,burst=5,rate=1/second"
    assert _value("cluster", "log_ratelimit", "1,rate=10/minute,burst=0") == "enable=1,burst=0,rate=10/minute"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("rate=1/second", "invalid format - enable: property is missing and it is not optional"),
        ("1,foo=2", "invalid format - invalid key in comma-separated list property: foo"),
        ("1,0", "invalid format - duplicate key in comma-separated list property: enable"),
        ("1,burst=1,burst=2", "invalid format - duplicate key in comma-separated list property: burst"),
        ("1,rate=0/second", "invalid format - rate: value does not match the regex pattern"),
        ("1,rate=5/week", "invalid format - rate: value does not match the regex pattern"),
        ("1,burst=-1", "invalid format - burst: value must have a minimum value of 0"),
        ("1,burst=many", "invalid format - burst: type check ('integer') failed - got 'many'"),
        ("maybe", "invalid format - enable: type check ('boolean') failed - got 'maybe'"),
        ("1,=5", "invalid format - missing key in comma-separated list property"),
    ],
)
def test_log_ratelimit_errors(given: str, message: str):
    assert _error("cluster", "log_ratelimit", given).message == message


def test_file_only_values():
    assert _value("vm", "ips_queues", "01:02") == "1:2"
    assert _value("vm", "ips_queues", 3) == "3"
    assert _error("vm", "ips_queues", "a:b").message == "can't parse option 'ips_queues: a:b'"
    assert _value("vm", "layer2_protocols", "IPv4, ARP,IPv4") == "ARP,IPv4"
    assert _value("vm", "layer2_protocols", ["IPX", "802_1Q"]) == "802_1Q,IPX"
    assert _value("vm", "layer2_protocols", "0800,8100") == "0800,8100"
    # FW parse_protocol_file reads /etc/ethertypes numbers with \d+: a line with a hex number
    # is not read, and verify_ethertype knows neither its name nor its number
    for unknown in ("IPv6", "PPP", "86DD", "ip6"):
        assert _error("vm", "layer2_protocols", f"IPv4,{unknown}").message == f"unknown ethernet protocol type: {unknown}"
    assert _error("vm", "layer2_protocols", "IPv4,IPv8").message == "unknown ethernet protocol type: IPv8"
    assert _error("vm", "layer2_protocols", "IPv4,,ARP").message == "unknown ethernet protocol type: "
    assert _value("vm", "ips", "1") is True


def test_unknown_keys_list_the_keys_of_the_level():
    error = _error("vm", "nftables", 1)
    assert error.message == "no such option 'nftables'"
    assert "dhcp" in error.accepted.split(", ")
    assert "nftables" not in error.accepted.split(", ")
    assert _error("vnet", "Enable", 1).message == "no such option 'Enable'"


def test_none_means_unset():
    assert normalise_option("vm", "dhcp", None, location="x") == (None, [])


# --- .fw option lines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "line", "expected"),
    [
        ("vm", "dhcp: 1", ("dhcp", True)),
        ("vm", "DHCP: 0", ("dhcp", False)),
        ("vm", "  enable:1  ", ("enable", True)),
        ("vm", "policy_in: drop", ("policy_in", "DROP")),
        ("vm", "POLICY_OUT: Reject", ("policy_out", "REJECT")),
        ("vm", "log_level_in: Debug", ("log_level_in", "debug")),
        ("vm", "log_level_in:", ("log_level_in", "")),
        ("vm", "ips_queues: 0:3", ("ips_queues", "0:3")),
        ("vm", "layer2_protocols: ARP,IPv4", ("layer2_protocols", "ARP,IPv4")),
        ("vm", "layer2_protocols: ARP,802_1Q,IPX,NetBEUI", ("layer2_protocols", "ARP,802_1Q,IPX,NetBEUI")),
        ("host", "nf_conntrack_helpers: sip,ftp", ("nf_conntrack_helpers", "sip,ftp")),
        ("host", "nf_conntrack_helpers: SIP,ftp,ftp", ("nf_conntrack_helpers", "sip,ftp,ftp")),
        ("host", "NF_CONNTRACK_MAX: 524288", ("nf_conntrack_max", 524288)),
        ("host", "nftables: 1", ("nftables", True)),
        ("host", "log_level_forward: info", ("log_level_forward", "info")),
        ("cluster", "enable: 1", ("enable", 1)),
        ("cluster", "enable: 1700000000", ("enable", 1700000000)),
        ("cluster", "ebtables: 0", ("ebtables", False)),
        ("cluster", "log_ratelimit: 1,rate=5/hour", ("log_ratelimit", "1,rate=5/hour")),
        ("cluster", "policy_forward: DROP", ("policy_forward", "DROP")),
        ("vnet", "enable: 1", ("enable", True)),
        ("vnet", "policy_forward: accept", ("policy_forward", "ACCEPT")),
        ("vnet", "log_level_forward: warning", ("log_level_forward", "warning")),
    ],
)
def test_option_lines(level: str, line: str, expected: tuple[str, OptionValue]):
    assert parse_option_line(level, line, location="x.fw line 2") == expected


@pytest.mark.parametrize(
    ("level", "line", "stored", "canonical"),
    [
        ("vm", "log_level_in:", "", "nolog"),
        ("host", "smurf_log_level:  ", "", "nolog"),
        ("host", "log_level_in: INFO", "info", "info"),
        ("vm", "layer2_protocols: ARP,802_1Q,IPX", "ARP,802_1Q,IPX", "802_1Q,ARP,IPX"),
        ("vm", "ips_queues: 01", "01", "1"),
        ("host", "nf_conntrack_helpers: sip,FTP,ftp", "sip,ftp,ftp", "ftp,sip"),
        ("cluster", "log_ratelimit: 1,rate=5/hour", "1,rate=5/hour", "enable=1,burst=5,rate=5/hour"),
        ("cluster", "log_ratelimit: off", "off", "enable=0,burst=5,rate=1/second"),
    ],
)
def test_text_values_read_as_stored_and_normalise_to_canonical(level: str, line: str, stored: str, canonical: str):
    # PVE keeps these values as the line has them (FW parse_*fw_option; its API answers with
    # them, e.g. log_level_in ''); the canonical form is what plans and comparisons use
    key, value = parse_option_line(level, line, location="x.fw line 2")
    assert value == stored
    assert normalise_option(level, key, value, location="x") == (canonical, [])


@pytest.mark.parametrize(
    ("level", "line", "field"),
    [
        ("vm", "dhcp: yes", "dhcp"),
        ("vm", "enable: 2", "enable"),
        ("vm", "enable : 1", "enable "),
        ("vm", "enable: 1 # on", "enable"),
        ("vm", "policy_in: allow", "policy_in"),
        ("vm", "nftables: 1", "nftables"),
        ("vm", "ips_queues: 1-2", "ips_queues"),
        ("host", "enable: 5", "enable"),
        ("host", "nf_conntrack_max: -5", "nf_conntrack_max"),
        ("host", "nf_conntrack_helpers:", "nf_conntrack_helpers"),
        ("cluster", "enable: yes", "enable"),
        ("cluster", "LOG_RATELIMIT: 1", "log_ratelimit"),
        ("cluster", "log_ratelimit: 1, rate=1/second", "log_ratelimit"),
        ("vnet", "policy_forward: REJECT", "policy_forward"),
        ("vnet", "log_level_forward:", "log_level_forward"),
        ("vnet", "LOG_LEVEL_FORWARD:  ", "log_level_forward"),
        ("vnet", "foo: 1", "foo"),
        ("vnet", "no colon", "options"),
    ],
)
def test_lines_pve_cannot_parse(level: str, line: str, field: str):
    error = parse_option_line(level, line, location="x.fw line 2")
    assert isinstance(error, FieldError)
    assert error.message == f"can't parse option '{line.strip()}'"
    assert (error.location, error.field, error.value) == ("x.fw line 2", field.strip(), line.strip())
    assert error.accepted


def test_unknown_key_lines_list_the_valid_keys():
    error = parse_option_line("vnet", "foo: 1", location="x")
    assert isinstance(error, FieldError)
    assert error.accepted.endswith("enable, policy_forward, log_level_forward")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("nf_conntrack_helpers: ftp,foo", "unknown helper foo"),
        ("nf_conntrack_helpers: FTP,Bogus", "unknown helper bogus"),
        ("nf_conntrack_helpers: ftp,", "extraneous commas in list"),
        ("nf_conntrack_helpers: ,ftp", "unknown helper "),
        ("nf_conntrack_helpers: ftp,,sip", "unknown helper "),
    ],
)
def test_helper_lists_pve_refuses_are_skipped_while_parsing(line: str, message: str):
    # FW parse_hostfw_option lowercases the list and runs pve_fw_verify_conntrack_helper on it,
    # the check the API's format runs: the line is skipped with its message
    error = parse_option_line("host", line, location="x")
    assert isinstance(error, FieldError)
    assert (error.field, error.message) == ("nf_conntrack_helpers", message)


def test_unknown_ethertypes_are_rejected_while_parsing():
    error = parse_option_line("vm", "layer2_protocols: IPv4,ip6", location="x")
    assert isinstance(error, FieldError)
    assert error.message == "unknown ethernet protocol type: ip6"


@pytest.mark.parametrize(
    ("level", "line", "expected"),
    [
        ("host", "nf_conntrack_max: 100", ("nf_conntrack_max", 100)),
        ("cluster", "policy_forward: reject", ("policy_forward", "REJECT")),
        ("cluster", "log_ratelimit: nonsense", ("log_ratelimit", "nonsense")),
        ("vnet", "enable: 7", ("enable", 7)),
    ],
)
def test_lines_pve_keeps_but_its_api_rejects_are_kept_as_pve_stores_them(level: str, line: str, expected: tuple[str, OptionValue]):
    assert parse_option_line(level, line, location="x") == expected
    errors = normalise_option(level, expected[0], expected[1], location="x")[1]
    assert errors


# --- output -----------------------------------------------------------------------------------

SAMPLES: dict[str, tuple[OptionValue, ...]] = {
    "boolean": (True, False),
    "integer": (32768, 60),
    "enum": ("ACCEPT", "DROP"),
    "loglevel": ("info", "nolog"),
    "helpers": ("ftp,sip",),
    "property": ("enable=0,burst=5,rate=2/minute",),
    "queues": ("0:3",),
    "ethertypes": ("ARP,IPv4",),
}


@pytest.mark.parametrize(("level", "key"), [(level, key) for level in OPTION_LEVELS for key in OPTION_SPECS[level]])
def test_rendered_values_parse_back_to_the_same_value(level: str, key: str):
    spec = OPTION_SPECS[level][key]
    for value in SAMPLES[spec.kind]:
        value, errors = normalise_option(level, key, value, location="x")
        if errors:  # sample outside this option's bounds or enum
            continue
        assert value is not None
        line = f"{key}: {render_option_value(level, key, value)}"
        assert parse_option_line(level, line, location="x") == (key, value), line


def test_render_writes_booleans_as_digits():
    assert render_option_value("vm", "dhcp", True) == "1"
    assert render_option_value("vm", "dhcp", False) == "0"
    assert render_option_value("cluster", "enable", 1) == "1"
    assert render_option_value("host", "nf_conntrack_max", 262144) == "262144"


def test_api_values():
    sent = api_option_value("vm", "dhcp", True)
    assert sent == 1 and not isinstance(sent, bool)
    assert api_option_value("vnet", "enable", False) == 0
    assert api_option_value("cluster", "enable", 2) == 2
    assert api_option_value("cluster", "policy_in", "DROP") == "DROP"
    assert api_option_value("cluster", "log_ratelimit", "enable=1,burst=5,rate=1/second") == "enable=1,burst=5,rate=1/second"


def test_file_only_and_unknown_keys_have_no_api_value():
    with pytest.raises(ValueError, match="only be set in the .fw file"):
        api_option_value("vm", "ips", True)
    with pytest.raises(KeyError):
        api_option_value("vm", "nftables", True)
    with pytest.raises(KeyError):
        render_option_value("host", "dhcp", True)
