"""What ``make bench-compare`` asks of both collections, and how it judges the answers.

Pure data and functions, no I/O (tests/unit/bench_compare covers them):

* the cluster (3 nodes, 10 guests) and the desired states: a realistic firewall, its
  options, a 50-rule list and a 10,000-entry blocklist set, each as a :class:`Cluster`;
* the scenarios, each a state before and a state after;
* :func:`render_files`: a state as PVE's ``.fw`` files, to seed the emulator with the state
  before (the same bytes for both collections);
* :func:`expected_state` and :func:`canonical_rule` & co: a state as the API reads it back,
  and :func:`differences` between two such read-backs;
* :func:`lower_bound`: the fewest requests a client needs for a scenario.

Rules are written the way both collections take them: PVE's key names (``icmp_type`` for
``icmp-type``), ``enable`` a boolean (default true), values in the form PVE reads them back.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

NODES = ("pve1", "pve2", "pve3")
RULE_KEYS = ("type", "action", "macro", "iface", "source", "dest", "proto", "dport", "sport", "icmp-type", "log", "comment", "enable")
# What a read adds to a rule that is not part of it
READ_ONLY_RULE_KEYS = ("pos", "digest", "ipversion")

Rule = Mapping[str, Any]


@dataclass(frozen=True)
class Guest:
    vmid: int
    level: str  # vm or ct
    node: str

    @property
    def key(self) -> str:
        return f"{self.level}/{self.vmid}"


def make_guests(count: int = 10) -> tuple[Guest, ...]:
    """VMs 100.. and CTs 200.., one in three a container, round robin over the nodes."""
    found = []
    for index in range(count):
        is_ct = index % 3 == 2
        found.append(Guest((200 if is_ct else 100) + index, "ct" if is_ct else "vm", NODES[index % len(NODES)]))
    return tuple(found)


GUESTS = make_guests()


def topology() -> dict[str, Any]:
    """The emulator's cluster: the nodes and the guests, one firewalled NIC each."""
    return {
        "nodes": [{"name": name} for name in NODES],
        "guests": [
            {
                "vmid": guest.vmid,
                "type": "qemu" if guest.level == "vm" else "lxc",
                "node": guest.node,
                "nics": [{"bridge": "vmbr0", "ip": f"10.0.{guest.vmid // 250}.{guest.vmid % 250 + 2}/16", "firewall": True}],
            }
            for guest in GUESTS
        ],
    }


def list_keys() -> tuple[str, ...]:
    """Every rule list (and options object) of the cluster: ``cluster``, ``node/N``, ``vm/V``, ``ct/V``."""
    return ("cluster", *(f"node/{node}" for node in NODES), *(guest.key for guest in GUESTS))


def guest_of(key: str) -> Guest:
    return next(guest for guest in GUESTS if guest.key == key)


# --------------------------------------------------------------------------------------------
# Desired states


@dataclass(frozen=True)
class Entry:
    cidr: str
    nomatch: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class IPSet:
    comment: str | None
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Alias:
    cidr: str
    comment: str | None = None


@dataclass(frozen=True)
class Group:
    comment: str | None
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Cluster:
    """The whole firewall configuration of the cluster; what is not listed is empty."""

    aliases: Mapping[str, Alias] = field(default_factory=dict)
    ipsets: Mapping[str, IPSet] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)  # by list key
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by list key


def _rule(kind: str, action: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "action": action, **fields}


ALIASES = {
    "gateway": Alias("10.0.0.1", "default gateway"),
    "monitor": Alias("10.20.0.10", "prometheus"),
    "backupsrv": Alias("10.30.5.5", "backup server"),
    "resolver6": Alias("2001:db8::53"),
}

IPSETS = {
    "admins": IPSet(
        "admin networks",
        (Entry("192.0.2.0/26"), Entry("192.0.2.32/27", nomatch=True, comment="guests wifi"), Entry("192.0.2.200", comment="jump host")),
    ),
    "backends": IPSet(
        "application servers",
        (Entry("10.30.0.0/24"), Entry("10.30.1.0/24"), Entry("10.30.2.10"), Entry("10.30.2.11"), Entry("10.30.2.12")),
    ),
}

GROUPS = {
    "webserver": Group(
        "public web servers",
        (
            _rule("in", "ACCEPT", macro="HTTPS"),
            _rule("in", "ACCEPT", macro="HTTP"),
            _rule("in", "ACCEPT", proto="tcp", dport="8443", source="+backends"),
            _rule("in", "DROP", proto="tcp", dport="8080", log="info", comment="no direct app access"),
            _rule("out", "ACCEPT", proto="tcp", dport="5432", dest="+backends"),
        ),
    ),
    "dbserver": Group(
        "databases",
        (
            _rule("in", "ACCEPT", proto="tcp", dport="5432", source="+backends"),
            _rule("in", "ACCEPT", proto="tcp", dport="3306", source="+backends"),
            _rule("in", "ACCEPT", proto="tcp", dport="9187", source="monitor", comment="exporter"),
            _rule("in", "DROP", proto="tcp", dport="5432,3306", log="info", comment="everyone else"),
            _rule("out", "ACCEPT", proto="tcp", dport="873", dest="backupsrv", enable=False),
        ),
    ),
}

CLUSTER_RULES = (
    _rule("in", "ACCEPT", macro="SSH", source="+admins", comment="admin ssh"),
    _rule("in", "ACCEPT", proto="tcp", dport="8006", source="+admins", comment="web ui"),
    _rule("in", "ACCEPT", macro="Ping", source="10.0.0.0/8"),
    _rule("in", "ACCEPT", proto="udp", dport="5405:5412", source="10.10.0.0/24", comment="corosync"),
    _rule("in", "ACCEPT", proto="tcp", dport="9100", source="monitor"),
    _rule("out", "ACCEPT", proto="tcp", dport="443", dest="198.51.100.0/24"),
    _rule("out", "ACCEPT", macro="DNS", dest="resolver6"),
    _rule("in", "REJECT", proto="tcp", dport="25", log="warning"),
    _rule("out", "DROP", dest="203.0.113.0/24", log="info", comment="test net"),
    _rule("in", "ACCEPT", proto="tcp", dport="3128", source="+backends", enable=False, comment="proxy, off for now"),
)


def node_rules(index: int) -> tuple[Rule, ...]:
    return (
        _rule("in", "ACCEPT", macro="SSH", source="+admins", iface="vmbr0"),
        _rule("in", "ACCEPT", proto="tcp", dport="8006", source="+admins"),
        _rule("in", "ACCEPT", proto="udp", dport="5405:5412", source="10.10.0.0/24", comment="corosync"),
        _rule("in", "ACCEPT", proto="tcp", dport="9100", source="monitor", comment=f"node exporter {index}"),
        _rule("in", "DROP", proto="tcp", dport="111", log="info", comment="rpcbind"),
    )


def guest_rules(index: int) -> tuple[Rule, ...]:
    """Ten rules: a security group, set and alias references, ports, a macro, logging, comments."""
    return (
        _rule("group", "webserver" if index % 2 == 0 else "dbserver", iface="net0"),
        _rule("in", "ACCEPT", proto="tcp", dport=str(8000 + index), source="+backends", comment=f"app {index}"),
        _rule("in", "ACCEPT", macro="Ping", source="10.0.0.0/8"),
        _rule("in", "ACCEPT", macro="SSH", source="+admins"),
        _rule("in", "ACCEPT", proto="tcp", dport="80,443", iface="net0"),
        _rule("in", "REJECT", proto="tcp", dport="25", log="warning"),
        _rule("out", "ACCEPT", proto="tcp", dport="443", dest="198.51.100.0/24"),
        _rule("out", "ACCEPT", proto="udp", dport="123", dest="gateway", comment="ntp"),
        _rule("out", "ACCEPT", macro="DNS", dest="resolver6"),
        _rule("out", "DROP", dest="203.0.113.0/24", enable=index % 4 != 0),
    )


def realistic_cluster() -> Cluster:
    """Datacenter rules, 2 groups, 3 node lists, 10 guest lists, 2 IP sets, 4 aliases."""
    rules: dict[str, tuple[Rule, ...]] = {"cluster": CLUSTER_RULES}
    rules.update({f"node/{node}": node_rules(index) for index, node in enumerate(NODES)})
    rules.update({guest.key: guest_rules(index) for index, guest in enumerate(GUESTS)})
    return Cluster(aliases=dict(ALIASES), ipsets=dict(IPSETS), groups=dict(GROUPS), rules=rules)


def options_cluster() -> Cluster:
    """The firewall switched on: datacenter, node and guest options."""
    options: dict[str, dict[str, Any]] = {"cluster": {"enable": True, "policy_in": "DROP", "policy_out": "ACCEPT"}}
    options.update({f"node/{node}": {"log_level_in": "info", "protection_synflood": True} for node in NODES})
    options.update({guest.key: {"enable": True, "policy_in": "DROP", "log_level_in": "info"} for guest in GUESTS})
    return Cluster(options=options)


LONG_LIST = 50
INSERT_AT = 25  # the inserted rule's index in the 51-rule list
CHANGED_RULE = 30  # the rule whose dport changes
CHANGED_DPORT = "10443"


def long_rules(count: int = LONG_LIST) -> tuple[Rule, ...]:
    """A long datacenter list, as varied as real ones: some with comments, sources or logging."""
    found = []
    for index in range(count):
        fields: dict[str, Any] = {"proto": "tcp" if index % 3 else "udp", "dport": str(10000 + index)}
        if index % 2 == 0:
            fields["source"] = f"10.{index}.0.0/16"
        if index % 4 == 1:
            fields["comment"] = f"service {index}"
        if index % 5 == 3:
            fields["log"] = "info"
        if index % 7 == 6:
            fields["enable"] = False
        found.append(_rule("in", "DROP" if index % 6 == 5 else "ACCEPT", **fields))
    return tuple(found)


INSERTED_RULE = _rule("in", "ACCEPT", proto="tcp", dport="9443", source="192.0.2.0/24", comment="inserted")


def with_inserted(rules: Sequence[Rule], index: int, rule: Rule) -> tuple[Rule, ...]:
    return (*rules[:index], rule, *rules[index:])


def with_changed(rules: Sequence[Rule], index: int, **fields: Any) -> tuple[Rule, ...]:
    return (*rules[:index], {**rules[index], **fields}, *rules[index + 1 :])


BLOCKLIST = "blocklist"
BLOCKLIST_COMMENT = "drop feed"
BLOCKLIST_NET = ipaddress.IPv4Network("198.18.0.0/15")  # benchmarking range
BLOCKLIST_SIZE = 10_000
BLOCKLIST_DELTA = 100


def blocklist_feeds(size: int = BLOCKLIST_SIZE, delta: int = BLOCKLIST_DELTA, seed: int = 7) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The feed before and after: ``delta`` host addresses removed, ``delta`` new ones added."""
    rng = random.Random(seed)
    hosts = rng.sample(range(1, BLOCKLIST_NET.num_addresses - 1), size + delta)
    first = int(BLOCKLIST_NET.network_address)
    addresses = [str(ipaddress.IPv4Address(first + host)) for host in hosts]
    before = addresses[:size]
    removed = set(rng.sample(before, delta))
    after = [cidr for cidr in before if cidr not in removed] + addresses[size:]
    return tuple(before), tuple(after)


def blocklist_cluster(entries: Sequence[str]) -> Cluster:
    return Cluster(ipsets={BLOCKLIST: IPSet(BLOCKLIST_COMMENT, tuple(Entry(cidr) for cidr in entries))})


# --------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class Scenario:
    name: str  # short, for the command line
    title: str
    before: Cluster
    after: Cluster
    # Why community.proxmox cannot express it (it then does not run), or how it had to be
    # expressed (it runs).
    community_cannot: str | None = None
    community_note: str | None = None


def scenarios() -> tuple[Scenario, ...]:
    realistic = realistic_cluster()
    long = Cluster(rules={"cluster": long_rules()})
    feed_before, feed_after = blocklist_feeds()
    return (
        Scenario("converge", "converge a realistic cluster from empty", Cluster(), realistic),
        Scenario("rerun", "rerun it, no change", realistic, realistic),
        Scenario(
            "options",
            "firewall options: datacenter, 3 nodes, 10 guests",
            Cluster(),
            options_cluster(),
            community_cannot="no module of community.proxmox sets firewall options",
        ),
        Scenario(
            "insert",
            f"insert 1 rule in the middle of a {LONG_LIST}-rule list",
            long,
            replace(long, rules={"cluster": with_inserted(long_rules(), INSERT_AT, INSERTED_RULE)}),
        ),
        Scenario(
            "change",
            f"change 1 field of 1 rule in a {LONG_LIST}-rule list",
            long,
            replace(long, rules={"cluster": with_changed(long_rules(), CHANGED_RULE, dport=CHANGED_DPORT)}),
        ),
        Scenario(
            "ipset",
            f"{BLOCKLIST_SIZE:,}-entry IP set: add {BLOCKLIST_DELTA}, remove {BLOCKLIST_DELTA}",
            blocklist_cluster(feed_before),
            blocklist_cluster(feed_after),
            community_note=(
                "two tasks: the whole new list with state present (it adds), then the removed entries "
                "with state absent (proxmox_firewall never removes entries it is not told to)"
            ),
        ),
    )


# --------------------------------------------------------------------------------------------
# .fw files of a state (to seed the emulator)


def _fw_value(value: Any) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


def rule_line(rule: Rule) -> str:
    """One rule as PVE writes it (reference 3.4)."""
    kind = str(rule["type"])
    head = "" if rule.get("enable", True) else "|"
    if kind == "group":
        text = f"{head}GROUP {rule['action']}"
    elif rule.get("macro"):
        text = f"{head}{kind.upper()} {rule['macro']}({rule['action']})"
    else:
        text = f"{head}{kind.upper()} {rule['action']}"
    if rule.get("iface"):
        text += f" -i {rule['iface']}"
    for key, flag in (("source", "-source"), ("dest", "-dest"), ("proto", "-p"), ("dport", "-dport"), ("sport", "-sport"), ("log", "-log")):
        if rule.get(key):
            text += f" {flag} {rule[key]}"
    icmp = rule.get("icmp_type") or rule.get("icmp-type")
    if icmp:
        text += f" -icmp-type {icmp}"
    if rule.get("comment"):
        text += f" # {rule['comment']}"
    return text


def _section(header: str, lines: Sequence[str]) -> str:
    return f"{header}\n\n" + "".join(f"{line}\n" for line in lines) + "\n"


def _options_section(options: Mapping[str, Any]) -> str:
    return _section("[OPTIONS]", [f"{key}: {_fw_value(value)}" for key, value in sorted(options.items())]) if options else ""


def render_files(cluster: Cluster) -> dict[str, str]:
    """The state directory's files (paths as the emulator's control API names them)."""
    files: dict[str, str] = {}
    text = _options_section(cluster.options.get("cluster", {}))
    if cluster.aliases:
        text += _section(
            "[ALIASES]", [f"{name} {alias.cidr}" + (f" # {alias.comment}" if alias.comment else "") for name, alias in sorted(cluster.aliases.items())]
        )
    for name, ipset in sorted(cluster.ipsets.items()):
        header = f"[IPSET {name}]" + (f" # {ipset.comment}" if ipset.comment else "")
        entries = sorted(ipset.entries, key=lambda entry: entry.cidr)  # as PVE writes them
        lines = [("!" if entry.nomatch else "") + entry.cidr + (f" # {entry.comment}" if entry.comment else "") for entry in entries]
        text += _section(header, lines)
    if cluster.rules.get("cluster"):
        text += _section("[RULES]", [rule_line(rule) for rule in cluster.rules["cluster"]])
    for name, group in sorted(cluster.groups.items()):
        text += _section(f"[group {name}]" + (f" # {group.comment}" if group.comment else ""), [rule_line(rule) for rule in group.rules])
    if text:
        files["firewall/cluster.fw"] = text
    for key in list_keys()[1:]:
        text = _options_section(cluster.options.get(key, {}))
        if cluster.rules.get(key):
            text += _section("[RULES]", [rule_line(rule) for rule in cluster.rules[key]])
        if text:
            kind, name = key.split("/")
            files[f"nodes/{name}/host.fw" if kind == "node" else f"firewall/{name}.fw"] = text
    return files


# --------------------------------------------------------------------------------------------
# States as the API reads them back, and their differences


def canonical_rule(rule: Rule) -> tuple[tuple[str, str], ...]:
    """A rule of a spec, or as a GET returns it, in one comparable form."""
    out = {}
    for key, value in rule.items():
        key = "icmp-type" if key == "icmp_type" else key
        if key in READ_ONLY_RULE_KEYS or value is None:
            continue
        out[key] = _fw_value(value)
    out.setdefault("enable", "1")  # a read always has it; a spec means enabled without it
    return tuple(sorted(out.items()))


def canonical_entry(entry: Mapping[str, Any]) -> tuple[str, bool, str | None]:
    return (str(entry["cidr"]), bool(entry.get("nomatch")), entry.get("comment") or None)


def canonical_options(options: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key, _fw_value(value)) for key, value in options.items() if key != "digest"))


State = dict[str, Any]


def expected_state(cluster: Cluster) -> State:
    """What reading the whole cluster back gives when it holds ``cluster``."""
    state: State = {
        "aliases": {name.lower(): (alias.cidr, alias.comment) for name, alias in cluster.aliases.items()},
        "ipsets": {
            name: (ipset.comment, frozenset((entry.cidr, entry.nomatch, entry.comment) for entry in ipset.entries)) for name, ipset in cluster.ipsets.items()
        },
        "groups": {name: (group.comment, tuple(canonical_rule(rule) for rule in group.rules)) for name, group in cluster.groups.items()},
    }
    for key in list_keys():
        state[f"rules {key}"] = tuple(canonical_rule(rule) for rule in cluster.rules.get(key, ()))
        state[f"options {key}"] = canonical_options(cluster.options.get(key, {}))
    for guest in GUESTS:  # the scenarios keep guests' aliases and sets empty: a tool must not add any
        state[f"aliases {guest.key}"] = {}
        state[f"ipsets {guest.key}"] = {}
    return state


def _describe_rules(wanted: Sequence[Any], got: Sequence[Any]) -> str:
    if len(wanted) != len(got):
        return f"{len(got)} rules, expected {len(wanted)}"
    index = next(index for index, (one, two) in enumerate(zip(wanted, got)) if one != two)
    return f"rule {index} is {dict(got[index])}, expected {dict(wanted[index])}"


def differences(expected: State, actual: State, limit: int = 3) -> list[str]:
    """Where ``actual`` is not ``expected``, in words (at most ``limit`` places)."""
    found = []
    for key in sorted(set(expected) | set(actual)):
        wanted, got = expected.get(key), actual.get(key)
        if wanted == got:
            continue
        if key.startswith("rules "):
            found.append(f"{key}: {_describe_rules(wanted or (), got or ())}")
        elif key == "groups" and isinstance(wanted, dict) and isinstance(got, dict) and set(wanted) == set(got):
            name = next(name for name in sorted(wanted) if wanted[name] != got[name])
            what = "comment" if wanted[name][0] != got[name][0] else _describe_rules(wanted[name][1], got[name][1])
            found.append(f"group {name}: {what}")
        elif key == "ipsets" and isinstance(wanted, dict) and isinstance(got, dict) and set(wanted) == set(got):
            name = next(name for name in sorted(wanted) if wanted[name] != got[name])
            missing, extra = wanted[name][1] - got[name][1], got[name][1] - wanted[name][1]
            comment = ", comment differs" if wanted[name][0] != got[name][0] else ""
            found.append(f"ipset {name}: {len(missing)} entries missing, {len(extra)} not wanted{comment}")
        else:
            found.append(f"{key}: {_short(got)}, expected {_short(wanted)}")
    return found[:limit] + ([f"... and {len(found) - limit} more"] if len(found) > limit else [])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


# --------------------------------------------------------------------------------------------
# Lower bounds


@dataclass(frozen=True)
class Bound:
    reads: int
    writes: int

    @property
    def requests(self) -> int:
        return self.reads + self.writes


def _lcs(one: Sequence[Any], two: Sequence[Any]) -> int:
    previous = [0] * (len(two) + 1)
    for item in one:
        current = [0]
        for index, other in enumerate(two):
            current.append(previous[index] + 1 if item == other else max(previous[index + 1], current[index]))
        previous = current
    return previous[-1]


def rule_list_writes(before: Sequence[Rule], after: Sequence[Rule]) -> int:
    """The fewest writes that turn one rule list into another, or a lower bound of them.

    A write adds one rule (POST, always at position 0), removes one (DELETE), rewrites one in
    place (PUT) or moves one (PUT moveto). Rules kept in order are a longest common
    subsequence; every other rule of ``after`` is added or rewritten, every other rule of
    ``before`` removed or rewritten: at least max(added, removed) writes. A POST lands on top,
    so an added rule that must go below a kept rule (when more are added than removed, so
    that no rewrite can take its place) costs a move as well: at least one more. Exact for
    the benchmark's cases: a list from empty (one POST per rule, the last rule first), one
    rule inserted (a POST, and a move unless it goes first), one rule changed (one PUT).
    """
    one = [canonical_rule(rule) for rule in before]
    two = [canonical_rule(rule) for rule in after]
    if one == two:
        return 0
    kept = _lcs(one, two)
    added, removed = len(two) - kept, len(one) - kept
    writes = max(added, removed)
    if added > removed and kept:
        # below a kept rule: unless every added rule forms the top of the list
        top = 0
        while top < len(two) and two[top] not in one:
            top += 1
        if top < added:
            writes += 1
    return writes


def _keyed_writes(before: Mapping[Any, Any], after: Mapping[Any, Any]) -> int:
    return sum(1 for key in after if key not in before or before[key] != after[key]) + sum(1 for key in before if key not in after)


def lower_bound(before: Cluster, after: Cluster) -> Bound:
    """The fewest requests that take the cluster from ``before`` to ``after``.

    Reads: one per list the desired state covers: each rule list and options object it
    names, the alias list, the IP set list and the group list, and the entries of each set and
    the rules of each group that exist before (a set or group that does not exist yet is seen
    missing in its list). A no-op needs these reads and nothing else; a change needs them too,
    as a client cannot know the state without reading it.
    Writes: the fewest PVE's API allows: one per alias, set, entry or group created, changed
    or removed, one PUT per changed options object, and :func:`rule_list_writes` per list.
    """
    reads = len(after.rules) + len(after.options)
    reads += bool(after.aliases)
    reads += bool(after.ipsets) + sum(1 for name in after.ipsets if name in before.ipsets)
    reads += bool(after.groups) + sum(1 for name in after.groups if name in before.groups)
    writes = _keyed_writes(before.aliases, after.aliases)
    for name, ipset in after.ipsets.items():
        old = before.ipsets.get(name)
        writes += old is None or old.comment != ipset.comment
        writes += _keyed_writes({entry.cidr: entry for entry in old.entries} if old else {}, {entry.cidr: entry for entry in ipset.entries})
    writes += sum(1 for name in before.ipsets if name not in after.ipsets)  # DELETE with force
    for name, group in after.groups.items():
        old_group = before.groups.get(name)
        writes += old_group is None or old_group.comment != group.comment
        writes += rule_list_writes(old_group.rules if old_group else (), group.rules)
    for key in set(after.rules) | set(before.rules):
        writes += rule_list_writes(before.rules.get(key, ()), after.rules.get(key, ()))
    for key in set(after.options) | set(before.options):
        writes += canonical_options(before.options.get(key, {})) != canonical_options(after.options.get(key, {}))
    return Bound(reads, writes)
