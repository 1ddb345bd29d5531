"""Which IP sets rules only deny: their dropped entries leave before the new ones come."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import (
    ClusterConfig,
    FileKind,
    FirewallFile,
    GuestFirewall,
    Level,
    Rule,
    SecurityGroup,
)
from ansible_collections.pve.firewall.plugins.module_utils._plan.set_entries import deny_sets


def config(cluster_rules: tuple[Rule, ...] = (), *, group_rules: tuple[Rule, ...] = (), guest_rules: tuple[Rule, ...] = ()) -> ClusterConfig:
    groups = (SecurityGroup("g", None, group_rules),) if group_rules else ()
    return ClusterConfig(
        FirewallFile(FileKind.CLUSTER, rules=cluster_rules, groups=groups),
        {"pve1": FirewallFile(FileKind.HOST)},
        {100: GuestFirewall(100, Level.VM, FirewallFile(FileKind.GUEST, rules=guest_rules))},
        {},
    )


def test_blacklist_is_denied_and_management_accepted_by_pve_itself() -> None:
    assert deny_sets(config()) == frozenset({"blacklist"})
    assert "management" not in deny_sets(config((Rule("in", "DROP", source="+management"),)))


def test_a_set_is_denied_only_when_every_rule_naming_it_drops_or_rejects_it() -> None:
    dropped = config((Rule("in", "DROP", source="+bad"), Rule("out", "REJECT", dest="+dc/bad")))
    assert "bad" in deny_sets(dropped)
    assert "bad" not in deny_sets(dropped, config((Rule("in", "ACCEPT", source="+bad"),)))  # before or after
    assert "bad" not in deny_sets(config((Rule("in", "DROP", source="+bad"),), group_rules=(Rule("in", "ACCEPT", source="+bad"),)))
    assert "bad" not in deny_sets(config((Rule("in", "DROP", source="+bad"),), guest_rules=(Rule("in", "ACCEPT", source="+bad"),)))
    assert "blacklist" not in deny_sets(config((Rule("in", "ACCEPT", source="+blacklist"),)))


def test_a_guest_set_of_the_same_name_is_not_the_datacenter_set() -> None:
    assert "bad" not in deny_sets(config(guest_rules=(Rule("in", "DROP", source="+guest/bad"),)))
