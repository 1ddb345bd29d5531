"""The steps of a tree run: which parts of which files, in the safe order, and what each waits for."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import (
    Alias,
    ClusterConfig,
    FileKind,
    FirewallFile,
    GuestFirewall,
    IPSet,
    IPSetEntry,
    Level,
    Rule,
    SecurityGroup,
)
from ansible_collections.pve.firewall.plugins.module_utils._plan.tree_steps import PHASES, STAGES, Step, plan_steps, stage_config

ACCEPT = Rule("in", "ACCEPT", macro="SSH")
SET = IPSet("admins", None, (IPSetEntry("192.0.2.1"),))
GROUP = SecurityGroup("web", None, (Rule("in", "ACCEPT", macro="HTTPS"),))


def before() -> ClusterConfig:
    return ClusterConfig(
        FirewallFile(FileKind.CLUSTER),
        {"pve1": FirewallFile(FileKind.HOST), "pve2": FirewallFile(FileKind.HOST)},
        {100: GuestFirewall(100, Level.VM, FirewallFile(FileKind.GUEST))},
        {"vnet1": FirewallFile(FileKind.VNET)},
    )


def after() -> ClusterConfig:
    return ClusterConfig(
        FirewallFile(
            FileKind.CLUSTER,
            options={"enable": 1, "policy_in": "DROP"},
            aliases=(Alias("admin", "192.0.2.1"),),
            ipsets=(SET,),
            groups=(GROUP,),
            rules=(Rule("in", "ACCEPT", source="+admins"), Rule("group", "web")),
        ),
        {"pve1": FirewallFile(FileKind.HOST, options={"enable": 1}, rules=(ACCEPT,)), "pve2": FirewallFile(FileKind.HOST, rules=(ACCEPT,))},
        {100: GuestFirewall(100, Level.VM, FirewallFile(FileKind.GUEST, options={"enable": 1}, ipsets=(SET,), rules=(Rule("group", "web"),)))},
        {"vnet1": FirewallFile(FileKind.VNET, rules=(Rule("forward", "ACCEPT"),))},
    )


def by_id(steps: tuple[Step, ...]) -> dict[str, Step]:
    return {step.id: step for step in steps}


def waits_for(steps: tuple[Step, ...], later: str, earlier: str) -> bool:
    """Whether ``later`` cannot start before ``earlier`` ended (directly or through others)."""
    found = by_id(steps)
    seen, todo = set(), [later]
    while todo:
        for dependency in found[todo.pop()].after:
            if dependency == earlier:
                return True
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return False


def test_nothing_to_do_gives_no_step() -> None:
    assert plan_steps(after(), after()) == ()


def test_every_part_that_differs_is_one_step_in_the_safe_order() -> None:
    steps = plan_steps(before(), after(), nics=[100])
    assert [step.id for step in steps] == [
        "cluster aliases",
        "cluster ipset admins",
        "vm 100 ipset admins",
        "cluster group web",
        "vm 100 options",
        "node pve1 options",
        "vm 100 nics",
        "vm 100 rules",
        "node pve1 rules",
        "node pve2 rules",
        "vnet vnet1 rules",
        "cluster rules",
        "cluster options",
        "cluster enable",
    ]
    assert [PHASES[step.phase] for step in steps][-3:] == ["cluster_rules", "cluster_options", "enable"]


def test_what_rules_refer_to_is_written_before_them() -> None:
    steps = plan_steps(before(), after(), nics=[100])
    assert waits_for(steps, "vm 100 rules", "cluster group web")
    assert waits_for(steps, "cluster group web", "cluster ipset admins")
    assert waits_for(steps, "cluster ipset admins", "cluster aliases")
    assert waits_for(steps, "cluster rules", "node pve2 rules")
    assert waits_for(steps, "cluster enable", "cluster options")


def test_files_without_dependency_may_be_written_at_once() -> None:
    steps = plan_steps(before(), after(), nics=[100])
    for one, other in (("node pve1 rules", "node pve2 rules"), ("vm 100 rules", "vnet vnet1 rules"), ("cluster ipset admins", "vm 100 ipset admins")):
        assert not waits_for(steps, one, other) and not waits_for(steps, other, one)
    # a guest's NIC flags live in its config, not in its .fw file
    found = by_id(steps)
    assert found["vm 100 nics"].lock != found["vm 100 rules"].lock


def test_steps_of_one_file_follow_each_other() -> None:
    steps = plan_steps(before(), after(), nics=[100])
    assert waits_for(steps, "node pve1 rules", "node pve1 options")
    assert waits_for(steps, "vm 100 rules", "vm 100 options")
    locks = {}
    for step in steps:
        if step.lock in locks:
            assert waits_for(steps, step.id, locks[step.lock])
        locks[step.lock] = step.id


def test_enable_joins_the_other_options_when_asked() -> None:
    steps = plan_steps(before(), after(), joint_enable=True)
    assert "cluster enable" not in by_id(steps) and "cluster options" in by_id(steps)


def test_removals_come_last_groups_before_sets_before_aliases() -> None:
    pruned = ClusterConfig(FirewallFile(FileKind.CLUSTER), after().hosts, {100: GuestFirewall(100, Level.VM, FirewallFile(FileKind.GUEST))}, after().vnets)
    steps = plan_steps(after(), pruned)
    ids = [step.id for step in steps]
    assert ids[-4:] == ["cluster prune_group web", "cluster prune_ipset admins", "vm 100 prune_ipset admins", "cluster prune_alias"]
    assert waits_for(steps, "cluster prune_group web", "vm 100 rules")


def test_stage_config_takes_only_the_selected_parts() -> None:
    sets_only = stage_config(before(), after(), ["sets"])
    assert sets_only.cluster.ipsets == (SET,) and sets_only.cluster.rules == () and sets_only.cluster.groups == ()
    assert sets_only.hosts["pve1"].rules == ()
    without_enable = stage_config(before(), after(), [stage for stage in STAGES if stage != "enable"])
    assert without_enable.cluster.options == {"policy_in": "DROP"}
    assert stage_config(before(), after(), STAGES) == after()
    # a stage that removes nothing keeps what the target drops until prune
    kept = stage_config(after(), before(), ["sets", "groups"])
    assert kept.cluster.ipsets == (SET,) and kept.cluster.groups == (GROUP,)
    assert stage_config(after(), before(), ["prune"]).cluster.ipsets == ()


def with_admins(*cidrs: str, rules: tuple[Rule, ...] = ()) -> ClusterConfig:
    """The datacenter with the IP set admins of these entries (and these rules)."""
    admins = IPSet("admins", None, tuple(IPSetEntry(cidr) for cidr in cidrs))
    return ClusterConfig(FirewallFile(FileKind.CLUSTER, ipsets=(admins,), rules=rules), {}, {}, {})


def test_a_changed_set_gains_its_entries_with_the_sets_and_loses_the_dropped_ones_last() -> None:
    old = with_admins("192.0.2.0/24", "203.0.113.1", rules=(Rule("in", "ACCEPT", source="+admins"),))
    new = with_admins("198.51.100.0/24", "203.0.113.1", rules=(Rule("in", "ACCEPT", source="+admins", dport="8006", proto="tcp"),))
    steps = plan_steps(old, new)
    assert [(step.id, PHASES[step.phase]) for step in steps] == [
        ("cluster ipset admins", "ipsets"),
        ("cluster rules", "cluster_rules"),
        ("cluster prune_entries admins", "prune_entries"),
    ]
    assert waits_for(steps, "cluster prune_entries admins", "cluster rules")
    # every stage but prune: the set holds the old and the new entries
    held = [entry.cidr for entry in stage_config(old, new, [stage for stage in STAGES if stage != "prune"]).cluster.ipsets[0].entries]
    assert held == ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.1"]
    assert stage_config(old, new, STAGES) == new
    # prune alone takes out what the tree drops, even where the new entries are not written yet
    assert [entry.cidr for entry in stage_config(old, new, ["prune"]).cluster.ipsets[0].entries] == ["203.0.113.1"]
    sets_only = stage_config(old, new, ["sets"])
    assert [step.id for step in plan_steps(old, sets_only)] == ["cluster ipset admins"]
    assert [step.id for step in plan_steps(sets_only, stage_config(sets_only, new, ["prune"]))] == ["cluster prune_entries admins"]


def test_a_set_that_only_drops_entries_is_written_in_the_prune_phase_only() -> None:
    steps = plan_steps(with_admins("192.0.2.1", "192.0.2.2"), with_admins("192.0.2.1"))
    assert [(step.id, PHASES[step.phase]) for step in steps] == [("cluster prune_entries admins", "prune_entries")]
    assert PHASES.index("enable") < PHASES.index("prune_entries") < PHASES.index("prune_groups")


# -- a set that rules only deny loses its dropped entries first ----------------------------------

OLD_BAD = IPSet("bad", None, (IPSetEntry("192.0.2.1"), IPSetEntry("192.0.2.50")))
NEW_BAD = IPSet("bad", None, (IPSetEntry("192.0.2.99"),))


def with_bad(ipset: IPSet, *rules: Rule) -> ClusterConfig:
    config = before()
    return ClusterConfig(FirewallFile(FileKind.CLUSTER, ipsets=(ipset,), rules=rules), config.hosts, config.guests, config.vnets)


def cluster_parts(steps: tuple[Step, ...]) -> list[str]:
    return [f"{step.part} {step.name}" if step.name else step.part for step in steps if step.file.level == "cluster"]


def test_a_set_only_drop_rules_use_loses_its_dropped_entries_before_it_gains_the_new_ones() -> None:
    steps = plan_steps(with_bad(OLD_BAD), with_bad(NEW_BAD, Rule("in", "DROP", source="+bad"), ACCEPT))
    assert cluster_parts(steps) == ["prune_entries bad", "ipset bad", "rules"]
    assert by_id(steps)["cluster prune_entries bad"].phase == PHASES.index("ipsets")
    assert waits_for(steps, "cluster ipset bad", "cluster prune_entries bad")


def test_a_set_an_accept_rule_uses_anywhere_keeps_its_old_entries_until_the_rules_moved() -> None:
    for rules in ((Rule("in", "DROP", source="+bad"), Rule("in", "ACCEPT", dest="+bad")), (Rule("in", "ACCEPT", source="+dc/bad"),)):
        steps = plan_steps(with_bad(OLD_BAD, *rules), with_bad(NEW_BAD, Rule("in", "DROP", source="+bad")))
        assert cluster_parts(steps) == ["ipset bad", "rules", "prune_entries bad"], rules


def test_the_deny_order_holds_for_the_stages_a_call_selects() -> None:
    """A call of the role that writes only the sets stage writes a deny set exactly."""
    old, new = with_bad(OLD_BAD), with_bad(NEW_BAD, Rule("in", "DROP", source="+bad"))
    assert stage_config(old, new, ["sets"]).cluster.ipsets == (NEW_BAD,)
    accepted = with_bad(NEW_BAD, Rule("in", "ACCEPT", source="+bad"))
    assert sorted(entry.cidr for entry in stage_config(old, accepted, ["sets"]).cluster.ipsets[0].entries) == ["192.0.2.1", "192.0.2.50", "192.0.2.99"]


# -- a group the change only narrows follows the rules --------------------------------------------

ADMIN_GROUP = SecurityGroup("admin", None, (Rule("in", "ACCEPT", source="192.0.2.5", proto="tcp", dport="8006"),))
JUMP = Rule("group", "admin")


def with_group(group: SecurityGroup, *rules: Rule) -> ClusterConfig:
    config = before()
    return ClusterConfig(FirewallFile(FileKind.CLUSTER, groups=(group,), rules=rules), config.hosts, config.guests, config.vnets)


def test_a_group_that_only_loses_accept_rules_is_written_after_the_datacenter_rules() -> None:
    old = with_group(ADMIN_GROUP, JUMP)
    new = with_group(SecurityGroup("admin", None, ()), *ADMIN_GROUP.rules, JUMP)
    steps = plan_steps(old, new)
    assert cluster_parts(steps) == ["rules", "group admin"]
    assert by_id(steps)["cluster group admin"].phase == PHASES.index("late_groups")
    assert waits_for(steps, "cluster group admin", "cluster rules")
    # the role's calls: the groups stage leaves it, the datacenter rules' stage writes it
    assert stage_config(old, new, ["groups"]).cluster.groups == old.cluster.groups
    assert stage_config(old, new, ["cluster_rules"]).cluster.groups == new.cluster.groups


def test_a_group_that_may_widen_or_gains_a_jumping_file_goes_before_the_rules() -> None:
    widened = SecurityGroup("admin", None, (Rule("in", "ACCEPT", source="192.0.2.77", proto="tcp", dport="8006"),))
    assert cluster_parts(plan_steps(with_group(ADMIN_GROUP, JUMP), with_group(widened, *ADMIN_GROUP.rules, JUMP))) == ["group admin", "rules"]
    emptied = SecurityGroup("admin", None, ())
    # the datacenter did not jump to it before: it must not meet the old rules on the way
    assert cluster_parts(plan_steps(with_group(ADMIN_GROUP), with_group(emptied, JUMP))) == ["group admin", "rules"]
