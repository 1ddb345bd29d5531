"""The host hops of a node on the nftables backend (host option ``nftables: 1``).

proxmox-firewall's base chain ``input`` (table ``inet proxmox-firewall``) jumps, in this
order, to ``default-in``, ``ct-in``, ``option-in``, ``host-in`` and ``cluster-in``; ``output``
to ``default-out``, ``option-out``, ``host-out`` and ``cluster-out`` (skeleton
``proxmox-firewall.nft``). What this changes against pve-firewall's ``PVEFW-HOST-IN``:

* the management exception (ipset ``management`` to 8006, 5900-5999, 3128 and 22) and the
  corosync ports (udp 5405-5412, from any source) are accepted in ``default-in``, *before*
  the host and cluster rules: a DROP rule cannot cut a management host off;
* the SMB, UPnP and DNS-reply noise is handled in ``default-in`` too, before the rules;
* ICMP errors are accepted first (``allow-icmp``), IGMP always;
* no blacklist: proxmox-firewall creates the cluster ipset ``blacklist`` but no rule uses it;
* ``ndp`` either accepts or *drops* neighbor discovery (``allow-ndp-in``/``block-ndp-in``,
  firewall.rs handle_host_options); ``protection_synflood``, ``tcpflags`` and ``nosmurfs``
  add their chains to ``option-in``; conntrack helpers accept their port in ``ct-in``
  (firewall.rs setup_ct_helper, rule.rs ``ToNftRules for CtHelperMacro``);
* ``host-in`` has no policy: the cluster policy closes ``cluster-in``
  (firewall.rs create_host_rules, create_cluster_rules); REJECT is chain ``do-reject``;
* on output nothing is excepted but ICMP errors and (with ``ndp``) neighbor discovery.
"""

from __future__ import annotations

from dataclasses import replace

from .._compiler.options import CONNTRACK_HELPERS
from .._model.objects import Level
from .hop_context import HopContext, policy_name
from .hop_host import warn_unknown_local_network
from .hop_rules import RuleFlavour, run_rules
from .matchers import PacketView, RuleContext, option_flag
from .nft_chains import (
    COROSYNC_PORTS,
    HOST_TABLE,
    IGMP,
    MANAGEMENT_PORTS,
    NDP_IN,
    NDP_OUT,
    TCP,
    UDP,
    allowed_icmp,
    default_in_noise,
    do_reject,
    ndp_message,
    policy,
    smurf,
)
from .std_chains import ACCEPT, DROP, port_in
from .verdict_trail import Hop, Trail
from .verdict_types import Step

HOST_RULES = RuleFlavour(nft=True, group_chain=f"{HOST_TABLE} group-{{name}}-{{direction}}", reject=do_reject)


def chain(hop: Hop, name: str) -> Hop:
    """The hop in one of the host table's chains."""
    return replace(hop, chain=f"{HOST_TABLE} {name}")


def host_chain(context: HopContext, hop: Hop, view: PacketView, trail: Trail) -> str:
    """Base chain ``input`` (``hop.direction`` in) or ``output`` (out) of a node."""
    host = context.host_file(hop.node)
    if not option_flag(host.options, "host", "enable"):
        detail = f"host firewall of {hop.node} disabled (host.fw enable: 0): proxmox-firewall deletes table {HOST_TABLE}"
        trail.add(Step(hop.label, hop.chain, "pass", ACCEPT, detail, level="host", node=hop.node))
        return ACCEPT
    incoming = hop.direction == "in"
    decided = _before_rules_in(context, hop, view, trail) if incoming else _before_rules_out(context, hop, view, trail)
    if decided is not None:
        return decided
    direction = hop.direction
    levels = (("host", host, Level.HOST), ("cluster", context.config.cluster, Level.CLUSTER))
    for level_name, fw, level in levels:
        key = ("host-rules", level_name, hop.node if level_name == "host" else "")
        index = context.rule_index(key, fw.rules, RuleContext(level, context.refs(None)), view, direction, f"{level_name}.fw", nft=True)
        decided = run_rules(context, index, chain(hop, f"{level_name}-{direction}"), level_name, view, trail, flavour=HOST_RULES)
        if decided is not None:
            return decided
    option = f"policy_{direction}"
    name = policy_name(context.config.cluster.options, "cluster", option)
    action, why = policy(name, view)
    closing = chain(hop, f"cluster-{direction}")
    trail.add(Step(hop.label, closing.chain, "policy", action, f"cluster {option} {name}: {why}", level="cluster", node=hop.node))
    return action


def _before_rules_in(context: HopContext, hop: Hop, view: PacketView, trail: Trail) -> str | None:
    """``default-in``, ``ct-in`` and ``option-in``: what input decides before the rules."""
    default = chain(hop, "default-in")
    why = allowed_icmp(view)
    if why:
        return trail.builtin(chain(hop, "allow-icmp"), ACCEPT, why)
    if view.proto == IGMP:
        return trail.builtin(default, ACCEPT, "default-in accepts IGMP")
    if view.proto == TCP and port_in(view.dport, *MANAGEMENT_PORTS):
        warn_unknown_local_network(context, hop.node, trail)
        if view.source in context.management_set(hop.node, view.version, nft=True):
            detail = f"accept-management: source in ipset 'management' (with local_network), tcp port {view.dport}, before any rule"
            return trail.builtin(chain(hop, "accept-management"), ACCEPT, detail)
    if view.proto == UDP and port_in(view.dport, COROSYNC_PORTS):
        return trail.builtin(default, ACCEPT, f"default-in accepts corosync (udp {COROSYNC_PORTS[0]}-{COROSYNC_PORTS[1]}) from any source")
    noise = default_in_noise(view)
    if noise is not None:
        return trail.builtin(default, *noise)
    helper = _conntrack_helper(context.host_file(hop.node).options.get("nf_conntrack_helpers"), view)
    if helper is not None:
        return trail.builtin(chain(hop, "ct-in"), ACCEPT, helper)
    return _option_in(context, chain(hop, "option-in"), view, trail)


def _option_in(context: HopContext, hop: Hop, view: PacketView, trail: Trail) -> str | None:
    """Chain ``option-in`` as firewall.rs handle_host_options fills it, in its order."""
    options = context.host_file(hop.node).options
    allow_ndp = option_flag(options, "host", "ndp")
    message = ndp_message(view, NDP_IN)
    if message:
        if allow_ndp:
            return trail.builtin(hop, ACCEPT, f"allow-ndp-in accepts neighbor discovery ({message}) (host option ndp)")
        return trail.builtin(hop, DROP, f"block-ndp-in drops neighbor discovery ({message}) (host option ndp: 0)")
    if view.proto == TCP and option_flag(options, "host", "protection_synflood"):
        # block-synflood runs ratelimit-synflood, which drops above the rate, and then drops
        # whatever returns: as the skeleton reads, every new TCP connection left over.
        return trail.builtin(hop, DROP, "block-synflood drops a new TCP connection after ratelimit-synflood (host option protection_synflood)")
    if view.proto == TCP and view.sport == 0 and option_flag(options, "host", "tcpflags"):
        return trail.builtin(hop, DROP, "block-invalid-tcp drops a SYN from source port 0 (host option tcpflags)")
    if option_flag(options, "host", "nosmurfs"):
        why = smurf(view)
        if why:
            return trail.builtin(hop, DROP, f"{why} (host option nosmurfs)")
    return None


def _before_rules_out(context: HopContext, hop: Hop, view: PacketView, trail: Trail) -> str | None:
    """``default-out`` and ``option-out``."""
    why = allowed_icmp(view)
    if why:
        return trail.builtin(chain(hop, "allow-icmp"), ACCEPT, why)
    message = ndp_message(view, NDP_OUT)
    if message:
        options_hop = chain(hop, "option-out")
        if option_flag(context.host_file(hop.node).options, "host", "ndp"):
            return trail.builtin(options_hop, ACCEPT, f"allow-ndp-out accepts neighbor discovery ({message}) (host option ndp)")
        return trail.builtin(options_hop, DROP, f"block-ndp-out drops neighbor discovery ({message}) (host option ndp: 0)")
    return None


def _conntrack_helper(value: object, view: PacketView) -> str | None:
    """Why ``ct-in`` accepts the packet: a helper of ``nf_conntrack_helpers`` on its port
    (``ct state new`` accepted; the rule carries no address family, so both match)."""
    if not value or view.proto not in (TCP, UDP):
        return None
    names = value if isinstance(value, (list, tuple)) else str(value).split(",")
    for name in names:
        helper = CONNTRACK_HELPERS.get(str(name).strip().lower())
        if helper is None:
            continue
        proto, port, _families = helper
        if (proto == "tcp") == (view.proto == TCP) and view.dport == port:
            return f"ct-in accepts {proto} port {port} for the conntrack helper {name} (host option nf_conntrack_helpers), before any rule"
    return None
