"""The pve.firewall.hardened_tree filter: the hardened defaults' firewall tree for a cluster.

The filter replaced the Jinja template roles/hardened_defaults/templates/tree.json.j2; until
the template was deleted these cases were checked against it (rendered by Ansible's templar,
as the role rendered it) and the filter built the same trees, keys and items in the same order.
The expected trees below are those.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pve.firewall.plugins.filter import hardened_tree as hardened_tree_filter
from ansible_collections.pve.firewall.plugins.module_utils._compiler.hardened_tree import HardenedSettings, assigned_groups, build_hardened_tree

hardened_tree = hardened_tree_filter.hardened_tree


def guest(vmid: int, *tags: str) -> dict[str, Any]:
    """A guest as firewall_info returns it (levels vm and ct, include [])."""
    return {"vmid": vmid, "type": "qemu", "level": "vm", "node": "pve1", "name": f"g{vmid}", "tags": list(tags)}


CLUSTER = {
    "nodes": {"pve1": {}, "pve2": {}, "pve3": {}},
    "guests": {"100": guest(100, "web"), "101": guest(101, "web", "db"), "102": guest(102, "db"), "200": guest(200, "infra"), "201": guest(201)},
}
ADMINS = ["127.0.0.1/32", "198.51.100.0/24"]

# The role's defaults (roles/hardened_defaults/defaults/main.yml), their templates resolved.
NODE_OPTIONS = {
    "nosmurfs": True,
    "tcpflags": True,
    "protection_synflood": True,
    "protection_synflood_rate": 200,
    "protection_synflood_burst": 1000,
    "nf_conntrack_max": 262144,
    "nf_conntrack_tcp_timeout_established": 432000,
    "log_level_in": "info",
    "log_level_out": "nolog",
    "smurf_log_level": "info",
    "tcp_flags_log_level": "info",
}
GUEST_OPTIONS = {"enable": True, "policy_in": "DROP", "policy_out": "ACCEPT", "macfilter": True, "ipfilter": False, "log_level_in": "info"}
SSH_FROM_ADMINS = {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+management"}
LIBRARY = {
    "web": {
        "comment": "web server - HTTP and HTTPS from anywhere, SSH from the admins",
        "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTP"}, {"type": "in", "action": "ACCEPT", "macro": "HTTPS"}, SSH_FROM_ADMINS],
    },
    "dns": {"comment": "DNS server - DNS from anywhere, SSH from the admins", "rules": [{"type": "in", "action": "ACCEPT", "macro": "DNS"}, SSH_FROM_ADMINS]},
    "database": {
        "comment": "database - PostgreSQL and MySQL from the database clients, SSH from the admins",
        "rules": [
            {"type": "in", "action": "ACCEPT", "macro": "PostgreSQL", "source": "+dbclients"},
            {"type": "in", "action": "ACCEPT", "macro": "MySQL", "source": "+dbclients"},
            SSH_FROM_ADMINS,
        ],
    },
    "rdp": {"comment": "Windows desktop - RDP from the admins", "rules": [{"type": "in", "action": "ACCEPT", "macro": "RDP", "source": "+management"}]},
    "mail": {
        "comment": "mail server - SMTP, submission and IMAPS from anywhere, SSH from the admins",
        "rules": [
            {"type": "in", "action": "ACCEPT", "macro": "SMTP"},
            {"type": "in", "action": "ACCEPT", "macro": "Submission"},
            {"type": "in", "action": "ACCEPT", "macro": "IMAPS"},
            SSH_FROM_ADMINS,
        ],
    },
    "ssh": {"comment": "SSH from the admins only", "rules": [SSH_FROM_ADMINS]},
}
ROLE_DEFAULTS: dict[str, Any] = {
    "admin_networks": ADMINS,
    "admin_ipset": "management",
    "admin_rules": True,
    "cluster_rules": [],
    "enable": True,
    "policy_in": "DROP",
    "policy_out": "ACCEPT",
    "cluster_options": {},
    "nodes": [],
    "node_options": NODE_OPTIONS,
    "group_library": LIBRARY,
    "database_clients_ipset": "dbclients",
    "database_clients": [],
    "guest_groups": [],
    "guest_options": GUEST_OPTIONS,
    "guest_nic_firewall": True,
}


def admin_rules(ipset: str = "management") -> list[dict[str, Any]]:
    return [
        {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": f"+{ipset}", "comment": "web interface from the admins"},
        {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": f"+{ipset}", "comment": "SSH from the admins"},
    ]


def admin_ipset(name: str = "management") -> dict[str, Any]:
    return {"name": name, "comment": "administrators", "entries": ADMINS}


def group(name: str) -> dict[str, Any]:
    return {"name": name, "rules": LIBRARY[name]["rules"], "comment": LIBRARY[name]["comment"]}


def guest_tree(*groups: str, options: dict[str, Any] | None = None, nic_firewall: Any = True) -> dict[str, Any]:
    rules = [{"type": "group", "action": name} for name in groups]
    return {"options": GUEST_OPTIONS if options is None else options, "rules": rules, "nic_firewall": nic_firewall}


DEFAULT_OPTIONS = {"enable": True, "policy_in": "DROP", "policy_out": "ACCEPT"}
ALL_NODES = {node: {"options": NODE_OPTIONS} for node in ("pve1", "pve2", "pve3")}

# name: (settings over the role's defaults, the tree)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "defaults, no groups": (
        {},
        {"cluster": {"options": DEFAULT_OPTIONS, "ipsets": [admin_ipset()], "groups": [], "rules": admin_rules()}, "nodes": ALL_NODES, "guests": {}},
    ),
    "by tags": (
        {"guest_groups": [{"groups": ["web"], "tags": ["web"]}, {"groups": ["database"], "tags": ["db"]}]},
        {
            "cluster": {
                "options": DEFAULT_OPTIONS,
                "ipsets": [admin_ipset(), {"name": "dbclients", "comment": "database clients", "entries": []}],
                "groups": [group("web"), group("database")],
                "rules": admin_rules(),
            },
            "nodes": ALL_NODES,
            "guests": {"100": guest_tree("web"), "101": guest_tree("web", "database"), "102": guest_tree("database")},
        },
    ),
    "by vmids, each group once in the order listed": (
        {"guest_groups": [{"groups": ["dns", "ssh"], "vmids": [200]}, {"groups": ["ssh", "rdp"], "vmids": [201, 200]}]},
        {
            "cluster": {"options": DEFAULT_OPTIONS, "ipsets": [admin_ipset()], "groups": [group("dns"), group("ssh"), group("rdp")], "rules": admin_rules()},
            "nodes": ALL_NODES,
            "guests": {"200": guest_tree("dns", "ssh", "rdp"), "201": guest_tree("ssh", "rdp")},
        },
    ),
    "by tags and vmids, names that differ in case only once": (
        {"guest_groups": [{"groups": ["mail"], "vmids": [102], "tags": ["web"]}, {"groups": ["Mail", "web"], "tags": ["web"]}]},
        {
            "cluster": {"options": DEFAULT_OPTIONS, "ipsets": [admin_ipset()], "groups": [group("mail"), group("web")], "rules": admin_rules()},
            "nodes": ALL_NODES,
            "guests": {"100": guest_tree("mail", "web"), "101": guest_tree("mail", "web"), "102": guest_tree("mail")},
        },
    ),
    "custom set names": (
        {
            "admin_ipset": "admins",
            "database_clients_ipset": "sqlclients",
            "database_clients": ["10.0.0.0/24"],
            "guest_groups": [{"groups": ["database"], "tags": ["db"]}],
        },
        {
            "cluster": {
                "options": DEFAULT_OPTIONS,
                "ipsets": [admin_ipset("admins"), {"name": "sqlclients", "comment": "database clients", "entries": ["10.0.0.0/24"]}],
                "groups": [group("database")],
                "rules": admin_rules("admins"),
            },
            "nodes": ALL_NODES,
            "guests": {"101": guest_tree("database"), "102": guest_tree("database")},
        },
    ),
    "no admin rules, more rules and options, some nodes": (
        {
            "admin_rules": False,
            "cluster_rules": [{"type": "in", "action": "ACCEPT", "macro": "Ping"}],
            "cluster_options": {"policy_in": "REJECT", "log_ratelimit": "enable=1,rate=1/second"},
            "enable": False,
            "nodes": ["pve2"],
            "guest_nic_firewall": False,
            "guest_options": {"enable": True},
            "group_library": {"only": {"rules": []}, "web": {"comment": "w", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTP"}]}},
            "guest_groups": [{"groups": ["only", "web"], "vmids": [101]}],
        },
        {
            "cluster": {
                "options": {"enable": False, "policy_in": "REJECT", "policy_out": "ACCEPT", "log_ratelimit": "enable=1,rate=1/second"},
                "ipsets": [admin_ipset()],
                "groups": [{"name": "only", "rules": []}, {"name": "web", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTP"}], "comment": "w"}],
                "rules": [{"type": "in", "action": "ACCEPT", "macro": "Ping"}],
            },
            "nodes": {"pve2": {"options": NODE_OPTIONS}},
            "guests": {"101": guest_tree("only", "web", options={"enable": True}, nic_firewall=False)},
        },
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_the_tree(name: str) -> None:
    settings, expected = CASES[name]
    cluster = copy.deepcopy(CLUSTER)
    arguments = copy.deepcopy({**ROLE_DEFAULTS, **settings})
    tree = hardened_tree(cluster, **arguments)
    assert tree == expected
    assert json.dumps(tree) == json.dumps(expected)  # keys and items in the same order too
    assert cluster == CLUSTER and arguments == copy.deepcopy({**ROLE_DEFAULTS, **settings})  # the input is left as it was


def test_the_filter_defaults_give_the_admin_set_and_rules_and_nothing_else() -> None:
    assert hardened_tree(CLUSTER, ["192.0.2.0/24"]) == {
        "cluster": {
            "options": DEFAULT_OPTIONS,
            "ipsets": [{"name": "management", "comment": "administrators", "entries": ["192.0.2.0/24"]}],
            "groups": [],
            "rules": admin_rules(),
        },
        "nodes": {"pve1": {"options": {}}, "pve2": {"options": {}}, "pve3": {"options": {}}},
        "guests": {},
    }


def test_the_tree_shares_nothing_with_the_input_or_itself() -> None:
    tree = hardened_tree(CLUSTER, **{**ROLE_DEFAULTS, "guest_groups": [{"groups": ["web"], "tags": ["web"]}]})
    tree["nodes"]["pve1"]["options"]["nosmurfs"] = False
    tree["guests"]["100"]["options"]["enable"] = False
    tree["cluster"]["groups"][0]["rules"].clear()
    tree["cluster"]["ipsets"][0]["entries"].append("203.0.113.1")
    assert tree["nodes"]["pve2"]["options"]["nosmurfs"] is True and tree["guests"]["101"]["options"]["enable"] is True
    assert NODE_OPTIONS["nosmurfs"] is True and GUEST_OPTIONS["enable"] is True
    assert len(LIBRARY["web"]["rules"]) == 3 and ADMINS == ["127.0.0.1/32", "198.51.100.0/24"]


def test_guests_are_selected_by_vmid_or_by_any_tag_and_a_missing_list_selects_none() -> None:
    guests = {"1": {"vmid": 1, "tags": ["a", "b"]}, "2": {"vmid": 2}, "3": {"vmid": 3, "tags": None}, "4": {"vmid": 4, "tags": ["c"]}}
    entries = [{"groups": ["x"], "tags": ["b", "c"]}, {"groups": ["y"], "vmids": [2, 4]}, {"groups": ["z"], "vmids": None, "tags": None}]
    assert assigned_groups(guests, entries) == {"1": ["x"], "2": ["y"], "4": ["x", "y"]}
    # vmids compare as given: a string is not the guest's number
    assert assigned_groups(guests, [{"groups": ["x"], "vmids": ["1"]}]) == {}


def test_an_empty_guest_list_or_cluster_without_guests() -> None:
    tree = build_hardened_tree({"nodes": {"pve1": {}}}, HardenedSettings(admin_networks=ADMINS, guest_groups=[{"groups": ["web"], "tags": ["web"]}]))
    assert tree["guests"] == {} and tree["cluster"]["groups"] == [] and list(tree["nodes"]) == ["pve1"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"admin_networks": []}, "hardened_tree: admin_networks is empty: name the networks the administrators work from, or they lose access"),
        (
            {"guest_groups": [{"groups": ["web", "nosuch", "other"], "tags": ["web"]}]},
            "hardened_tree: guest_groups names groups that group_library does not have: nosuch, other",
        ),
        (
            {"group_library": {"web": {"comment": "no rules"}}, "guest_groups": [{"groups": ["web"], "vmids": [100]}]},
            "hardened_tree: group web of group_library has no rules",
        ),
        ({"guest_groups": {"groups": ["web"]}}, "hardened_tree: guest_groups must be a list, not dict"),
        ({"guest_groups": ["web"]}, "hardened_tree: guest_groups entry 1 must be a dictionary, not str"),
        ({"guest_groups": [{"groups": "web", "vmids": [100]}]}, "hardened_tree: groups of a guest_groups entry must be a list, not str"),
        ({"admin_networks": "192.0.2.0/24"}, "hardened_tree: admin_networks must be a list, not str"),
        ({"node_options": ["nosmurfs"]}, "hardened_tree: node_options must be a dictionary, not list"),
    ],
)
def test_what_the_filter_refuses(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(AnsibleFilterError) as failure:
        hardened_tree(CLUSTER, **{**ROLE_DEFAULTS, **arguments})
    assert str(failure.value) == message


def test_a_cluster_that_is_not_a_dictionary_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="^hardened_tree: the cluster must be a dictionary, not list$"):
        hardened_tree([], ADMINS)  # type: ignore[arg-type]


def test_filter_is_registered() -> None:
    assert hardened_tree_filter.FilterModule().filters() == {"hardened_tree": hardened_tree}
