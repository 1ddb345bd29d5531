"""The checks of rules that never decide anything: a rule that repeats an earlier one of the
same list, and a rule whose every packet earlier rules already decide (proven with the rule
coverage of ``audit_coverage``; rules that cannot be compared exactly are never reported)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from .._compiler.normalise import normalise_rule
from .audit_context import AuditContext
from .audit_coverage import Atom, AtomKey, RuleList, deciders
from .audit_findings import Issue


def rule_duplicate(context: AuditContext) -> Iterator[Issue]:
    for rules in context.audited_lists():
        for position, first in enumerate(_first_equal(rules)):
            if first != position:
                yield Issue(
                    rules.at(position),
                    f"{rules.where(position)} repeats rules[{first}]" + (": it never decides anything" if rules.rules[position].enable else ""),
                    f"delete rules[{position}] ({rules.fix_module})",
                )


def rule_shadowed(context: AuditContext) -> Iterator[Issue]:
    compiler = context.compiler
    for rules in context.audited_lists():
        earlier: dict[AtomKey, list[tuple[int, Atom]]] = {}
        for position, first in enumerate(_first_equal(rules)):
            # a repeated rule is rule-duplicate's, and is compared no further
            exact = compiler.atoms(rules, position, exact=True) if first == position else None
            if exact:
                found = deciders(exact, earlier)
                if found:
                    named = ", ".join(rules.where(index) for index in found[:3]) + (" ..." if len(found) > 3 else "")
                    yield Issue(
                        rules.at(position),
                        f"{rules.where(position)} can never match: {named} already decide{'s' if len(found) == 1 else ''} every packet it would match",
                        f"delete rules[{position}], or move it above rules[{found[0]}] if it is meant to decide first ({rules.fix_module})",
                    )
            atoms = exact if exact is not None else compiler.atoms(rules, position, exact=False)
            for atom in atoms or ():
                earlier.setdefault(atom.key, []).append((position, atom))


def _first_equal(rules: RuleList) -> list[int]:
    """For each rule, the position of the first rule of the list equal to it (comments aside)."""
    seen: dict[object, int] = {}
    return [seen.setdefault(normalise_rule(replace(rule, comment=None)), position) for position, rule in enumerate(rules.rules)]
