"""Fail when a module_utils layer imports a layer above it, or a pure layer imports Ansible.

The layers of ``plugins/module_utils``, from the bottom up (docs/architecture.md):

    _model, _reference < _compiler < _plan < _engine < _analysis < _api < _module_kit < _module_*

A file may import from its own layer and the layers below it. The pure layers (everything
below ``_api``) import neither ``ansible`` nor the API layer, so the compiler, planner and
engine run anywhere Python runs. Every file of ``module_utils`` lives in a layer.

``plugins/plugin_utils`` and ``plugins/action`` run on the controller only (the controller
execution path); ``module_utils`` and ``plugins/modules`` never import them, since a module
payload, run where the task runs, cannot carry them.

Usage: ``python tools/check_layers.py [--root DIR]`` (DIR: the collection root, default this
repository). Prints each violation as ``file:line: what`` and exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Rank of each layer; a file may import only from layers of the same or a lower rank.
LAYER_RANKS = {
    "_model": 0,
    "_reference": 0,
    "_compiler": 1,
    "_plan": 2,
    "_engine": 3,
    "_analysis": 4,
    "_api": 5,
    "_module_kit": 6,
}
BACKEND_PREFIX = "_module_"  # _module_<name>: the backend of one module, above the kit
BACKEND_RANK = 7
PURE_BELOW = LAYER_RANKS["_api"]  # layers below this rank are pure Python
PACKAGE = "ansible_collections.pve.firewall.plugins.module_utils"
PLUGINS_PACKAGE = "ansible_collections.pve.firewall.plugins"
CONTROLLER_ONLY = ("plugin_utils", "action")  # packages below plugins/ that no module may import


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def layer_rank(layer: str) -> int | None:
    if layer in LAYER_RANKS:
        return LAYER_RANKS[layer]
    if layer.startswith(BACKEND_PREFIX):
        return BACKEND_RANK
    return None


def _imported_modules(tree: ast.Module, package: tuple[str, ...]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Every module a file imports, as a dotted tuple; relative imports resolved against
    ``package`` (the file's package below ``plugins``, e.g. ('module_utils', '_api'))."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, tuple(alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parts = (*base, *(node.module.split(".") if node.module else ()))
                # "from .. import x": x may be a module of that package
                names = [(*parts, alias.name) for alias in node.names] if not node.module else [parts]
                for name in names:
                    yield node.lineno, ("<plugins>", *name)
            elif node.module:
                yield node.lineno, tuple(node.module.split("."))


def _target_layer(module: tuple[str, ...]) -> str | None:
    """The module_utils layer a module belongs to, or None outside module_utils."""
    if module[:1] == ("<plugins>",):
        rest = module[1:]
    elif ".".join(module).startswith(PACKAGE):
        rest = ("module_utils", *module[len(PACKAGE.split(".")) :])
    else:
        return None
    if rest[:1] != ("module_utils",) or len(rest) < 2:
        return None
    return rest[1]


def _controller_only(module: tuple[str, ...]) -> bool:
    """Whether ``module`` is controller-only code of this collection (plugin_utils, action)."""
    if module[:1] == ("<plugins>",):
        rest = module[1:]
    elif ".".join(module).startswith(PLUGINS_PACKAGE + "."):
        rest = module[len(PLUGINS_PACKAGE.split(".")) :]
    else:
        return False
    return rest[:1] != () and rest[0] in CONTROLLER_ONLY


def controller_only_imports(path: Path, plugins: Path) -> list[Violation]:
    """Imports of controller-only code in a file a module payload carries."""
    package = path.relative_to(plugins).parent.parts
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    shown = path.relative_to(plugins.parent)
    return [
        Violation(shown, line, f"imports {'.'.join(part for part in module if part != '<plugins>')}, which runs on the controller only")
        for line, module in _imported_modules(tree, package)
        if _controller_only(module)
    ]


def check_file(path: Path, plugins: Path) -> list[Violation]:
    relative = path.relative_to(plugins)
    package = relative.parent.parts  # ('module_utils', '_api')
    own_layer = package[1] if len(package) > 1 else None
    own_rank = layer_rank(own_layer) if own_layer else None
    shown = path.relative_to(plugins.parent)
    if own_rank is None:
        return [Violation(shown, 1, "module_utils files belong in a layer (a subpackage named in tools/check_layers.py)")]
    violations = controller_only_imports(path, plugins)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for line, module in _imported_modules(tree, package):
        if _controller_only(module):
            continue  # reported above
        if module[0] == "ansible" and own_rank < PURE_BELOW:
            violations.append(Violation(shown, line, f"{own_layer} is a pure layer and must not import {'.'.join(module)}"))
            continue
        target = _target_layer(module)
        if target is None:
            if module[0] == "ansible_collections" and own_rank < PURE_BELOW:
                violations.append(Violation(shown, line, f"{own_layer} is a pure layer and must not import {'.'.join(module)}"))
            continue
        target_rank = layer_rank(target)
        if target_rank is None:
            violations.append(Violation(shown, line, f"imports {target}, which is no layer"))
        elif target != own_layer and (target_rank > own_rank or (target_rank == own_rank == BACKEND_RANK)):
            violations.append(
                Violation(shown, line, f"{own_layer} (layer {own_rank}) imports {target} (layer {target_rank}): a lower layer never imports a higher one")
            )
    return violations


def check_tree(root: Path) -> list[Violation]:
    plugins = root / "plugins"
    module_utils = plugins / "module_utils"
    violations: list[Violation] = []
    for path in sorted(module_utils.rglob("*.py")):
        violations += check_file(path, plugins)
    for path in sorted((plugins / "modules").glob("*.py")):
        violations += controller_only_imports(path, plugins)
    return violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help="the collection root")
    args = parser.parse_args(argv)
    violations = check_tree(args.root)
    for violation in violations:
        print(violation)
    count = len(list((args.root / "plugins" / "module_utils").rglob("*.py")))
    if violations:
        print(f"check_layers: {len(violations)} violation(s) in {count} files", file=sys.stderr)
        return 1
    print(f"check_layers: {count} files, every import goes down the layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
