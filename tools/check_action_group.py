"""Check that meta/runtime.yml's ``firewall`` action group lists exactly the collection's modules.

Every module must be in the group so that ``module_defaults: {group/pve.firewall.firewall: ...}``
applies to all of them; a listed name without a module is a leftover. Run by `make test-lint`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
GROUP = "firewall"


def main() -> int:
    """Compare plugins/modules/*.py with the action group; print every difference."""
    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text(encoding="utf-8")) or {}
    listed = {entry for entry in (runtime.get("action_groups") or {}).get(GROUP) or [] if isinstance(entry, str)}
    modules = {path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__"}
    problems = [f"meta/runtime.yml: module {name} is missing from action_groups.{GROUP}" for name in sorted(modules - listed)]
    problems += [f"meta/runtime.yml: action_groups.{GROUP} lists {name}, which is not a module" for name in sorted(listed - modules)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"action_groups.{GROUP}: {len(modules)} module(s), all listed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
