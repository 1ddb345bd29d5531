# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pve.firewall.firewall_tree on the controller when the task runs there, else as a module (module_action)."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.plugin_utils.module_action import ModuleAction


class ActionModule(ModuleAction):
    module_name = "firewall_tree"
