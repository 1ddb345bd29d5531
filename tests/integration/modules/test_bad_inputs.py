"""Bad inputs, module by module: each fails naming the field and the value, and writes nothing.

``CASES`` is one table for every module: ``(id, module, args, expected)``, where ``expected``
are substrings the failure message must contain (the field and the offending value at least,
and PVE's own wording where PVE has one, see ``_rule_validation``). Every case runs on a
freshly reset emulator that holds the objects ``seed_objects`` creates, so references can
point both at something that exists elsewhere and at nothing.

A case must fail without a single write; unless its id is in ``MAY_READ`` (references and
scopes, which only the API can judge), it must not even make a request: input is checked
before the first one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, run_playbook

Case = tuple[str, str, dict[str, Any], tuple[str, ...]]

RULE = "firewall_rule"
GROUP = "security_group"
OPTIONS = "firewall_options"
ALIAS = "alias"
IPSET = "ipset"
GUEST = {"level": "vm", "vmid": 100}
CT = {"level": "ct", "vmid": 200}
NODE = {"level": "node", "node": "pve1"}
VNET = {"level": "vnet", "vnet": "vnet1"}
LONG_LIST = ",".join(f"10.0.{third}.{fourth}" for third in range(4) for fourth in range(40))


def seed_objects(cluster: ModuleRunner) -> None:
    """What references may find: sets and aliases at the datacenter and on VM 100, one group."""
    api = cluster.api()
    api.post("/cluster/firewall/ipset", name="clusterset")
    api.post("/cluster/firewall/aliases", name="clusteralias", cidr="192.0.2.1")
    api.post("/cluster/firewall/aliases", name="v6alias", cidr="2001:db8::1")
    api.post("/cluster/firewall/groups", group="webgroup")
    api.post("/nodes/pve1/qemu/100/firewall/ipset", name="vmset")
    api.post("/nodes/pve1/qemu/100/firewall/aliases", name="vmalias", cidr="10.0.0.5")


def rule(**keys: Any) -> dict[str, Any]:
    return {"type": "in", "action": "ACCEPT", **keys}


def rules(*items: dict[str, Any] | str, **scope: Any) -> dict[str, Any]:
    return {**scope, "rules": list(items)}


FIREWALL_RULE_CASES: list[Case] = [
    # -- type
    ("type-unknown", RULE, rules(rule(type="sideways")), ("type='sideways'", "does not have a value in the enumeration 'in, out, forward, group'")),
    ("type-upper-case", RULE, rules(rule(type="IN")), ("type='IN'", "does not have a value in the enumeration")),
    ("type-number", RULE, rules(rule(type=5)), ("type='5'", "does not have a value in the enumeration")),
    ("type-empty", RULE, rules(rule(type="")), ("type=''", "missing property")),
    ("type-missing", RULE, rules({"action": "ACCEPT"}), ("missing required arguments: type", "rules")),
    ("type-forward-at-vm", RULE, rules(rule(type="forward"), **GUEST), ("type='forward'", "invalid rule type 'forward' for rule_env 'vm'")),
    ("type-forward-at-ct", RULE, rules(rule(type="forward"), **CT), ("type='forward'", "invalid rule type 'forward' for rule_env 'ct'")),
    ("type-in-at-vnet", RULE, rules(rule(type="in"), **VNET), ("type='in'", "invalid rule type 'in' for rule_env 'vnet'")),
    ("type-out-at-vnet", RULE, rules(rule(type="out"), **VNET), ("type='out'", "invalid rule type 'out' for rule_env 'vnet'")),
    ("type-forward-deleted-at-vm", RULE, {**rules(rule(type="forward"), **GUEST), "state": "deleted"}, ("type='forward'", "for rule_env 'vm'")),
    ("type-forward-rendered-at-ct", RULE, {**rules(rule(type="forward"), **CT), "state": "rendered"}, ("type='forward'", "for rule_env 'ct'")),
    # -- action
    ("action-unknown", RULE, rules(rule(action="ALLOW")), ("action='ALLOW'", "unknown action 'ALLOW'")),
    ("action-lower-case", RULE, rules(rule(action="accept")), ("action='accept'", "unknown action 'accept'")),
    ("action-reject-forward", RULE, rules(rule(type="forward", action="REJECT")), ("action='REJECT'", "cannot define REJECT rules on forward chain")),
    (
        "action-reject-forward-vnet",
        RULE,
        rules(rule(type="forward", action="REJECT"), **VNET),
        ("action='REJECT'", "cannot define REJECT rules on forward chain"),
    ),
    ("action-too-short", RULE, rules(rule(action="A")), ("action='A'", "value must be at least 2 characters long")),
    ("action-too-long", RULE, rules(rule(action="ACCEPT" * 4)), ("action='ACCEPTACCEPTACCEPTACCEPT'", "value may only be 20 characters long")),
    ("action-bad-characters", RULE, rules(rule(action="ACC EPT")), ("action='ACC EPT'", "value does not match the regex pattern")),
    ("action-empty", RULE, rules(rule(action="")), ("action=''", "missing property")),
    ("action-missing", RULE, rules({"type": "in"}), ("missing required arguments: action", "rules")),
    ("group-name-bad-characters", RULE, rules(rule(type="group", action="bad name")), ("action='bad name'", "invalid characters in security group name")),
    ("group-name-too-long", RULE, rules(rule(type="group", action="g" * 19)), ("action='" + "g" * 19 + "'", "security group name too long")),
    # PVE takes these on a group rule but FW format_rules cannot write them: refused before any request
    ("group-rule-macro", RULE, rules(rule(type="group", action="webgroup", macro="SSH")), ("macro='SSH'", "GROUP SSH(webgroup)", "FW format_rules")),
    ("group-rule-proto-dport", RULE, rules(rule(type="group", action="webgroup", proto="tcp", dport="22")), ("proto='tcp'", "dport='22'", "leaves proto out")),
    ("group-rule-source", RULE, rules(rule(type="group", action="webgroup", source="10.0.0.0/8")), ("source='10.0.0.0/8'", "out of a group rule")),
    ("group-rule-dest-at-vm", RULE, rules(rule(type="group", action="webgroup", dest="+clusterset"), **GUEST), ("dest='+clusterset'", "out of a group rule")),
    ("group-rule-log", RULE, rules(rule(type="group", action="webgroup", log="info"), **NODE), ("log='info'", "out of a group rule")),
    ("group-rule-icmp-type", RULE, rules(rule(type="group", action="webgroup", icmp_type="echo-request")), ("icmp_type='echo-request'", "group rule")),
    ("group-rule-sport-overridden", RULE, {**rules(rule(type="group", action="webgroup", sport="1")), "state": "overridden"}, ("sport='1'", "group rule")),
    # -- macro
    ("macro-unknown", RULE, rules(rule(macro="Bogus")), ("macro='Bogus'", "unknown macro 'Bogus'")),
    ("macro-punctuation", RULE, rules(rule(macro="SSH;")), ("macro='SSH;'", "unknown macro 'SSH;'")),
    ("macro-too-long", RULE, rules(rule(macro="S" * 129)), ("macro='" + "S" * 129 + "'", "unknown macro")),
    ("macro-proto-conflict", RULE, rules(rule(macro="SSH", proto="udp")), ("proto='udp'", "parameter 'proto' already define in macro (value = 'tcp')")),
    (
        "macro-dport-conflict",
        RULE,
        rules(rule(macro="SSH", proto="tcp", dport="23")),
        ("dport='23'", "parameter 'dport' already define in macro (value = '22')"),
    ),
    ("macro-ping-proto-conflict", RULE, rules(rule(macro="Ping", proto="tcp")), ("proto='tcp'", "parameter 'proto' already define in macro (value = 'icmp')")),
    ("macro-dport-without-proto", RULE, rules(rule(macro="SSH", dport="2222")), ("proto=None", "missing property - 'dport' requires this property")),
    # -- iface
    ("iface-starts-with-digit", RULE, rules(rule(iface="1eth")), ("iface='1eth'", "invalid network interface name '1eth'")),
    ("iface-too-short", RULE, rules(rule(iface="x")), ("iface='x'", "invalid network interface name 'x'")),
    ("iface-bad-character", RULE, rules(rule(iface="eth0!")), ("iface='eth0!'", "invalid network interface name 'eth0!'")),
    ("iface-too-long", RULE, rules(rule(iface="e" * 21)), ("iface='" + "e" * 21 + "'", "invalid network interface name")),
    (
        "iface-at-vnet",
        RULE,
        rules(rule(type="forward", iface="vmbr0"), **VNET),
        ("type='forward'", "parameter -i not allowed for this rule type", "iface 'vmbr0'"),
    ),
    ("iface-bridge-at-vm", RULE, rules(rule(iface="vmbr0"), **GUEST), ("iface='vmbr0'", r"value does not match the regex pattern 'net\d+'")),
    ("iface-eth-at-ct", RULE, rules(rule(iface="eth0"), **CT), ("iface='eth0'", "value does not match the regex pattern")),
    # -- source and dest
    (
        "source-range-in-list",
        RULE,
        rules(rule(source="10.0.0.1-10.0.0.5,10.0.0.9")),
        ("source='10.0.0.1-10.0.0.5,10.0.0.9'", "you can't use a range in a list"),
    ),
    ("dest-range-in-list", RULE, rules(rule(dest="10.0.0.9,10.0.0.1-10.0.0.5")), ("dest='10.0.0.9,10.0.0.1-10.0.0.5'", "you can't use a range in a list")),
    (
        "source-mixed-families",
        RULE,
        rules(rule(source="10.0.0.1,fe80::1")),
        ("source='10.0.0.1,fe80::1'", "detected mixed ipv4/ipv6 addresses in address list"),
    ),
    ("dest-mixed-families", RULE, rules(rule(dest="2001:db8::1,192.0.2.1")), ("dest='2001:db8::1,192.0.2.1'", "detected mixed ipv4/ipv6 addresses")),
    ("source-dest-mixed-families", RULE, rules(rule(source="10.0.0.1", dest="fe80::1")), ("dest='fe80::1'", "detected mixed ipv4/ipv6 addresses in rule")),
    ("icmp-with-v6-source", RULE, rules(rule(proto="icmp", source="2001:db8::1")), ("source='2001:db8::1'", "detected mixed ipv4/ipv6 addresses in rule")),
    ("source-host-bits", RULE, rules(rule(source="10.0.0.1/24")), ("source='10.0.0.1/24'", "Invalid prefix 10.0.0.1/24")),
    ("dest-host-bits-v6", RULE, rules(rule(dest="2001:db8::1/64")), ("dest='2001:db8::1/64'", "Invalid prefix")),
    ("source-prefix-too-long", RULE, rules(rule(source="10.0.0.0/33")), ("source='10.0.0.0/33'", "Invalid prefix 10.0.0.0/33")),
    ("source-v6-prefix-too-long", RULE, rules(rule(source="2001:db8::/129")), ("source='2001:db8::/129'", "invalid IP address")),
    ("source-bad-quad", RULE, rules(rule(source="999.0.0.1")), ("source='999.0.0.1'", "Invalid quad in IP address 999.0.0.1")),
    ("source-reversed-range", RULE, rules(rule(source="10.0.0.5-10.0.0.1")), ("source='10.0.0.5-10.0.0.1'", "Begin address is greater than end address")),
    ("source-mixed-range", RULE, rules(rule(source="10.0.0.1-2001:db8::1")), ("source='10.0.0.1-2001:db8::1'", "invalid IP address")),
    ("source-too-long", RULE, rules(rule(source=LONG_LIST)), ("source='10.0.0.0,10.0.0.1,", "value may only be 512 characters long")),
    ("dest-too-long", RULE, rules(rule(dest=LONG_LIST)), ("dest='10.0.0.0,10.0.0.1,", "value may only be 512 characters long")),
    ("source-ipset-name-too-long", RULE, rules(rule(source="+" + "s" * 70)), ("source='+" + "s" * 70 + "'", "ipset name too long")),
    ("source-ipset-bad-name", RULE, rules(rule(source="+bad name")), ("source='+bad name'", "invalid ipset name '+bad name'")),
    ("source-garbage", RULE, rules(rule(source="bad alias!")), ("source='bad alias!'", "Invalid IP bad alias!")),
    ("dest-garbage", RULE, rules(rule(dest="10.0.0.0/8/8")), ("dest='10.0.0.0/8/8'", "invalid IP address")),
    ("source-empty-item", RULE, rules(rule(source="10.0.0.1,,10.0.0.2")), ("source='10.0.0.1,,10.0.0.2'",)),
    ("source-line-break", RULE, rules(rule(source="10.0.0.1\n")), ("source='10.0.0.1\\n'", "source cannot contain line breaks")),
    # Net::IP reads no zone index (FW parse_address_list), although Python's ipaddress does
    ("source-zone-index", RULE, rules(rule(source="fe80::1%eth0")), ("source='fe80::1%eth0'", "Invalid IP address fe80::1%eth0")),
    ("dest-zone-index-in-list", RULE, rules(rule(dest="2001:db8::1,fe80::1%2")), ("dest='2001:db8::1,fe80::1%2'", "Invalid IP address fe80::1%2")),
    ("source-zone-index-cidr", RULE, rules(rule(source="fe80::%eth0/64")), ("source='fe80::%eth0/64'", "Invalid IP address")),
    ("source-non-ascii-prefix", RULE, rules(rule(source="10.0.0.0/\u00b2")), ("source='10.0.0.0/\u00b2'", "Invalid prefix")),
    # +sdn/ names only the sets PVE's SDN generates (proxmox-ve-config: <vnet>-all, -gateway, -no-gateway, -dhcp, guest-ipam-<vmid>)
    ("ipset-sdn-not-generated", RULE, rules(rule(source="+sdn/anything")), ("source='+sdn/anything'", "no such ipset 'anything'", "<vnet>-all")),
    ("ipset-sdn-datacenter-set", RULE, rules(rule(dest="+sdn/clusterset")), ("dest='+sdn/clusterset'", "no such ipset 'clusterset'")),
    ("ipset-sdn-vnet-too-long", RULE, rules(rule(source="+sdn/longvnetname-all")), ("source='+sdn/longvnetname-all'", "no such ipset")),
    # the right shape for a vnet the cluster does not have: the SDN sets PVE lists decide (refs, scope sdn)
    ("ipset-sdn-unknown-vnet", RULE, rules(rule(source="+sdn/vnet9-all")), ("source='+sdn/vnet9-all'", "no such ipset 'vnet9-all'")),
    # -- ports
    (
        "dport-too-many",
        RULE,
        rules(rule(proto="tcp", dport=",".join(map(str, range(1, 17))))),
        ("dport='1,2,3,", "too many entries in port list (> 15 numbers)"),
    ),
    (
        "dport-too-many-ranges",
        RULE,
        rules(rule(proto="tcp", dport=",".join(f"{n}:{n + 1}" for n in range(1, 17, 2)))),
        ("dport='1:2,3:4,", "too many entries in port list"),
    ),
    ("sport-too-many", RULE, rules(rule(proto="udp", sport=",".join(map(str, range(100, 116))))), ("sport='100,101,", "too many entries in port list")),
    ("dport-reversed-range", RULE, rules(rule(proto="tcp", dport="90:80")), ("dport='90:80'", "backwards range '90:80' not allowed, did you mean '80:90'?")),
    ("sport-reversed-range", RULE, rules(rule(proto="tcp", sport="2000:1000")), ("sport='2000:1000'", "backwards range '2000:1000' not allowed")),
    ("dport-above-65535", RULE, rules(rule(proto="tcp", dport="65536")), ("dport='65536'", "invalid port '65536'")),
    ("dport-range-above-65535", RULE, rules(rule(proto="tcp", dport="1:70000")), ("dport='1:70000'", "invalid port '70000'")),
    ("sport-above-65535", RULE, rules(rule(proto="udp", sport="70000")), ("sport='70000'", "invalid port '70000'")),
    ("dport-unknown-service", RULE, rules(rule(proto="tcp", dport="nosuchservice")), ("dport='nosuchservice'", "invalid port 'nosuchservice'")),
    ("sport-unknown-service", RULE, rules(rule(proto="udp", sport="nosuchservice")), ("sport='nosuchservice'", "invalid port 'nosuchservice'")),
    ("dport-negative", RULE, rules(rule(proto="tcp", dport="-1")), ("dport='-1'", "invalid port")),
    ("dport-trailing-comma", RULE, rules(rule(proto="tcp", dport="22,")), ("dport='22,'",)),
    ("dport-without-proto", RULE, rules(rule(dport="22")), ("proto=None", "missing property - 'dport' requires this property")),
    ("sport-without-proto", RULE, rules(rule(sport="22")), ("proto=None", "missing property - 'sport' requires this property")),
    ("dport-with-gre", RULE, rules(rule(proto="gre", dport="22")), ("dport='22'", "protocol 'gre' does not support ports")),
    ("sport-with-icmp", RULE, rules(rule(proto="icmp", sport="22")), ("sport='22'", "protocol 'icmp' does not support ports")),
    ("dport-icmp-list", RULE, rules(rule(proto="icmp", dport="22,23")), ("dport='22,23'", "reads it as an ICMP type and fails on it (unknown icmp-type)")),
    ("dport-as-list", RULE, rules(rule(proto="tcp", dport=[22, 80])), ("dport='[22, 80]'", "invalid port")),
    # PVE takes '0' for "not set" (FW verify_rule, format_rules): the value would be dropped
    ("dport-zero", RULE, rules(rule(proto="tcp", dport="0")), ("dport='0'", "PVE drops a lone port 0")),
    ("dport-zero-number", RULE, rules(rule(proto="tcp", dport=0)), ("dport='0'", "PVE drops a lone port 0")),
    ("dport-double-zero", RULE, rules(rule(proto="tcp", dport="00")), ("dport='00'", "PVE drops a lone port 0")),
    ("sport-zero", RULE, rules(rule(proto="udp", sport="0")), ("sport='0'", "PVE drops a lone port 0")),
    ("dport-zero-icmp", RULE, rules(rule(proto="icmp", dport="0")), ("dport='0'", "PVE drops a lone port 0")),
    ("dport-zero-in-a-line", RULE, rules("IN ACCEPT -p tcp -dport 0"), ("rules[0]: dport='0'", "PVE drops a lone port 0")),
    ("proto-zero", RULE, rules(rule(proto="0")), ("proto='0'", "PVE drops proto '0'")),
    # -- proto
    ("proto-unknown", RULE, rules(rule(proto="bogusproto")), ("proto='bogusproto'", "unknown protocol 'bogusproto'")),
    ("proto-number-too-big", RULE, rules(rule(proto="300")), ("proto='300'", "unknown protocol '300'")),
    # -- icmp_type
    ("icmp-type-with-tcp", RULE, rules(rule(proto="tcp", icmp_type="echo-request")), ("proto='tcp'", "missing property - 'icmp-type' requires this property")),
    ("icmp-type-without-proto", RULE, rules(rule(icmp_type="echo-request")), ("proto=None", "missing property - 'icmp-type' requires this property")),
    ("icmp-type-unknown", RULE, rules(rule(proto="icmp", icmp_type="bogus")), ("icmp-type='bogus'", "invalid icmp-type 'bogus' for proto 'icmp'")),
    (
        "icmp-type-v6-name-for-icmp",
        RULE,
        rules(rule(proto="icmp", icmp_type="neighbor-solicitation")),
        ("icmp-type='neighbor-solicitation'", "for proto 'icmp'"),
    ),
    ("icmp-type-v4-name-for-icmpv6", RULE, rules(rule(proto="icmpv6", icmp_type="source-quench")), ("icmp-type='source-quench'", "for proto 'icmpv6'")),
    (
        "icmp-type-with-dport",
        RULE,
        rules(rule(proto="icmpv6", icmp_type="echo-request", dport="8")),
        ("icmp-type='echo-request'", "'icmp-type' cannot be specified together with 'dport'"),
    ),
    # -- log
    (
        "log-unknown",
        RULE,
        rules(rule(log="loud")),
        ("log='loud'", "value 'loud' does not have a value in the enumeration 'emerg, alert, crit, err, warning, notice, info, debug, nolog'"),
    ),
    ("log-upper-case", RULE, rules(rule(log="INFO")), ("log='INFO'", "value 'INFO' does not have a value in the enumeration")),
    ("log-number", RULE, rules(rule(log=6)), ("log='6'", "does not have a value in the enumeration")),
    # -- enable, comment, unknown keys
    ("enable-not-boolean", RULE, rules(rule(enable="maybe")), ("argument 'enable'", "'maybe' is not a valid boolean", "rules")),
    ("enable-number", RULE, rules(rule(enable=2)), ("argument 'enable'", "'2' is not a valid boolean")),
    ("comment-newline", RULE, rules(rule(comment="first\nsecond")), ("comment='first\\nsecond'", "comment cannot contain line breaks")),
    # -- comments PVE would not read back as given (FW format_rules writes, generic_fw_config_parser and parse_fw_rule read)
    ("comment-zero", RULE, rules(rule(comment="0")), ("comment='0'", "PVE drops the comment '0'")),
    ("comment-zero-in-blanks", RULE, rules(rule(comment=" 0 ")), ("comment=' 0 '", "PVE drops the comment '0'")),
    ("comment-ends-in-a-grave", RULE, rules(rule(comment="voil\u00e0")), ("comment='voil\u00e0'", "0xA0", "voil\ufffd")),
    ("comment-ends-in-nbsp", RULE, rules(rule(comment="x\u00a0")), ("comment='x\\xa0'", "0xA0")),
    ("comment-zero-in-a-line", RULE, rules("IN ACCEPT # 0"), ("rules[0]: comment='0'", "PVE drops the comment '0'")),
    ("rule-key-unknown", RULE, rules(rule(foo="bar")), ("Unsupported parameters", "rules.foo")),
    ("rule-key-pve-spelling", RULE, rules(rule(proto="icmp", **{"icmp-type": "echo-request"})), ("Unsupported parameters", "rules.icmp-type")),
    ("rule-key-pos", RULE, rules(rule(pos=3)), ("Unsupported parameters", "rules.pos")),
    # -- every problem is reported, not only the first
    ("two-bad-rules", RULE, rules(rule(action="ALLOW"), rule(log="loud")), ("2 validation errors", "rules[0]: action='ALLOW'", "rules[1]: log='loud'")),
    ("two-bad-fields", RULE, rules(rule(type="sideways", proto="bogus")), ("rules[0]: type='sideways'", "rules[0]: proto='bogus'")),
    # -- references
    ("ipset-missing", RULE, rules(rule(source="+nope")), ("source='+nope'", "no such ipset 'nope'")),
    ("ipset-missing-dest", RULE, rules(rule(dest="+nope")), ("dest='+nope'", "no such ipset 'nope'")),
    ("ipset-missing-at-node", RULE, rules(rule(source="+nope"), **NODE), ("source='+nope'", "no such ipset 'nope'")),
    ("ipset-missing-at-vnet", RULE, rules(rule(type="forward", source="+nope"), **VNET), ("source='+nope'", "no such ipset 'nope'")),
    ("ipset-missing-at-vm", RULE, rules(rule(source="+nope"), **GUEST), ("source='+nope'", "no such ipset 'nope'")),
    ("ipset-of-vm-at-ct", RULE, rules(rule(source="+vmset"), **CT), ("source='+vmset'", "no such ipset 'vmset'")),
    ("ipset-dc-prefix-nowhere", RULE, rules(rule(source="+dc/nope")), ("source='+dc/nope'", "no such ipset 'nope'")),
    ("ipset-dc-prefix-guest-set", RULE, rules(rule(source="+dc/vmset"), **GUEST), ("source='+dc/vmset'", "no such ipset 'vmset'")),
    ("ipset-guest-prefix-cluster-set", RULE, rules(rule(source="+guest/clusterset"), **GUEST), ("source='+guest/clusterset'", "no such ipset 'clusterset'")),
    ("ipset-guest-prefix-at-cluster", RULE, rules(rule(source="+guest/clusterset")), ("source='+guest/clusterset'", "no such ipset 'clusterset'")),
    ("alias-missing", RULE, rules(rule(source="nosuchalias")), ("source='nosuchalias'", "no such alias 'nosuchalias'")),
    ("alias-missing-dest", RULE, rules(rule(dest="nosuchalias")), ("dest='nosuchalias'", "no such alias 'nosuchalias'")),
    ("alias-missing-at-vnet", RULE, rules(rule(type="forward", dest="nosuchalias"), **VNET), ("dest='nosuchalias'", "no such alias 'nosuchalias'")),
    ("alias-dc-prefix-nowhere", RULE, rules(rule(source="dc/nope")), ("source='dc/nope'", "no such alias 'nope'")),
    ("alias-dc-prefix-guest-alias", RULE, rules(rule(source="dc/vmalias"), **GUEST), ("source='dc/vmalias'", "no such alias 'vmalias'")),
    (
        "alias-guest-prefix-cluster-alias",
        RULE,
        rules(rule(source="guest/clusteralias"), **GUEST),
        ("source='guest/clusteralias'", "no such alias 'clusteralias'"),
    ),
    ("alias-guest-prefix-at-cluster", RULE, rules(rule(source="guest/clusteralias")), ("source='guest/clusteralias'", "no such alias 'clusteralias'")),
    ("alias-family-mismatch", RULE, rules(rule(source="10.0.0.1", dest="v6alias")), ("dest='v6alias'", "detected mixed ipv4/ipv6 addresses in rule")),
    (
        "alias-family-mismatch-reversed",
        RULE,
        rules(rule(source="v6alias", dest="clusteralias")),
        ("dest='clusteralias'", "detected mixed ipv4/ipv6 addresses in rule"),
    ),
    ("group-missing", RULE, rules(rule(type="group", action="nosuchgroup")), ("action='nosuchgroup'", "no such security group 'nosuchgroup'", "webgroup")),
    ("group-missing-at-node", RULE, rules(rule(type="group", action="nosuchgroup"), **NODE), ("action='nosuchgroup'", "no such security group 'nosuchgroup'")),
    ("group-missing-at-vm", RULE, rules(rule(type="group", action="nosuchgroup"), **GUEST), ("action='nosuchgroup'", "no such security group")),
    ("group-missing-at-vnet", RULE, rules(rule(type="group", action="nosuchgroup"), **VNET), ("action='nosuchgroup'", "no such security group")),
    (
        "group-missing-overridden",
        RULE,
        {**rules(rule(type="group", action="nosuchgroup")), "state": "overridden"},
        ("action='nosuchgroup'", "no such security group"),
    ),
    (
        "ipset-missing-among-good-rules",
        RULE,
        rules(rule(macro="SSH"), rule(source="+clusterset"), rule(source="+nope")),
        ("rules[2]: source='+nope'", "no such ipset"),
    ),
    # -- levels
    ("node-level-without-node", RULE, rules(rule(), level="node"), ("level node needs node",)),
    ("vm-level-without-vmid", RULE, rules(rule(), level="vm"), ("level vm needs vmid",)),
    ("ct-level-without-vmid", RULE, rules(rule(), level="ct"), ("level ct needs vmid",)),
    ("vnet-level-without-vnet", RULE, rules(rule(type="forward"), level="vnet"), ("level vnet needs vnet",)),
    ("vm-level-vmid-of-ct", RULE, rules(rule(), level="vm", vmid=200), ("vmid 200", "lxc", "level: ct")),
    ("ct-level-vmid-of-vm", RULE, rules(rule(), level="ct", vmid=101), ("vmid 101", "qemu", "level: vm")),
    ("vm-unknown-vmid", RULE, rules(rule(), level="vm", vmid=999), ("vmid 999", "no such guest")),
    ("ct-unknown-vmid", RULE, rules(rule(), level="ct", vmid=998), ("vmid 998", "no such guest")),
    ("vm-unknown-vmid-gathered", RULE, {"level": "vm", "vmid": 997, "state": "gathered"}, ("vmid 997", "no such guest")),
    ("vm-on-wrong-node", RULE, rules(rule(), level="vm", vmid=100, node="pve2"), ("nodes/pve2/qemu-server/100.conf", "does not exist")),
    ("node-unknown", RULE, rules(rule(), level="node", node="nope"), ("/nodes/nope/", "hostname lookup 'nope' failed")),
    ("node-unknown-gathered", RULE, {"level": "node", "node": "nope", "state": "gathered"}, ("/nodes/nope/", "hostname lookup 'nope' failed")),
    ("vnet-unknown", RULE, rules(rule(type="forward"), level="vnet", vnet="nope"), ("/cluster/sdn/vnets/nope/", "invalid vnet specified")),
    ("vmid-at-cluster", RULE, rules(rule(), level="cluster", vmid=100), ("vmid cannot be used with level: cluster",)),
    ("vmid-at-node", RULE, rules(rule(), level="node", node="pve1", vmid=100), ("vmid cannot be used with level: node",)),
    ("vmid-at-vnet", RULE, rules(rule(type="forward"), level="vnet", vnet="vnet1", vmid=100), ("vmid cannot be used with level: vnet",)),
    ("vnet-at-cluster", RULE, rules(rule(), level="cluster", vnet="vnet1"), ("vnet cannot be used with level: cluster",)),
    ("level-unknown", RULE, rules(rule(), level="datacenter"), ("value of level must be one of: cluster, node, vm, ct, vnet", "datacenter")),
    ("vmid-not-a-number", RULE, rules(rule(), level="vm", vmid="abc"), ("argument 'vmid'", "'abc'")),
    # -- shapes
    ("rules-a-mapping", RULE, {"rules": {"type": "in", "action": "ACCEPT"}}, ("argument 'rules' is of type dict", "list")),
    ("rule-a-number", RULE, {"rules": [42]}, ("'42'", "sub parameter field 'rules'")),
    ("rule-a-list", RULE, {"rules": [["in", "ACCEPT"]]}, ("'['in', 'ACCEPT']'", "sub parameter field 'rules'")),
    # -- .fw rule lines (a string item, or the whole list as text) must be rule lines
    ("rules-a-word", RULE, {"rules": "hello"}, ("rules='hello'", "rules must be a list", ".fw rule lines (one per item)")),
    ("rules-words", RULE, {"rules": ["hello", "world"]}, ("2 validation errors", "rules[0]: rule='hello'", "rules[1]: rule='world'")),
    ("rules-a-word-among-mappings", RULE, {"rules": [rule(), "nonsense"]}, ("rules[1]: rule='nonsense'", "unable to parse rule")),
    ("rules-line-bad-flag", RULE, {"rules": ["IN ACCEPT -bogus 1"]}, ("rules[0]: rule='IN ACCEPT -bogus 1'", "unable to parse rule parameters: -bogus 1")),
    ("rules-line-bad-port", RULE, {"rules": ["IN ACCEPT -p tcp -dport 99999"]}, ("rules[0]: dport='99999'", "invalid port '99999'")),
    ("rules-line-bad-type", RULE, {"rules": ["SIDEWAYS ACCEPT"]}, ("rules[0]: type='sideways'", "does not have a value in the enumeration")),
    ("rules-line-two-lines", RULE, {"rules": ["IN ACCEPT\nOUT DROP"]}, ("rules[0]: rule='IN ACCEPT\\nOUT DROP'", "one rule line")),
    ("rules-a-text", RULE, {"rules": "IN ACCEPT\nOUT DROP\n"}, ("rules='IN ACCEPT\\nOUT DROP\\n'", "rules must be a list")),
    ("rules-key-value-text", RULE, {"rules": "type=in action=ACCEPT"}, ("rules='type=in action=ACCEPT'", "rules must be a list")),
    ("group-rules-a-text", GROUP, {"name": "webgroup", "rules": "IN ACCEPT"}, ("rules='IN ACCEPT'", "rules must be a list")),
    ("group-rules-a-word", GROUP, {"name": "webgroup", "rules": ["nonsense"]}, ("rules[0]: rule='nonsense'", "unable to parse rule")),
    ("group-rules-line-with-iface", GROUP, {"name": "webgroup", "rules": ["IN ACCEPT -i net0"]}, ("parameter -i not allowed",)),
    ("state-unknown", RULE, rules(rule(), state="present"), ("value of state must be one of", "present")),
    ("parsed-without-text", RULE, {"state": "parsed"}, ("state is parsed", "running_config")),
    (
        "parsed-bad-line",
        RULE,
        {"state": "parsed", "running_config": "IN ACCEPT -p tcp -dport 99999\n"},
        ("running_config line 1", "dport='99999'", "invalid port"),
    ),
]

OTHER_MODULE_CASES: list[Case] = [
    # host.fw reads these as digits only (FW parse_hostfw_option): PVE's API stores -3, then drops the line on every read
    (
        "synflood-rate-negative",
        OPTIONS,
        {"level": "node", "node": "pve1", "options": {"protection_synflood_rate": -3}},
        ("protection_synflood_rate=-3", "parse_hostfw_option"),
    ),
    (
        "synflood-burst-negative",
        OPTIONS,
        {"level": "node", "node": "pve1", "options": {"protection_synflood_burst": "-1"}},
        ("protection_synflood_burst='-1'", "parse_hostfw_option"),
    ),
    # a cluster enable above 1 is stored as a timestamp and reverts after 60 s; '' helpers are dropped on read
    ("cluster-enable-2", OPTIONS, {"options": {"enable": 2}}, ("enable=2", "turns the firewall off 60 s later", "arm_auto_revert")),
    ("cluster-enable-timestamp", OPTIONS, {"options": {"enable": "1733000000"}}, ("enable='1733000000'", "time of the write")),
    (
        "conntrack-helpers-empty",
        OPTIONS,
        {"level": "node", "node": "pve1", "options": {"nf_conntrack_helpers": ""}},
        ("nf_conntrack_helpers=''", "parse_hostfw_option", "reset"),
    ),
    # alias and ipset values PVE's API refuses (FW pve_verify_ip_or_cidr)
    ("alias-zone-index", ALIAS, {"name": "linklocal", "cidr": "fe80::1%eth0"}, ("cidr='fe80::1%eth0'", "value does not look like a valid IP address")),
    ("alias-zero-prefix-host-bits", ALIAS, {"name": "world", "cidr": "10.0.0.1/0"}, ("cidr='10.0.0.1/0'", "Invalid prefix 10.0.0.1/0", "FW clean_cidr")),
    ("alias-zero-prefix-host-bits-v6", ALIAS, {"name": "world6", "cidr": "fd00::/0"}, ("cidr='fd00::/0'", "Invalid prefix fd00::/0")),
    ("alias-zone-index-at-vm", ALIAS, {**GUEST, "name": "linklocal", "cidr": "fe80::1%eth0/64"}, ("cidr='fe80::1%eth0/64'", "does not look like")),
    ("ipset-entry-zone-index", IPSET, {"name": "office", "entries": ["fe80::1%eth0"]}, ("cidr='fe80::1%eth0'", "value does not look like a valid IP address")),
    ("ipset-entry-zone-index-cidr", IPSET, {"name": "office", "entries": ["10.0.0.1", "fe80::%1/64"]}, ("cidr='fe80::%1/64'",)),
    ("comment-zero-alias", ALIAS, {"name": "monitor", "cidr": "192.0.2.9", "comment": "0"}, ("comment='0'", "PVE drops the comment '0'")),
    ("comment-zero-ipset", IPSET, {"name": "office", "comment": "0"}, ("comment='0'", "PVE drops the comment '0'")),
    ("comment-zero-ipset-entry", IPSET, {"name": "office", "entries": [{"cidr": "10.0.0.1", "comment": "0"}]}, ("comment='0'", "PVE drops")),
    ("comment-zero-group", GROUP, {"name": "webgroup", "comment": "0"}, ("comment='0'", "PVE drops the comment '0'")),
    ("comment-a-grave-alias", ALIAS, {"name": "monitor", "cidr": "192.0.2.9", "comment": "d\u00e9j\u00e0"}, ("comment='d\u00e9j\u00e0'", "0xA0")),
]

CASES: list[Case] = [*FIREWALL_RULE_CASES, *OTHER_MODULE_CASES]

# Cases named like reference cases whose input alone is wrong: they must not even read.
INPUT_ONLY = {
    "alias-zone-index",
    "alias-zero-prefix-host-bits",
    "alias-zero-prefix-host-bits-v6",
    "alias-zone-index-at-vm",
    "ipset-entry-zone-index",
    "ipset-entry-zone-index-cidr",
}

# Cases only the API can judge (references, guests, nodes, vnets): they may read, never write.
MAY_READ = {
    case_id
    for case_id, _module, _args, _expected in CASES
    if case_id.startswith(("ipset-", "alias-", "group-missing", "vm-", "ct-", "node-unknown", "vnet-unknown"))
    and not case_id.endswith("-without-vmid")
    and case_id not in INPUT_ONLY
}


def test_the_corpus_is_large_and_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(FIREWALL_RULE_CASES) >= 100


@pytest.mark.parametrize(("case_id", "module", "args", "expected"), CASES, ids=[case[0] for case in CASES])
def test_bad_input_fails_clearly_without_writing(cluster: ModuleRunner, case_id: str, module: str, args: dict[str, Any], expected: tuple[str, ...]) -> None:
    seed_objects(cluster)
    seq = cluster.seq()
    result = cluster.run(module, **args)
    assert result.get("failed") is True, result
    for text in expected:
        assert text in result["msg"], f"{text!r} not in {result['msg']!r}"
    assert cluster.writes_since(seq) == []
    if case_id not in MAY_READ:
        assert cluster.requests_since(seq) == [], "input errors must fail before the first request"


# ---------------------------------------------------------------------------------------------
# What is accepted instead: .fw rule lines, and every comment PVE reads back as it was written.


def test_rule_lines_are_rules(cluster: ModuleRunner) -> None:
    """A string item is one .fw rule line; it gives what the mapping form gives."""
    mappings = [
        {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24", "comment": "admin ssh"},
        {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "log": "info"},
        {"type": "out", "action": "DROP", "enable": False},
    ]
    lines = ["IN SSH(ACCEPT) -source 192.0.2.0/24 # admin ssh", "IN ACCEPT -p tcp -dport 8006 -log info", "|OUT DROP"]
    cluster.ok(RULE, rules=lines[:2] + [mappings[2]])
    assert cluster.ok(RULE, state="gathered")["gathered"] == mappings
    cluster.unchanged(RULE, rules=mappings, state="overridden")
    cluster.unchanged(RULE, rules=lines, state="overridden")
    assert cluster.ok(RULE, rules=lines, state="rendered")["rendered"] == "[RULES]\n\n" + "\n".join(lines) + "\n\n"
    cluster.ok(GROUP, name="admins", rules=["IN SSH(ACCEPT) -source 192.0.2.0/24 # admin ssh"])
    assert cluster.ok(GROUP, name="admins", state="gathered")["gathered"][0]["rules"] == mappings[:1]


COMMENTS_KEPT = ["first\rsecond", "x\u2028y", "\u0085x", "a\x0bb", "x\u2028", "\u00a0x", "x\u00a0y", "caf\u00e9", "a # b", "\u2028\u00e0."]


def test_comments_pve_reads_back_intact_are_written_and_then_left_alone(cluster: ModuleRunner) -> None:
    """PVE splits a .fw file on \\n only: \\r, VT, NEL and U+2028 inside a comment survive, and so
    does anything that does not end in the byte 0xA0 (generic_fw_config_parser trims it)."""
    wanted = [rule(comment=comment) for comment in COMMENTS_KEPT]
    cluster.ok(RULE, rules=wanted, state="overridden")
    assert [item["comment"] for item in cluster.api().get("/cluster/firewall/rules")] == COMMENTS_KEPT
    cluster.unchanged(RULE, rules=wanted, state="overridden")
    cluster.ok(ALIAS, name="monitor", cidr="192.0.2.9", comment="x\u2028y")
    cluster.unchanged(ALIAS, name="monitor", cidr="192.0.2.9", comment="x\u2028y")
    cluster.ok(IPSET, name="office", comment="a\rb", entries=[{"cidr": "10.0.0.1", "comment": "\u0085x"}])
    cluster.unchanged(IPSET, name="office", comment="a\rb", entries=[{"cidr": "10.0.0.1", "comment": "\u0085x"}])


# ---------------------------------------------------------------------------------------------
# The emulator answers these inputs as PVE does (what the refusals above protect from).


def test_the_emulator_loses_what_pve_loses(cluster: ModuleRunner) -> None:
    api = cluster.api()
    # FW verify_rule skips a false dport (no "requires proto"), FW format_rules does not write it
    api.post("/cluster/firewall/rules", type="in", action="ACCEPT", dport="0", enable=1)
    api.post("/cluster/firewall/rules", type="in", action="ACCEPT", proto="tcp", sport="0", comment="0", enable=1)
    stored = api.get("/cluster/firewall/rules")
    assert [{key: item.get(key) for key in ("proto", "dport", "sport", "comment")} for item in stored] == [
        {"proto": "tcp", "dport": None, "sport": None, "comment": None},
        {"proto": None, "dport": None, "sport": None, "comment": None},
    ]
    # the API schema has no minimum, FW parse_hostfw_option reads digits only: stored, then lost
    api.put("/nodes/pve1/firewall/options", protection_synflood_rate=-3)
    assert "protection_synflood_rate" not in api.get("/nodes/pve1/firewall/options")
    # the line is read without its trailing 0xA0 byte, which leaves half a character
    api.post("/cluster/firewall/aliases", name="monitor", cidr="192.0.2.9", comment="voil\u00e0")
    api.post("/cluster/firewall/aliases", name="zero", cidr="192.0.2.8", comment="0")
    assert [(item["name"], item.get("comment")) for item in api.get("/cluster/firewall/aliases")] == [("monitor", "voil\ufffd"), ("zero", None)]
    # Aliases.pm update_alias looks at no rule: the rule that now mixes families keeps its errors
    api.post("/cluster/firewall/rules", type="in", action="ACCEPT", source="monitor", dest="10.0.0.0/8", enable=1)
    api.put("/cluster/firewall/aliases/monitor", cidr="2001:db8::9")
    assert "dest" in api.get("/cluster/firewall/rules")[0]["errors"]


# ---------------------------------------------------------------------------------------------
# An alias change checks every rule that uses the alias at its level and below.


def test_an_alias_that_changes_family_is_refused_while_a_rule_mixes_it_with_the_other(cluster: ModuleRunner) -> None:
    seed_objects(cluster)
    api = cluster.api()
    api.post("/nodes/pve2/qemu/101/firewall/rules", type="in", action="ACCEPT", source="10.0.0.0/8", dest="clusteralias", enable=1)
    api.post("/cluster/firewall/groups/webgroup", type="in", action="ACCEPT", proto="icmp", source="clusteralias", enable=1)
    api.post("/cluster/firewall/rules", type="in", action="ACCEPT", source="clusteralias", enable=1)  # fine in either family
    result = cluster.fails(ALIAS, name="clusteralias", cidr="2001:db8::7")
    for text in ("cidr='2001:db8::7'", "vm 101 rules[0]", "dest='clusteralias'", "security group 'webgroup' rules[0]", "mixed ipv4/ipv6"):
        assert text in result["msg"], result["msg"]
    assert "cluster rules[0]" not in result["msg"]
    # the same family is fine, and so is a flip nothing mixes
    cluster.ok(ALIAS, name="clusteralias", cidr="192.0.2.77")
    cluster.ok(ALIAS, name="v6alias", cidr="192.0.2.66")


def test_a_guest_alias_that_hides_the_datacenters_of_the_other_family_is_refused(cluster: ModuleRunner) -> None:
    seed_objects(cluster)
    api = cluster.api()
    api.post("/nodes/pve1/qemu/100/firewall/rules", type="in", action="ACCEPT", source="clusteralias", dest="10.0.0.5", enable=1)
    result = cluster.fails(ALIAS, level="vm", vmid=100, name="clusteralias", cidr="2001:db8::5")
    assert "cidr='2001:db8::5'" in result["msg"] and "vm 100 rules[0]" in result["msg"], result["msg"]
    cluster.ok(ALIAS, level="vm", vmid=100, name="clusteralias", cidr="10.9.9.9")


# ---------------------------------------------------------------------------------------------
# hardened_defaults: a vmid the cluster does not have fails the role before its first write.


def test_hardened_defaults_refuses_a_vmid_the_cluster_does_not_have(cluster: ModuleRunner, tmp_path: Path) -> None:
    variables = {
        "hardened_defaults_admin_networks": ["127.0.0.1/32"],
        "hardened_defaults_guest_groups": [{"groups": ["web"], "vmids": [100, 4242]}, {"groups": ["ssh"], "vmids": ["101"]}],
    }
    task = {"name": "harden", "ansible.builtin.include_role": {"name": "pve.firewall.hardened_defaults"}, "vars": variables}
    seq = cluster.seq()
    completed = run_playbook(tmp_path, [task], cluster.env)[0]
    assert completed.returncode != 0
    assert "vmid 4242" in completed.stdout and "vmid '101'" in completed.stdout, completed.stdout[-3000:]
    assert cluster.writes_since(seq) == []
