"""Expressions: calls unwrapped or wrapped, constants and literals replaced (`True` → `not depth`, `[]` → `[[]]`),
a returned predicate negated, a difference compared by its size (`abs(a - b) < eps`), an extreme started from ±inf,
a lookup made forgiving (`d[k]` → `d.get(k)`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site, expressions_in, identity_operand, wrapped

# Keyed by repr: True == 1 and False == 0 would collide as dict keys.
CONSTANT_SWAPS: dict[str, list[str]] = {"True": ["False"], "False": ["True"], "None": ["0", "[]"], "0": ["1", "None"],
                                        "1": ["0", "2"], "''": ["' '"]}


def _donor_numbers(site: Site, node: ast.Constant) -> list[str]:
    """Other numbers written in the same function (ints for an int, floats for a float), nearest first, at most
    four: a constant replaced by one the surrounding code uses (the literal ingredients of ssFix / CapGen;
    Xin and Reiss 2017, Wen et al. 2018). The ±1 neighbours are the off-by-one operators' already."""
    kind = type(node.value)
    function = site.scope.function
    if kind not in (int, float) or function is None:
        return []
    own: float = node.value  # type: ignore[assignment]  # an int or a float: checked above
    seen: dict[str, int] = {}
    for other in ast.walk(function):
        if isinstance(other, ast.Constant) and type(other.value) is kind and other.value != own and \
                not (kind is int and abs(other.value - own) == 1):
            if identity_operand(site, node, other.value):  # `x + 5` → `x + 0` is a deletion, not an ingredient
                continue
            text = repr(other.value)
            distance = abs(getattr(other, "lineno", 0) - node.lineno)
            seen[text] = min(distance, seen.get(text, distance))
    return sorted(seen, key=lambda text: (seen[text], text))[:4]


def expression_mutations(site: Site) -> Iterator[Mutation]:
    """Unwrap `f(x)` to `x`, wrap `e` in `max(0, e)`/`abs(e)`, swap constants and empty literals."""
    variables = site.scope.local_names[:8]
    for node in expressions_in(site.roots):
        where = site.where(node.lineno)  # type: ignore[attr-defined]
        text = site.sf.segment(node)
        if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
            inner = site.sf.segment(node.args[0])
            yield site.edit(node, wrapped(site, node, inner), "call_unwrap", f"`{text}` changed to `{inner}`{where}",
                            1.9)
        if isinstance(node, ast.Constant) and type(node.value) is float:
            for new in _donor_numbers(site, node):
                yield site.edit(node, new, "constant_donor", f"`{text}` changed to `{new}`{where}", 2.0)
        if isinstance(node, ast.Constant) and type(node.value) in (bool, int, str, type(None)):
            for new in CONSTANT_SWAPS.get(repr(node.value), []):
                if new.isdigit() and identity_operand(site, node, int(new)):
                    continue
                yield site.edit(node, new, "constant_replace", f"`{text}` changed to `{new}`{where}", 1.4)
            for new in _donor_numbers(site, node):  # `/ 10` → `/ 100` where the function uses 100 elsewhere
                yield site.edit(node, new, "constant_donor", f"`{text}` changed to `{new}`{where}", 2.0)
            if type(node.value) is bool or node.value is None:
                for name in variables[:5]:
                    yield site.edit(node, name, "constant_to_name", f"`{text}` changed to `{name}`{where}", 2.6)
            if type(node.value) is bool:  # a verdict that should depend on state: `return True` → `return not depth`
                for name in variables[:5]:
                    new = wrapped(site, node, f"not {name}")
                    yield site.edit(node, new, "constant_to_name", f"`{text}` changed to `{new}`{where}", 2.7)
        elif isinstance(node, ast.List | ast.Tuple | ast.Set) and not node.elts:
            opener, closer = {ast.List: ("[", "]"), ast.Tuple: ("(", ")"), ast.Set: ("{", "}")}[type(node)]
            for name in variables[:6]:
                new = f"{opener}{name}{',' if isinstance(node, ast.Tuple) else ''}{closer}"
                if isinstance(node, ast.Set):
                    new = "{" + name + "}"
                yield site.edit(node, new, "literal_fill", f"`{text}` changed to `{new}`{where}", 2.3)
            if isinstance(node, ast.List):  # "no items" vs "one empty item": base cases of recursive generators
                yield site.edit(node, "[[]]", "literal_fill", f"`{text}` changed to `[[]]`{where}", 2.2)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and \
                not isinstance(node.slice, ast.Slice | ast.Tuple):
            # `d[k]` → `d.get(k)`: a lookup that should not fail or, on a defaultdict, not invent the key
            new = f"{site.sf.segment(node.value)}.get({site.sf.segment(node.slice)})"
            yield site.edit(node, new, "subscript_get", f"`{text}` changed to `{new}`{where}", 2.0)
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Sub):
            left = site.sf.segment(node.left)  # a distance compared with a tolerance or a bound
            yield site.edit(node.left, f"abs({left})", "call_wrap", f"`{left}` wrapped as `abs({left})`{where}", 2.4)
    yield from _returned_predicate(site)
    yield from _extreme_start(site)
    value = getattr(site.stmt, "value", None)
    if isinstance(site.stmt, ast.Return | ast.Assign) and isinstance(value, ast.expr):
        text = site.sf.segment(value)
        for template, cost in (("max(0, {})", 2.7), ("abs({})", 2.9)):
            new = template.format(text)
            yield site.edit(value, new, "call_wrap", f"`{text}` wrapped as `{new}`{site.where(value.lineno)}", cost)


PREDICATES = (ast.Call, ast.Compare, ast.BoolOp, ast.Name, ast.Attribute)


def _returned_predicate(site: Site) -> Iterator[Mutation]:
    """`return is_even(n)` → `return not is_even(n)`: a predicate function that answers the opposite question."""
    value = site.stmt.value if isinstance(site.stmt, ast.Return) else None
    if isinstance(value, PREDICATES):
        text = site.sf.segment(value)
        new = f"not {text}" if isinstance(value, ast.Call | ast.Name | ast.Attribute) else f"not ({text})"
        yield site.edit(value, new, "negation_add", f"returned `{text}` negated{site.where(value.lineno)}", 2.0)


def _extreme_start(site: Site) -> Iterator[Mutation]:
    """`best = 0` → `best = float('-inf')`: a running maximum (or minimum) seeded with a value inputs can beat."""
    stmt = site.stmt
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) and \
            isinstance(stmt.value, ast.Constant) and type(stmt.value.value) is int:
        text = site.sf.segment(stmt.value)
        for rank, new in enumerate(("float('-inf')", "float('inf')")):
            yield site.edit(stmt.value, new, "constant_replace", f"`{text}` changed to `{new}`"
                            f"{site.where(stmt.lineno)}", 2.1 + 0.1 * rank)
