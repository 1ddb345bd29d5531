# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The option of the read-only modules that read several firewalls at once."""

    DOCUMENTATION = r"""
options:
  parallel:
    description:
      - How many firewalls are read at the same time, each through a connection of its own
        (1 to 16). V(1) reads one after the other.
    type: int
    default: 4
    version_added: 0.3.0
"""
