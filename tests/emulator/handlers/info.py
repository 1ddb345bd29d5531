"""Read-only firewall endpoints: directory indexes, refs, macros and logs (reference 1.7)."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FirewallFile
from ansible_collections.pve.firewall.plugins.module_utils._reference.macros import MACROS

from ..context import Call
from ..routes import Handler, Result
from ..state import FileKey
from ..targets import TargetResolver, check_node


def index(*names: str) -> Handler:
    def handler(call: Call) -> list[dict[str, str]]:
        return [{"name": name} for name in names]

    return handler


def list_macros(call: Call) -> list[dict[str, str]]:
    return [{"macro": name, "descr": macro.description or name} for name, macro in MACROS.items()]


def _scope_refs(fw: FirewallFile | None, scope: str, wanted: str | None) -> list[dict[str, object]]:
    refs: list[dict[str, object]] = []
    if fw is None:
        return refs
    if wanted in (None, "alias"):
        # pve-firewall's collect_refs (Firewall/Helpers.pm) lists the keys of the parsed aliases,
        # which generic_fw_config_parser (Firewall.pm) stores as lc(name): name and ref lowercase
        for alias in sorted(fw.aliases, key=lambda item: item.name.lower()):
            refs.append(
                {
                    "type": "alias",
                    "name": alias.name.lower(),
                    "ref": alias.name.lower(),
                    "scope": scope,
                    **({"comment": alias.comment} if alias.comment else {}),
                }
            )
    if wanted in (None, "ipset"):
        for ipset in sorted(fw.ipsets, key=lambda item: item.name):
            refs.append(
                {
                    "type": "ipset",
                    "name": ipset.name,
                    "ref": f"+{ipset.name}",
                    "scope": scope,
                    **({"comment": ipset.comment} if ipset.comment else {}),
                }
            )
    return refs


# The comments proxmox-ve-config gives the generated sets (SdnConfig::ipsets), by name suffix.
_SDN_SET_COMMENTS = {
    "all": "All subnets of VNet {vnet}",
    "gateway": "All gateways of VNet {vnet}",
    "no-gateway": "All subnets of VNet {vnet}, excluding gateways",
    "dhcp": "DHCP ranges of VNet {vnet}",
}


def _sdn_refs(call: Call, wanted: str | None) -> list[dict[str, object]]:
    """The SDN sets in the refs list: the four sets of every vnet (proxmox-ve-config
    SdnConfig::ipsets), then ``guest-ipam-<vmid>`` for every guest with IPAM addresses
    (Ipam::ipsets, which gives them no comment). pve-rs hands them to Perl by bare name
    (PVE::RS::Firewall::SDN), so collect_refs makes their ``ref`` ``+<name>``, without
    ``sdn/``."""
    if wanted not in (None, "ipset"):
        return []
    refs: list[dict[str, object]] = []
    for vnet in sorted(call.ctx.topology.vnets):
        for suffix, comment in _SDN_SET_COMMENTS.items():
            name = f"{vnet}-{suffix}"
            refs.append({"type": "ipset", "name": name, "ref": f"+{name}", "scope": "sdn", "comment": comment.format(vnet=vnet)})
    for vmid, addresses in sorted(call.ctx.topology.ipam.items()):
        if addresses:
            refs.append({"type": "ipset", "name": f"guest-ipam-{vmid}", "ref": f"+guest-ipam-{vmid}", "scope": "sdn"})
    return refs


def cluster_refs(call: Call) -> list[dict[str, object]]:
    """``[...sdn, ...dc]``."""
    wanted = call.params.get("type")
    return _sdn_refs(call, wanted) + _scope_refs(call.ctx.store.read(FileKey.cluster()), "dc", wanted)


def guest_refs(resolve: TargetResolver) -> Handler:
    """``[...dc, ...sdn, ...guest]``."""

    def handler(call: Call) -> list[dict[str, object]]:
        target = resolve(call)
        wanted = call.params.get("type")
        dc = _scope_refs(call.ctx.store.read(FileKey.cluster()), "dc", wanted)
        return dc + _sdn_refs(call, wanted) + _scope_refs(call.ctx.store.read(target.key), "guest", wanted)

    return handler


def _log(call: Call, node: str, vmid: int | None) -> Result:
    params = call.params
    total, lines = call.ctx.logs.query(
        node,
        vmid=vmid,
        start=params.get("start"),
        limit=params.get("limit"),
        since=params.get("since"),
        until=params.get("until"),
    )
    return Result(lines, {"total": total})


def host_log(call: Call) -> Result:
    return _log(call, check_node(call), None)


def guest_log(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> Result:
        target = resolve(call)
        assert target.guest is not None
        return _log(call, target.guest.node, target.guest.vmid)

    return handler
