"""Which group changes only narrow a group: those are written after the rules that jump to it."""

from __future__ import annotations

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Rule, SecurityGroup
from ansible_collections.pve.firewall.plugins.module_utils._plan.group_changes import only_narrows

SSH = Rule("in", "ACCEPT", macro="SSH")
WEB = Rule("in", "ACCEPT", proto="tcp", dport="8006")
DROP_ALL = Rule("in", "DROP")


def group(*rules: Rule) -> SecurityGroup:
    return SecurityGroup("g", None, rules)


@pytest.mark.parametrize(
    ("old", "new", "narrows"),
    [
        pytest.param((SSH, WEB), (WEB,), True, id="accept-removed"),
        pytest.param((SSH, WEB), (SSH, WEB, DROP_ALL), True, id="drop-added"),
        pytest.param((SSH, WEB), (Rule("in", "ACCEPT", macro="SSH", enable=False), WEB), True, id="accept-disabled"),
        pytest.param((SSH,), (SSH, WEB), False, id="accept-added"),
        pytest.param((SSH, DROP_ALL), (SSH,), False, id="drop-removed"),
        pytest.param((DROP_ALL, SSH), (SSH, DROP_ALL), False, id="reordered"),
        pytest.param((SSH,), (Rule("in", "ACCEPT", macro="SSH", comment="why"),), False, id="comment-only"),
        pytest.param((SSH,), (SSH,), False, id="unchanged"),
    ],
)
def test_only_narrows(old: tuple[Rule, ...], new: tuple[Rule, ...], narrows: bool) -> None:
    assert only_narrows(group(*old), group(*new)) is narrows
