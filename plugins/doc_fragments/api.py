# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Options every API module of pve.firewall shares: the connection and the scope."""

    # How to reach and log in to the Proxmox VE API.
    DOCUMENTATION = r"""
options:
  api_host:
    description:
      - Host name or address of a Proxmox VE node; every node serves the whole cluster.
      - The host alone, without scheme, port or path (not C(https://pve1:8006)); the port goes
        in O(api_port). An IPv6 address may be given with or without brackets (C(::1), C([::1])).
      - If not set, the value of the E(PROXMOX_HOST) environment variable is used.
      - Required for everything that talks to the API.
    type: str
  api_port:
    description:
      - Port of the API (C(pveproxy)).
      - If not set, the value of the E(PROXMOX_PORT) environment variable is used, else C(8006).
    type: int
    default: 8006
  api_user:
    description:
      - User to log in as with O(api_password), or the owner of the API token when
        O(api_token_id) is the token's name alone, for example C(root@pam).
      - If not set, the value of the E(PROXMOX_USER) environment variable is used.
    type: str
  api_password:
    description:
      - Password of O(api_user). The module logs in for a ticket and sends the CSRF token
        with every write.
      - If not set, the value of the E(PROXMOX_PASSWORD) environment variable is used.
    type: str
  api_token_id:
    description:
      - API token, either its name (with O(api_user) as the owner) or the full id
        C(user@realm!name).
      - The id alone; a value with C(=) (a whole token C(user@realm!name=secret) pasted here) or
        with whitespace is refused without being shown, since it may hold the secret.
      - If not set, the value of the E(PROXMOX_TOKEN_ID) environment variable is used.
    type: str
  api_token_secret:
    description:
      - Secret of the API token (a UUID).
      - A secret with whitespace or a control character (a trailing newline from a file) is
        refused before any request; no message shows it.
      - If not set, the value of the E(PROXMOX_TOKEN_SECRET) environment variable is used.
    type: str
  validate_certs:
    description:
      - Verify the node's TLS certificate. Turn off only for throwaway test clusters; give
        O(ca_path) for a cluster with its own CA instead.
      - If not set, the value of the E(PROXMOX_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - A CA certificate file (PEM) or a directory of them to verify the node's certificate
        with, for example a copy of C(/etc/pve/pve-root-ca.pem).
      - A path that does not exist fails the module, naming the path. Not used with
        O(validate_certs=false).
      - If not set, the value of the E(PROXMOX_CA_PATH) environment variable is used.
    type: path
  api_timeout:
    description:
      - Seconds to wait for each answer of the API.
      - If not set, the value of the E(PROXMOX_API_TIMEOUT) environment variable is used, else C(30).
    type: int
    default: 30
notes:
  - Give either O(api_token_id) and O(api_token_secret), or O(api_user) and O(api_password).
  - The module talks to the API over one kept-alive HTTPS connection. Reads are retried on
    connection errors, writes never.
  - An HTTP proxy in E(https_proxy) or E(HTTPS_PROXY) is used as C(ansible.builtin.uri) uses
    it, through a CONNECT tunnel (TLS still ends at the node), with basic authentication from the
    proxy URL's C(user:password@). E(no_proxy) or E(NO_PROXY) bypasses it for a host or a
    domain suffix, or for every host with C(*). Set them with the C(environment) keyword.
  - Set the connection once for every module of the collection with
    C(module_defaults) and the action group C(group/pve.firewall.firewall).
"""

    # Membership of the action group that module_defaults address.
    ACTION_GROUP = r"""
attributes:
  action_group:
    support: full
    membership: [pve.firewall.firewall]
    description: Use C(group/pve.firewall.firewall) in C(module_defaults) to set the connection once.
"""

    # Modules that only read: check mode changes nothing about them, and there is no diff.
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: There is nothing to compare.
"""

    # Which firewall a module works on.
    SCOPE = r"""
options:
  level:
    description:
      - The firewall to work on. C(cluster) is the datacenter, C(node) a node's host
        firewall, C(vm) and C(ct) a guest's, C(vnet) an SDN vnet's.
    type: str
    choices: [cluster, node, vm, ct, vnet]
    default: cluster
  node:
    description:
      - The node, for O(level=node).
      - For guests, the node the guest runs on. When not given, the module looks it up in
        C(/cluster/resources), so a playbook keeps working after a migration.
    type: str
  vmid:
    description:
      - The guest's id, for O(level=vm) and O(level=ct).
    type: int
  vnet:
    description:
      - The SDN vnet, for O(level=vnet).
    type: str
"""
