"""Expressions extended with a name in scope: `x = e` → `x = max(x, e)`, `e` → `v + e`, `f(k)` → `f(k - n)`.

Each is a general repair pattern of the literature (TBar's "mutate/extend expression", PraPR's
argument mutation): an accumulator that should keep its best value, a result that should keep
what it already had, an argument that should be shifted by an offset computed nearby.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site, expressions_in, operand_text, wrapped
from agent.repair.operators.offbyone import integer_names

MAX_NAMES = 4


def extension_mutations(site: Site) -> Iterator[Mutation]:
    """Keep-the-best wraps, operand additions to results, offsets on passed-on arguments."""
    yield from _keep_best(site)
    yield from _extended_results(site)
    yield from _offset_arguments(site)


def _keep_best(site: Site) -> Iterator[Mutation]:
    """`best = cur` → `best = max(best, cur)` / `min(best, cur)`: an update that forgot the old value."""
    stmt = site.stmt
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return
    target = stmt.targets[0].id
    if target not in _assigned_elsewhere(site, stmt):
        return
    text = site.sf.segment(stmt.value)
    for rank, fn in enumerate(("max", "min")):
        new = f"{fn}({target}, {text})"
        yield site.edit(stmt.value, new, "call_wrap",
                        f"`{text}` wrapped as `{new}`{site.where(stmt.value.lineno)}", 2.5 + 0.1 * rank)


def _assigned_elsewhere(site: Site, stmt: ast.stmt) -> set[str]:
    fn = site.scope.function
    if fn is None:
        return set()
    names: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node is not stmt:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _extended_results(site: Site) -> Iterator[Mutation]:
    """`return [f(x) for x in rest]` → `return rest + [...]`: a result that drops what a local already holds."""
    stmt = site.stmt
    value = getattr(stmt, "value", None)
    if not isinstance(stmt, ast.Return | ast.Assign) or not isinstance(value, ast.List | ast.ListComp | ast.BinOp):
        return
    used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
    targets = {n.id for t in getattr(stmt, "targets", []) for n in ast.walk(t) if isinstance(n, ast.Name)}
    names = [n for n in site.scope.local_names if n in used and n not in targets]
    text = operand_text(site, value) if isinstance(value, ast.BinOp) else site.sf.segment(value)
    for rank, name in enumerate(names[:MAX_NAMES]):
        for new, cost in ((f"{name} + {text}", 2.8), (f"{text} + {name}", 2.9)):
            yield site.edit(value, new, "operand_add", f"`{site.sf.segment(value)}` changed to `{new}`"
                            f"{site.where(value.lineno)}", cost + 0.02 * rank)


def _offset_arguments(site: Site) -> Iterator[Mutation]:
    """`kth(above, k)` → `kth(above, k - num_less)`: a position passed on without the offset computed for it."""
    integers = sorted(integer_names(site))
    if not integers:
        return
    for node in expressions_in(site.roots):
        if not isinstance(node, ast.Call):
            continue
        for arg in node.args:
            if not isinstance(arg, ast.Name):
                continue
            for rank, name in enumerate(n for n in integers[:MAX_NAMES + 2] if n != arg.id):
                for op in ("-", "+"):
                    new = wrapped(site, arg, f"{arg.id} {op} {name}")
                    yield site.edit(arg, new, "arg_offset", f"argument `{arg.id}` changed to `{new}`"
                                    f"{site.where(arg.lineno)}", 2.7 + 0.02 * rank)
