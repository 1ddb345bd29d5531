"""The emulated API tree: every firewall endpoint of PVE 9.1 at every level, plus what a
client needs around them (version, ticket, nodes, resources, cluster status, node
networks, guest lists, guest configs and their NICs).

Parameter facts (types, formats, patterns, bounds, enums, defaults) are PVE's; the
conformance test compares this table with the reference schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import LOG_LEVELS
from ansible_collections.pve.firewall.plugins.module_utils._reference.options_data import SCHEMA_OPTIONS

from .handlers import aliases, cluster, groups, info, ipsets, options, rules, sdn
from .nics import MAX_NICS
from .routes import Endpoint, Handler, Permission
from .schema import Param
from .targets import TargetResolver, cluster_target, guest_target, host_target, vnet_target

NAME_PATTERN = r"[A-Za-z][A-Za-z0-9\-\_]+"

# -- parameters ---------------------------------------------------------------------------

NODE = Param("string", optional=False, format="pve-node", description="The cluster node name.")
VMID = Param("integer", optional=False, format="pve-vmid", minimum=100, maximum=999999999, description="The (unique) ID of the VM.")
VNET = Param("string", optional=False, format="pve-sdn-vnet-id", description="The SDN vnet.")
DIGEST = Param("string", max_length=64, description="Prevent changes if current configuration file has a different digest.")
COMMENT = Param("string")
POS = Param("integer", minimum=0, description="Rule position.")
GROUP = Param("string", optional=False, pattern=NAME_PATTERN, min_length=2, max_length=18, description="Security Group name.")
SET_NAME = Param("string", optional=False, pattern=NAME_PATTERN, min_length=2, max_length=64, description="IP set name.")
ALIAS_NAME = Param("string", optional=False, pattern=NAME_PATTERN, min_length=2, max_length=64, description="Alias name.")
RENAME_64 = Param("string", pattern=NAME_PATTERN, min_length=2, max_length=64)
COUNT = Param("integer", minimum=0)

_RULE_VALUES: Mapping[str, Param] = {
    "macro": Param("string", max_length=128, description="Use predefined standard macro."),
    "iface": Param("string", format="pve-iface", min_length=2, max_length=20, description="Network interface name."),
    "source": Param("string", format="pve-fw-addr-spec", max_length=512, description="Restrict packet source address."),
    "dest": Param("string", format="pve-fw-addr-spec", max_length=512, description="Restrict packet destination address."),
    "proto": Param("string", format="pve-fw-protocol-spec", description="IP protocol."),
    "dport": Param("string", format="pve-fw-dport-spec", description="Restrict TCP/UDP destination port."),
    "sport": Param("string", format="pve-fw-sport-spec", description="Restrict TCP/UDP source port."),
    "icmp-type": Param("string", format="pve-fw-icmp-type-spec", description="Specify icmp-type."),
    "log": Param("string", enum=LOG_LEVELS, description="Log level for firewall rule."),
    "enable": Param("integer", minimum=0, description="Flag to enable/disable a rule."),
    "comment": COMMENT,
    "pos": POS,
    "digest": DIGEST,
}
_TYPE_ENUM = ("in", "out", "forward", "group")


def _rule_params(*, required: bool) -> dict[str, Param]:
    """POST (type and action required) or PUT (optional, plus moveto and delete)."""
    head = {
        "type": Param("string", optional=not required, enum=_TYPE_ENUM, description="Rule type."),
        "action": Param(
            "string",
            optional=not required,
            pattern=NAME_PATTERN,
            min_length=2,
            max_length=20,
            description="Rule action ('ACCEPT', 'DROP', 'REJECT') or security group name.",
        ),
    }
    extra = (
        {}
        if required
        else {
            "moveto": Param("integer", minimum=0, description="Move rule to new position <moveto>. Other arguments are ignored."),
            "delete": Param("string", format="pve-configid-list", description="A list of settings you want to delete."),
        }
    )
    return {**head, **_RULE_VALUES, **extra}


def _option_params(level: str) -> dict[str, Param]:
    out = {}
    for key, facts in SCHEMA_OPTIONS[level].items():
        enum = facts.get("enum")
        out[key] = Param(
            str(facts["type"]),
            format=facts.get("format"),  # type: ignore[arg-type]
            minimum=facts.get("minimum"),  # type: ignore[arg-type]
            maximum=facts.get("maximum"),  # type: ignore[arg-type]
            enum=tuple(enum) if enum else None,  # type: ignore[arg-type]
            default=facts.get("default"),
            description=str(facts.get("description", "")),
        )
    return {**out, "delete": Param("string", format="pve-configid-list"), "digest": DIGEST}


# -- levels -------------------------------------------------------------------------------


class _Level:
    """One mount point of the firewall tree and what a write there needs."""

    def __init__(
        self, base: str, path_params: Mapping[str, Param], resolve: TargetResolver, permission: Permission, proxied: frozenset[str] = frozenset()
    ) -> None:
        self.base = base
        self.path_params = dict(path_params)
        self.resolve = resolve
        self.permission = permission
        self.proxied = proxied  # sub-paths PVE runs on {node}

    def endpoint(self, sub: str, method: str, name: str, handler: Handler, description: str, params: Mapping[str, Param] | None = None) -> Endpoint:
        return Endpoint(
            path=self.base + sub,
            method=method,
            name=name,
            params=MappingProxyType({**self.path_params, **(params or {})}),
            handler=handler,
            description=description,
            permission=self.permission if method != "GET" else None,
            proxyto="node" if sub in self.proxied else None,
        )


def _rules_tree(level: _Level, sub: str = "/rules", *, in_group: bool = False, extra: Mapping[str, Param] | None = None) -> list[Endpoint]:
    resolve = level.resolve
    pos_path = {**(extra or {}), "pos": POS}
    return [
        level.endpoint(sub, "GET", "get_rules", rules.list_rules(resolve, in_group=in_group), "List rules.", extra),
        level.endpoint(
            sub,
            "POST",
            "create_rule",
            rules.create_rule(resolve, in_group=in_group),
            "Create new rule.",
            {**(extra or {}), **_rule_params(required=True)},
        ),
        level.endpoint(sub + "/{pos}", "GET", "get_rule", rules.get_rule(resolve, in_group=in_group), "Get single rule data.", pos_path),
        level.endpoint(
            sub + "/{pos}",
            "PUT",
            "update_rule",
            rules.update_rule(resolve, in_group=in_group),
            "Modify rule data.",
            {**(extra or {}), **_rule_params(required=False)},
        ),
        level.endpoint(sub + "/{pos}", "DELETE", "delete_rule", rules.delete_rule(resolve, in_group=in_group), "Delete rule.", {**pos_path, "digest": DIGEST}),
    ]


def _options_tree(level: _Level, option_level: str, description: str) -> list[Endpoint]:
    return [
        level.endpoint("/options", "GET", "get_options", options.get_options(level.resolve), description),
        level.endpoint("/options", "PUT", "set_options", options.set_options(level.resolve), "Set Firewall options.", _option_params(option_level)),
    ]


def _ipset_tree(level: _Level) -> list[Endpoint]:
    resolve = level.resolve
    name = {"name": SET_NAME}
    cidr = {**name, "cidr": Param("string", optional=False, format="IPorCIDRorAlias", description="Network/IP specification in CIDR format.")}
    nomatch = Param("boolean")
    return [
        level.endpoint("/ipset", "GET", "ipset_index", ipsets.list_ipsets(resolve), "List IPSets"),
        level.endpoint(
            "/ipset",
            "POST",
            "create_ipset",
            ipsets.create_ipset(resolve),
            "Create new IPSet",
            {**name, "comment": COMMENT, "digest": DIGEST, "rename": RENAME_64},
        ),
        level.endpoint("/ipset/{name}", "GET", "get_ipset", ipsets.list_entries(resolve), "List IPSet content", name),
        level.endpoint(
            "/ipset/{name}",
            "POST",
            "create_ip",
            ipsets.add_entry(resolve),
            "Add IP or Network to IPSet.",
            {**cidr, "nomatch": nomatch, "comment": COMMENT},
        ),
        level.endpoint(
            "/ipset/{name}",
            "DELETE",
            "delete_ipset",
            ipsets.delete_ipset(resolve),
            "Delete IPSet",
            {**name, "force": Param("boolean", description="Delete all members of the IPSet, if there are any.")},
        ),
        level.endpoint("/ipset/{name}/{cidr}", "GET", "read_ip", ipsets.get_entry(resolve), "Read IP or Network settings from IPSet.", cidr),
        level.endpoint(
            "/ipset/{name}/{cidr}",
            "PUT",
            "update_ip",
            ipsets.update_entry(resolve),
            "Update IP or Network settings",
            {**cidr, "nomatch": nomatch, "comment": COMMENT, "digest": DIGEST},
        ),
        level.endpoint(
            "/ipset/{name}/{cidr}",
            "DELETE",
            "remove_ip",
            ipsets.delete_entry(resolve),
            "Remove IP or Network from IPSet.",
            {**cidr, "digest": DIGEST},
        ),
    ]


def _alias_tree(level: _Level) -> list[Endpoint]:
    resolve = level.resolve
    name = {"name": ALIAS_NAME}
    cidr = Param("string", optional=False, format="IPorCIDR", description="Network/IP specification in CIDR format.")
    return [
        level.endpoint("/aliases", "GET", "get_aliases", aliases.list_aliases(resolve), "List aliases"),
        level.endpoint(
            "/aliases",
            "POST",
            "create_alias",
            aliases.create_alias(resolve),
            "Create IP or Network Alias.",
            {**name, "cidr": cidr, "comment": COMMENT},
        ),
        level.endpoint("/aliases/{name}", "GET", "read_alias", aliases.get_alias(resolve), "Read alias.", name),
        level.endpoint(
            "/aliases/{name}",
            "PUT",
            "update_alias",
            aliases.update_alias(resolve),
            "Update IP or Network alias.",
            {**name, "cidr": cidr, "comment": COMMENT, "digest": DIGEST, "rename": RENAME_64},
        ),
        level.endpoint("/aliases/{name}", "DELETE", "remove_alias", aliases.delete_alias(resolve), "Remove IP or Network alias.", {**name, "digest": DIGEST}),
    ]


_LOG_PARAMS = {"start": COUNT, "limit": COUNT, "since": COUNT, "until": COUNT}
_REFS_TYPE = {"type": Param("string", enum=("alias", "ipset"), description="Only list references of specified type.")}


def _cluster() -> list[Endpoint]:
    level = _Level("/cluster/firewall", {}, cluster_target, Permission("/", "Sys.Modify"))
    group = {"group": GROUP}
    return [
        level.endpoint("", "GET", "index", info.index("aliases", "rules", "options", "groups", "ipset", "macros", "refs"), "Directory index."),
        *_rules_tree(level),
        *_options_tree(level, "cluster", "Get Firewall options."),
        *_ipset_tree(level),
        *_alias_tree(level),
        level.endpoint("/macros", "GET", "get_macros", info.list_macros, "List available macros"),
        level.endpoint(
            "/refs", "GET", "refs", info.cluster_refs, "Lists possible IPSet/Alias reference which are allowed in source/dest properties.", _REFS_TYPE
        ),
        level.endpoint("/groups", "GET", "list_security_groups", groups.list_groups, "List security groups."),
        level.endpoint(
            "/groups",
            "POST",
            "create_security_group",
            groups.create_group,
            "Create new security group.",
            {**group, "comment": COMMENT, "digest": DIGEST, "rename": Param("string", pattern=NAME_PATTERN, min_length=2, max_length=18)},
        ),
        level.endpoint("/groups/{group}", "DELETE", "delete_security_group", groups.delete_group, "Delete security group.", group),
        *_rules_tree(level, "/groups/{group}", in_group=True, extra=group),
    ]


def _host() -> list[Endpoint]:
    proxied = frozenset({"/rules", "/rules/{pos}", "/options", "/log"})
    level = _Level("/nodes/{node}/firewall", {"node": NODE}, host_target, Permission("/nodes/{node}", "Sys.Modify"), proxied)
    return [
        level.endpoint("", "GET", "index", info.index("rules", "options", "log"), "Directory index."),
        *_rules_tree(level),
        *_options_tree(level, "host", "Get host firewall options."),
        level.endpoint("/log", "GET", "log", info.host_log, "Read firewall log", _LOG_PARAMS),
    ]


def _guest(guest_type: str) -> list[Endpoint]:
    resolve = guest_target(guest_type)
    level = _Level(
        f"/nodes/{{node}}/{guest_type}/{{vmid}}/firewall",
        {"node": NODE, "vmid": VMID},
        resolve,
        Permission("/vms/{vmid}", "VM.Config.Network"),
        frozenset({"/options", "/log"}),
    )
    kind = "VM" if guest_type == "qemu" else "CT"
    return [
        level.endpoint("", "GET", "index", info.index("rules", "aliases", "ipset", "refs", "options"), "Directory index."),
        *_rules_tree(level),
        *_options_tree(level, "vm", f"Get {kind} firewall options."),
        *_ipset_tree(level),
        *_alias_tree(level),
        level.endpoint("/log", "GET", "log", info.guest_log(resolve), "Read firewall log", _LOG_PARAMS),
        level.endpoint(
            "/refs",
            "GET",
            "refs",
            info.guest_refs(resolve),
            "Lists possible IPSet/Alias reference which are allowed in source/dest properties.",
            _REFS_TYPE,
        ),
    ]


def _vnet() -> list[Endpoint]:
    level = _Level("/cluster/sdn/vnets/{vnet}/firewall", {"vnet": VNET}, vnet_target, Permission("/sdn/zones/{zone}/{vnet}", "SDN.Allocate"))
    return [
        level.endpoint("", "GET", "index", info.index("rules", "options"), "Directory index."),
        *_rules_tree(level),
        *_options_tree(level, "vnet", "Get vnet firewall options."),
    ]


def _guest_config_params(guest_type: str) -> dict[str, Param]:
    """PUT .../config as far as the emulator models a guest config: the NICs, delete, digest."""
    nic_format = "pve-qm-net" if guest_type == "qemu" else "pve-lxc-network"
    what = "network device" if guest_type == "qemu" else "network interface"
    nics = {f"net{index}": Param("string", format=nic_format, description=f"Specify {what}s.") for index in range(MAX_NICS)}
    return {
        **nics,
        "delete": Param("string", format="pve-configid-list", description="A list of settings you want to delete."),
        "digest": Param(
            "string",
            max_length=40,
            description="Prevent changes if current configuration file has different SHA1 digest. This can be used to prevent concurrent modifications.",
        ),
    }


def _around() -> list[Endpoint]:
    """Outside the firewall tree: what clients use to log in and to find nodes and guests."""
    plain = _Level("", {}, cluster_target, Permission("/", "Sys.Modify"))
    configs = frozenset({"/nodes/{node}/qemu/{vmid}/config", "/nodes/{node}/lxc/{vmid}/config"})
    guest_level = _Level("", {}, cluster_target, Permission("/vms/{vmid}", "VM.Config.Network"), configs)
    node = {"node": NODE}
    guest = {"node": NODE, "vmid": VMID}
    return [
        plain.endpoint("/version", "GET", "version", cluster.version, "API version details."),
        plain.endpoint("/nodes", "GET", "index", cluster.list_nodes, "Cluster node index."),
        plain.endpoint(
            "/cluster/resources",
            "GET",
            "resources",
            cluster.cluster_resources,
            "Resources index (cluster wide).",
            {"type": Param("string", enum=("vm", "storage", "node", "sdn"))},
        ),
        plain.endpoint("/cluster/status", "GET", "get_status", cluster.cluster_status, "Get cluster status information."),
        plain.endpoint("/nodes/{node}/network", "GET", "index", cluster.node_network, "List available networks", node),
        plain.endpoint("/nodes/{node}/qemu", "GET", "vmlist", cluster.list_guests("qemu"), "Virtual machine index (per node).", node),
        plain.endpoint("/nodes/{node}/lxc", "GET", "vmlist", cluster.list_guests("lxc"), "LXC container index (per node).", node),
        plain.endpoint("/nodes/{node}/qemu/{vmid}/config", "GET", "vm_config", cluster.guest_config("qemu"), "Get the virtual machine configuration.", guest),
        plain.endpoint("/nodes/{node}/lxc/{vmid}/config", "GET", "vm_config", cluster.guest_config("lxc"), "Get container configuration.", guest),
        guest_level.endpoint(
            "/nodes/{node}/qemu/{vmid}/config",
            "PUT",
            "update_vm",
            cluster.set_guest_config("qemu"),
            "Set virtual machine options (synchronous API) - You should consider using the POST method instead for any actions involving hotplug or "
            "storage allocation.",
            {**guest, **_guest_config_params("qemu")},
        ),
        guest_level.endpoint(
            "/nodes/{node}/lxc/{vmid}/config",
            "PUT",
            "update_vm",
            cluster.set_guest_config("lxc"),
            "Set container options.",
            {**guest, **_guest_config_params("lxc")},
        ),
        plain.endpoint("/cluster/sdn/vnets", "GET", "index", cluster.list_vnets, "SDN vnets index.", _SDN_VIEW),
        plain.endpoint("/cluster/sdn/vnets/{vnet}/subnets", "GET", "index", sdn.list_subnets, "SDN subnets index.", {"vnet": VNET, **_SDN_VIEW}),
        plain.endpoint(
            "/cluster/sdn/ipams/{ipam}/status", "GET", "ipamindex", sdn.ipam_status, "List PVE IPAM Entries", {"ipam": Param("string", optional=False)}
        ),
    ]


# pve-network's SDN indexes show the running or the pending configuration on request
_SDN_VIEW: Mapping[str, Param] = MappingProxyType(
    {"running": Param("boolean", description="Display running config."), "pending": Param("boolean", description="Display pending config.")}
)


# The ticket endpoint is answered by the server itself (it needs no authentication).
TICKET_PARAMS: Mapping[str, Param] = MappingProxyType(
    {
        "username": Param("string", optional=False, max_length=64),
        "password": Param("string", optional=False),
        "realm": Param("string", max_length=32),
        "otp": Param("string"),
        "path": Param("string", max_length=64),
        "privs": Param("string", max_length=64),
        "new-format": Param("boolean", default=1),
        "tfa-challenge": Param("string"),
    }
)


def build_endpoints() -> list[Endpoint]:
    return [*_cluster(), *_host(), *_guest("qemu"), *_guest("lxc"), *_vnet(), *_around()]
