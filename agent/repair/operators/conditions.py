"""Conditions: negated, a clause dropped, a guard added (`x is None or …`, `not xs or …`, `… or not coins`)."""

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
    yield from _filters_negated(site)
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
        yield from _parameter_guards(site, test, names, body, text, where)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left = site.sf.segment(test.left)
            right = site.sf.segment(test.comparators[0])
            for extra in (f"{left} < len({right})",) if isinstance(test.comparators[0], ast.Name) else ():
                yield site.edit(test, f"{text} and {extra}", "guard_add",
                                f"condition `{text}` changed to `{text} and {extra}`{where}", 3.0)


def _parameter_guards(site: Site, test: ast.expr, names: list[str], body: str, text: str,
                      where: str) -> Iterator[Mutation]:
    """An exit condition missing the emptiness check of another parameter: `total < 0` → `total < 0 or not coins`."""
    if not isinstance(site.stmt, ast.If | ast.While) or test is not site.stmt.test:
        return
    fn = site.scope.function
    if fn is None:
        return
    params = [a.arg for a in fn.args.args if a.arg not in names and a.arg not in ("self", "cls")]
    for rank, name in enumerate(params[:3]):
        for guard, cost in ((f"{body} or not {name}", 2.8), (f"not {name} or {body}", 2.85)):
            yield site.edit(test, guard, "guard_add", f"condition `{text}` changed to `{guard}`{where}",
                            cost + 0.02 * rank)


def _filters_negated(site: Site) -> Iterator[Mutation]:
    """`[x for x in xs if is_even(x)]` → `… if not is_even(x)`: a comprehension keeping the wrong half."""
    for root in site.roots:
        for comp in (n for n in ast.walk(root) if isinstance(n, ast.comprehension)):
            for cond in comp.ifs:
                text = site.sf.segment(cond)
                if isinstance(cond, ast.UnaryOp) and isinstance(cond.op, ast.Not):
                    continue  # dropping a `not` is the operator family's job
                yield site.edit(cond, f"not {operand_text(site, cond)}", "negation_add",
                                f"filter `{text}` negated{site.where(cond.lineno)}", 1.6)
