"""Hypothesis strategies for valid firewall objects, shared by the compiler's property tests."""

from __future__ import annotations

from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import (
    RULE_TYPES,
    Alias,
    FileKind,
    FirewallFile,
    IPSet,
    IPSetEntry,
    Level,
    Rule,
    SecurityGroup,
)

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{1,12}", fullmatch=True)
COMMENTS = st.none() | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ,.:()/+=-]{0,30}[A-Za-z0-9]", fullmatch=True)
ADDRESSES = st.sampled_from(
    [
        "10.0.0.1",
        "10.0.0.0/24",
        "192.168.1.0/24",
        "10.0.0.1-10.0.0.10",
        "10.0.0.1,10.0.0.2",
        "2001:db8::1",
        "2001:db8::/64",
        "+blocklist",
        "+dc/management",
        "webserver",
        "dc/admins",
    ]
)
PORTS = st.sampled_from(["22", "80,443", "8000:8080", "ssh", "53", "5900:5999,3128"])
LOG_LEVELS = st.sampled_from([None, "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"])


@st.composite
def rules(draw: st.DrawFn, level: Level = Level.HOST) -> Rule:
    rule_type = draw(st.sampled_from(RULE_TYPES[level]))
    if rule_type == "group":
        iface = (
            draw(st.none() | st.sampled_from(["net0", "net1"] if level.is_guest else ["vmbr0", "eth0"]))
            if level not in (Level.VNET, Level.GROUP)
            else None
        )
        return Rule("group", draw(NAMES.filter(lambda n: len(n) <= 18)), iface=iface, enable=draw(st.booleans()), comment=draw(COMMENTS))
    action = draw(st.sampled_from(["ACCEPT", "DROP"] if rule_type == "forward" else ["ACCEPT", "DROP", "REJECT"]))
    kind = draw(st.sampled_from(["plain", "ports", "macro", "icmp"]))
    proto = dport = sport = icmp_type = macro = None
    if kind == "ports":
        proto = draw(st.sampled_from(["tcp", "udp"]))
        dport = draw(st.none() | PORTS)
        sport = draw(st.none() | PORTS)
    elif kind == "macro":
        macro = draw(st.sampled_from(["SSH", "HTTPS", "DNS", "Ping", "Web"]))
    elif kind == "icmp":
        proto = "icmp"
        icmp_type = draw(st.sampled_from(["echo-request", "time-exceeded", "any"]))
    iface = None
    if level not in (Level.VNET, Level.GROUP):
        iface = draw(st.none() | st.sampled_from(["net0", "net2"] if level.is_guest else ["vmbr0", "eth1", "vmbr0.100"]))
    return Rule(
        type=rule_type,
        action=action,
        macro=macro,
        iface=iface,
        source=draw(st.none() | ADDRESSES),
        dest=draw(st.none() | ADDRESSES),
        proto=proto,
        dport=dport,
        sport=sport,
        icmp_type=icmp_type,
        log=draw(LOG_LEVELS),
        enable=draw(st.booleans()),
        comment=draw(COMMENTS),
    )


ENTRIES = st.builds(
    IPSetEntry,
    cidr=st.sampled_from(["10.0.0.0/8", "10.1.2.3", "192.168.0.0/16", "2001:db8::/32", "fe80::1", "webserver", "172.16.0.0/12"]),
    nomatch=st.booleans(),
    comment=COMMENTS,
)


@st.composite
def firewall_files(draw: st.DrawFn, kind: FileKind) -> FirewallFile:
    level = {FileKind.CLUSTER: Level.CLUSTER, FileKind.HOST: Level.HOST, FileKind.GUEST: Level.VM, FileKind.VNET: Level.VNET}[kind]
    options = {
        FileKind.CLUSTER: st.fixed_dictionaries(
            {},
            optional={
                "enable": st.sampled_from([0, 1]),
                "policy_in": st.sampled_from(["ACCEPT", "DROP", "REJECT"]),
                "ebtables": st.booleans(),
            },
        ),
        FileKind.HOST: st.fixed_dictionaries(
            {},
            optional={
                "enable": st.booleans(),
                "nosmurfs": st.booleans(),
                "log_level_in": st.sampled_from(["info", "nolog"]),
                "nf_conntrack_max": st.integers(32768, 1_000_000),
            },
        ),
        FileKind.GUEST: st.fixed_dictionaries(
            {},
            optional={
                "enable": st.booleans(),
                "policy_in": st.sampled_from(["ACCEPT", "DROP"]),
                "macfilter": st.booleans(),
                "dhcp": st.booleans(),
            },
        ),
        FileKind.VNET: st.fixed_dictionaries({}, optional={"enable": st.booleans(), "policy_forward": st.sampled_from(["ACCEPT", "DROP"])}),
    }[kind]
    has_sets = kind in (FileKind.CLUSTER, FileKind.GUEST)
    aliases = (
        draw(
            st.lists(
                st.builds(Alias, name=NAMES, cidr=st.sampled_from(["10.0.0.1", "10.0.0.0/24", "2001:db8::1"]), comment=COMMENTS),
                max_size=4,
                unique_by=lambda a: a.name.lower(),
            )
        )
        if has_sets
        else []
    )
    ipsets = (
        draw(
            st.lists(
                st.builds(
                    IPSet, name=NAMES, comment=COMMENTS, entries=st.lists(ENTRIES, max_size=5, unique_by=lambda e: e.cidr).map(tuple)
                ),
                max_size=3,
                unique_by=lambda s: s.name,
            )
        )
        if has_sets
        else []
    )
    groups = (
        draw(
            st.lists(
                st.builds(
                    SecurityGroup,
                    name=NAMES.filter(lambda n: len(n) <= 18),
                    comment=COMMENTS,
                    rules=st.lists(rules(Level.GROUP), max_size=4).map(tuple),
                ),
                max_size=3,
                unique_by=lambda g: g.name,
            )
        )
        if kind is FileKind.CLUSTER
        else []
    )
    return FirewallFile(
        kind=kind,
        options=draw(options),
        aliases=tuple(aliases),
        ipsets=tuple(ipsets),
        rules=tuple(draw(st.lists(rules(level), max_size=8))),
        groups=tuple(groups),
    )
