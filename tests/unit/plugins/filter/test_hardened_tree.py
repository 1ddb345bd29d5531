"""The pve.firewall.hardened_tree filter against roles/hardened_defaults/templates/tree.json.j2,
the template it replaces: for the same variables both build the same tree, keys and items in
the same order. The template is rendered by Ansible's own templar, as the role's lookup did."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.pve.firewall.plugins.filter.hardened_tree import hardened_tree

ROLE = Path(__file__).resolve().parents[4] / "roles" / "hardened_defaults"
PREFIX = "hardened_defaults_"


def role_defaults() -> dict[str, Any]:
    text = (ROLE / "defaults" / "main.yml").read_text()
    text = text.replace("{{ hardened_defaults_admin_ipset }}", "management").replace("{{ hardened_defaults_database_clients_ipset }}", "dbclients")
    return yaml.safe_load(text)


def render_template(cluster: dict[str, Any], variables: dict[str, Any]) -> Any:
    text = (ROLE / "templates" / "tree.json.j2").read_text()
    templar = Templar(loader=DataLoader(), variables={**copy.deepcopy(variables), "hardened_defaults__cluster": copy.deepcopy(cluster)})
    return json.loads(templar.template(trust_as_template(text)))


def run_filter(cluster: dict[str, Any], variables: dict[str, Any]) -> Any:
    args = {key.removeprefix(PREFIX): copy.deepcopy(value) for key, value in variables.items() if key.startswith(PREFIX) and key != PREFIX + "rules_state"}
    return hardened_tree(copy.deepcopy(cluster), **args)


def guest(vmid: int, *tags: str) -> dict[str, Any]:
    return {"vmid": vmid, "type": "qemu", "level": "vm", "node": "pve1", "name": f"g{vmid}", "tags": list(tags)}


CLUSTER = {
    "nodes": {"pve1": {}, "pve2": {}, "pve3": {}},
    "guests": {"100": guest(100, "web"), "101": guest(101, "web", "db"), "102": guest(102, "db"), "200": guest(200, "infra"), "201": guest(201)},
}

CASES = {
    "defaults": {},
    "tags": {PREFIX + "guest_groups": [{"groups": ["web"], "tags": ["web"]}, {"groups": ["database"], "tags": ["db"]}]},
    "vmids": {PREFIX + "guest_groups": [{"groups": ["dns", "ssh"], "vmids": [200]}, {"groups": ["ssh", "rdp"], "vmids": [201, 200]}]},
    "tags and vmids": {PREFIX + "guest_groups": [{"groups": ["mail"], "vmids": [102], "tags": ["web"]}, {"groups": ["Mail", "web"], "tags": ["web"]}]},
    "custom set names": {
        PREFIX + "admin_ipset": "admins",
        PREFIX + "database_clients_ipset": "sqlclients",
        PREFIX + "database_clients": ["10.0.0.0/24"],
        PREFIX + "guest_groups": [{"groups": ["database"], "tags": ["db"]}],
    },
    "no groups": {PREFIX + "guest_groups": []},
    "no admin rules, more rules and options, some nodes": {
        PREFIX + "admin_rules": False,
        PREFIX + "cluster_rules": [{"type": "in", "action": "ACCEPT", "macro": "Ping"}],
        PREFIX + "cluster_options": {"policy_in": "REJECT", "log_ratelimit": "enable=1,rate=1/second"},
        PREFIX + "enable": False,
        PREFIX + "nodes": ["pve2"],
        PREFIX + "guest_nic_firewall": False,
        PREFIX + "guest_options": {"enable": True},
        PREFIX + "group_library": {"only": {"rules": []}, "web": {"comment": "w", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTP"}]}},
        PREFIX + "guest_groups": [{"groups": ["only", "web"], "vmids": [101]}],
    },
}


@pytest.mark.parametrize("name", CASES)
def test_the_filter_builds_the_tree_the_template_built(name: str) -> None:
    variables = {**role_defaults(), PREFIX + "admin_networks": ["127.0.0.1/32", "198.51.100.0/24"], **CASES[name]}
    expected = render_template(CLUSTER, variables)
    got = run_filter(CLUSTER, variables)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # the same order of keys and items too
