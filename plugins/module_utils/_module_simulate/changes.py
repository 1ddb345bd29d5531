"""O(changes): a firewall tree laid over the configuration, so that every answer is for the
cluster as it will be once the tree is applied. Nothing is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._model.errors import raise_if_errors
from .._model.inventory import Inventory
from .._model.objects import ClusterConfig
from .._plan.rollout_stages import Stage, rollout_stages
from .._plan.tree import (
    FileChange,
    apply_nic_flags,
    apply_tree,
    file_changes,
    nic_flag_changes,
    tree_from_user,
    tree_problems,
    unknown_objects,
)
from .errors import SimulationError


@dataclass(frozen=True)
class AppliedChanges:
    """The configuration and inventory after the changes, and what differs."""

    config: ClusterConfig
    inventory: Inventory
    files: tuple[FileChange, ...]
    nics: tuple[int, ...]  # guests whose NICs' firewall flag changes
    stages: tuple[Stage, ...]  # the configurations a rollout passes through, in its order


def apply_changes(params: Mapping[str, Any], config: ClusterConfig, inventory: Inventory) -> AppliedChanges:
    tree, errors = tree_from_user(params["changes"], "changes")
    errors += unknown_objects(tree, inventory, tuple(sorted(config.vnets)), "changes")
    if errors:
        raise SimulationError.listing("changes", errors)
    after = apply_tree(config, tree, inventory, params["changes_rules_state"], params["changes_prune"])
    raise_if_errors(tree_problems(tree, config, after, "changes"))
    stages = tuple(rollout_stages(config, tree, inventory, params["changes_rules_state"], params["changes_prune"]))
    return AppliedChanges(after, apply_nic_flags(inventory, tree), tuple(file_changes(config, after)), tuple(nic_flag_changes(inventory, tree)), stages)
