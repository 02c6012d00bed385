"""Conditions: negated, a clause dropped, a guard added (`x is None or …`, `not xs or …`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site, operand_text


def condition_mutations(site: Site) -> Iterator[Mutation]:
    """Mutate the test of an if/while/assert/conditional expression."""
    stmt = site.stmt
    tests: list[ast.expr] = []
    if isinstance(stmt, ast.If | ast.While | ast.Assert):
        tests.append(stmt.test)
    for root in site.roots:
        tests.extend(n.test for n in ast.walk(root) if isinstance(n, ast.IfExp))
    for test in tests:
        text = site.sf.segment(test)
        where = site.where(test.lineno)
        if not (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)):
            yield site.edit(test, f"not {operand_text(site, test)}", "negation_add",
                            f"condition `{text}` negated{where}", 1.4)
        for const, cost in (("True", 1.9), ("False", 2.3)):
            yield site.edit(test, const, "condition_const", f"condition `{text}` replaced by `{const}`{where}", cost)
        if isinstance(test, ast.BoolOp):
            for i, value in enumerate(test.values):
                rest = [v for j, v in enumerate(test.values) if j != i]
                op = " and " if isinstance(test.op, ast.And) else " or "
                new = op.join(operand_text(site, v) if isinstance(v, ast.BoolOp) else site.sf.segment(v) for v in rest)
                yield site.edit(test, new, "clause_drop", f"clause `{site.sf.segment(value)}` dropped{where}", 1.7)
        names = []
        for node in ast.walk(test):
            if isinstance(node, ast.Name) and node.id not in names and node.id in site.scope.local_names:
                names.append(node.id)
        body = operand_text(site, test) if isinstance(test, ast.BoolOp | ast.IfExp | ast.NamedExpr) else text
        for name in names[:4]:
            for guard, cost in ((f"not {name} or {body}", 2.4), (f"{name} is None or {body}", 2.5),
                                (f"{name} and {body}", 2.6), (f"{body} or not {name}", 2.7)):
                yield site.edit(test, guard, "guard_add", f"condition `{text}` changed to `{guard}`{where}", cost)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left = site.sf.segment(test.left)
            right = site.sf.segment(test.comparators[0])
            for extra in (f"{left} < len({right})",) if isinstance(test.comparators[0], ast.Name) else ():
                yield site.edit(test, f"{text} and {extra}", "guard_add",
                                f"condition `{text}` changed to `{text} and {extra}`{where}", 3.0)
