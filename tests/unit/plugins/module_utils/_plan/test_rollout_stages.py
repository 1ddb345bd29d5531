"""The configurations a rollout passes through: a tree whose end state keeps access can still
cut it off on the way, and the stages show where."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import config_from_texts
from ansible_collections.pve.firewall.plugins.module_utils._engine.lockout import OperatorView, analyse_lockout
from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import Environment
from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Inventory, Node
from ansible_collections.pve.firewall.plugins.module_utils._plan.rollout_stages import rollout_stages
from ansible_collections.pve.firewall.plugins.module_utils._plan.tree import apply_tree, canonical_config, tree_from_user

NODES = Inventory({"pve1": Node("pve1", "192.0.2.11", "192.0.2.0/24"), "pve2": Node("pve2", "192.0.2.12", "192.0.2.0/24")})
ADMIN = "198.51.100.5"
CLUSTER = f"""[OPTIONS]
enable: 1
policy_in: DROP

[RULES]
GROUP admin

[IPSET old]
192.0.2.99

[group admin]
IN ACCEPT -source {ADMIN} -p tcp -dport 8006
IN ACCEPT -source {ADMIN} -p tcp -dport 22
"""


def kept(config) -> bool:  # type: ignore[no-untyped-def]
    return analyse_lockout(config, Environment(NODES), OperatorView((ADMIN,))).ok


def stages_of(tree_data: dict, **kwargs):  # type: ignore[no-untyped-def,type-arg]
    config = config_from_texts(CLUSTER, inventory=NODES).config
    tree, errors = tree_from_user(tree_data)
    assert errors == []
    return config, tree, rollout_stages(config, tree, NODES, **kwargs)


def test_a_group_emptied_while_the_rules_take_over_follows_them_and_keeps_access() -> None:
    admin_rules = [{"type": "in", "action": "ACCEPT", "source": ADMIN, "proto": "tcp", "dport": port} for port in ("8006", "22")]
    tree = {"cluster": {"groups": [{"name": "admin", "rules": []}], "rules": [*admin_rules, {"type": "group", "action": "admin"}]}}
    _config, _parsed, stages = stages_of(tree)
    assert [(stage.label, kept(stage.config)) for stage in stages] == [("datacenter rules", True), ("datacenter security group admin", True)]


def test_a_group_replaced_before_the_rules_take_over_cuts_access_on_the_way() -> None:
    """The group gains an ACCEPT rule too (it may widen): it goes before the rules."""
    admin_rules = [{"type": "in", "action": "ACCEPT", "source": ADMIN, "proto": "tcp", "dport": port} for port in ("8006", "22")]
    other = {"type": "in", "action": "ACCEPT", "source": "192.0.2.77", "proto": "tcp", "dport": "8006"}
    tree = {"cluster": {"groups": [{"name": "admin", "rules": [other]}], "rules": [*admin_rules, {"type": "group", "action": "admin"}]}}
    config, parsed, stages = stages_of(tree)
    assert [stage.label for stage in stages] == ["datacenter security group admin", "datacenter rules"]
    assert kept(config) and kept(apply_tree(config, parsed, NODES))  # the end state keeps access
    assert [kept(stage.config) for stage in stages] == [False, True]  # but not the way there


def test_the_order_is_firewall_trees_and_unchanged_steps_are_left_out() -> None:
    tree = {
        "cluster": {
            "ipsets": [{"name": "office", "entries": ["192.0.2.0/24"]}],
            "aliases": [{"name": "gw", "cidr": "192.0.2.1"}],
            "options": {"enable": True, "policy_in": "DROP", "policy_out": "ACCEPT"},
            "rules": [{"type": "group", "action": "admin"}],
        },
        "nodes": {"pve2": {"rules": [{"type": "in", "action": "ACCEPT", "macro": "Ping"}]}, "pve1": {"options": {"nosmurfs": True}}},
    }
    _config, _tree, stages = stages_of(tree, prune=True)
    # firewall_tree's order: aliases before the IP sets whose entries may name them, nodes by
    # name, and each object prune removes a step of its own
    assert [stage.label for stage in stages] == [
        "datacenter aliases",
        "datacenter IP set office",
        "node pve1 options",
        "node pve2 rules",
        "datacenter options",
        "datacenter IP set old removed",
    ]
    assert all(kept(stage.config) for stage in stages)


def test_the_last_stage_is_the_end_state() -> None:
    tree = {"cluster": {"options": {"enable": False}}}
    config, parsed, stages = stages_of(tree)
    assert [stage.label for stage in stages] == ["datacenter enable"]
    assert stages[-1].config.cluster == apply_tree(config, parsed, NODES).cluster


OFFICE = f"""[OPTIONS]
enable: 1
policy_in: DROP

[RULES]
IN ACCEPT -source +office -p tcp -dport 8006,22

[IPSET office]
{ADMIN}
"""


def office_stages(tree_data: dict):  # type: ignore[no-untyped-def,type-arg]
    config = config_from_texts(OFFICE, inventory=NODES).config
    tree, errors = tree_from_user(tree_data)
    assert errors == []
    return config, tree, rollout_stages(config, tree, NODES)


def test_a_set_holds_its_old_and_new_entries_until_the_rules_have_moved() -> None:
    """office drops the admin for other hosts, a new set takes the admin over: written at once,
    office would cut the admin off before the rule using the new set is there."""
    rules = [{"type": "in", "action": "ACCEPT", "source": source, "proto": "tcp", "dport": "8006,22"} for source in ("+office", "+ops")]
    tree = {"cluster": {"ipsets": [{"name": "office", "entries": ["192.0.2.99"]}, {"name": "ops", "entries": [ADMIN]}], "rules": rules}}
    config, parsed, stages = office_stages(tree)
    assert [stage.label for stage in stages] == [
        "datacenter IP set office",
        "datacenter IP set ops",
        "datacenter rules",
        "datacenter IP set office dropped entries removed",
    ]
    office = [[entry.cidr for entry in stage.config.cluster.ipsets[0].entries] for stage in stages]
    assert office == [["192.0.2.99", ADMIN]] * 3 + [["192.0.2.99"]]
    assert all(kept(stage.config) for stage in stages)
    assert stages[-1].config.cluster == apply_tree(config, parsed, NODES).cluster


def test_dropping_the_entries_the_rules_still_use_is_the_stage_that_cuts_access() -> None:
    tree = {"cluster": {"ipsets": [{"name": "office", "entries": ["192.0.2.99"]}]}}
    _config, _tree, stages = office_stages(tree)
    assert [(stage.label, kept(stage.config)) for stage in stages] == [
        ("datacenter IP set office", True),
        ("datacenter IP set office dropped entries removed", False),
    ]


ADMIN_RULE = [{"type": "in", "action": "ACCEPT", "source": ADMIN, "proto": "tcp", "dport": "8006,22"}]


def test_a_drop_rule_on_a_set_that_still_holds_the_admin_passes_once_the_set_is_trimmed_first() -> None:
    """office holds the admin and no rule uses it; the tree trims it and drops what is left:
    its dropped entries leave before the DROP rule lands, so no stage cuts the admin off."""
    config = config_from_texts(OFFICE.replace("+office", ADMIN), inventory=NODES).config
    tree, errors = tree_from_user(
        {"cluster": {"ipsets": [{"name": "office", "entries": ["192.0.2.99"]}], "rules": [{"type": "in", "action": "DROP", "source": "+office"}, *ADMIN_RULE]}}
    )
    assert errors == []
    stages = rollout_stages(config, tree, NODES)
    assert [stage.label for stage in stages] == ["datacenter IP set office dropped entries removed", "datacenter IP set office", "datacenter rules"]
    assert all(kept(stage.config) for stage in stages)


def test_every_step_of_every_file_ends_in_the_end_state() -> None:
    """The stages are laid step by step; the last holds the datacenter and the nodes exactly
    as the end state does (objects compared by name: only their order may differ)."""
    config = config_from_texts(CLUSTER, inventory=NODES).config
    tree, errors = tree_from_user(
        {
            "cluster": {
                "aliases": [{"name": "gw", "cidr": "192.0.2.1"}],
                "ipsets": [{"name": "old", "entries": ["192.0.2.98"]}, {"name": "new", "entries": ["gw"]}],
                "groups": [
                    {"name": "web", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}]},
                    {"name": "admin", "rules": [{"type": "in", "action": "ACCEPT", "source": ADMIN, "proto": "tcp", "dport": port} for port in ("8006", "22")]},
                ],
                "rules": [{"type": "group", "action": "admin"}, {"type": "group", "action": "web"}],
                "options": {"policy_out": "ACCEPT", "enable": True},
            },
            "nodes": {"pve1": {"options": {"nosmurfs": True}, "rules": [{"type": "in", "action": "ACCEPT", "macro": "Ping"}]}},
        }
    )
    assert errors == []
    stages = rollout_stages(config, tree, NODES, prune=True)
    end = canonical_config(apply_tree(config, tree, NODES, prune=True))
    last = stages[-1].config

    def by_name(items):  # type: ignore[no-untyped-def]
        return sorted(items, key=lambda item: item.name)

    for part in ("ipsets", "aliases", "groups"):
        assert by_name(getattr(last.cluster, part)) == by_name(getattr(end.cluster, part)), part
    assert (last.cluster.rules, last.cluster.options, last.hosts) == (end.cluster.rules, end.cluster.options, end.hosts)
    assert all(kept(stage.config) for stage in stages)
