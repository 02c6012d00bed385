"""Off-by-one: ±1 on integer constants, indices, slice and range bounds, lengths and integer arguments;
slices added or removed; comparison boundaries moved (`== 0` → `<= 1`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site, expressions_in, identity_operand, wrapped


def _plus_minus(site: Site, node: ast.AST, label: str, base_cost: float) -> Iterator[Mutation]:
    text = site.sf.segment(node)
    where = site.where(node.lineno)  # type: ignore[attr-defined]
    if isinstance(node, ast.Constant) and type(node.value) is int:
        for delta in (1, -1):
            if identity_operand(site, node, node.value + delta):
                continue
            new = str(node.value + delta)
            yield site.edit(node, new, "off_by_one", f"{label} `{text}` changed to `{new}`{where}", base_cost)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return  # `-1` is handled as a constant inside it
    parent = site.parents.get(id(node))
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add | ast.Sub) and any(
            isinstance(side, ast.Constant) and type(side.value) is int for side in (parent.left, parent.right)):
        steps: tuple[str, ...] = ()  # `(len(xs) + 1) - 1` is the constant changed: that mutation exists already
    else:
        steps = ("+ 1", "- 1")
    for step in steps:
        new = wrapped(site, node, f"{text} {step}")
        yield site.edit(node, new, "off_by_one", f"{label} `{text}` changed to `{new}`{where}", base_cost + 0.1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        for keep, drop in ((node.left, node.right), (node.right, node.left)):
            if isinstance(drop, ast.Constant) and type(drop.value) is int:
                new = site.sf.segment(keep)
                yield site.edit(node, wrapped(site, node, new), "off_by_one",
                                f"{label} `{text}` changed to `{new}`{where}", base_cost)


def off_by_one_mutations(site: Site) -> Iterator[Mutation]:
    """±1 where integers count or index things."""
    seen: set[int] = set()
    for node in expressions_in(site.roots):
        if isinstance(node, ast.Subscript):
            sl = node.slice
            if isinstance(sl, ast.Slice):
                for bound, name in ((sl.lower, "lower slice bound"), (sl.upper, "upper slice bound")):
                    if bound is not None:
                        seen.add(id(bound))
                        yield from _plus_minus(site, bound, name, 1.2)
                        yield site.edit(node, f"{site.sf.segment(node.value)}[{_slice_without(site, sl, bound)}]",
                                        "slice_bound_drop", f"{name} `{site.sf.segment(bound)}` removed"
                                        f"{site.where(node.lineno)}", 1.7)
                if sl.lower is None and sl.upper is None and sl.step is None:
                    continue
                yield site.edit(node, site.sf.segment(node.value), "slice_drop",
                                f"slice `{site.sf.segment(node)}` replaced by `{site.sf.segment(node.value)}`"
                                f"{site.where(node.lineno)}", 1.8)
            elif isinstance(sl, ast.Tuple):  # `dp[i - 1, j]`: each coordinate of a multi-index
                for elt in sl.elts:
                    seen.add(id(elt))
                    yield from _plus_minus(site, elt, "index", 1.25)
            else:
                seen.add(id(sl))
                yield from _plus_minus(site, sl, "index", 1.2)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
            for arg in node.args[:2]:
                seen.add(id(arg))
                yield from _plus_minus(site, arg, "range bound", 1.2)
            if len(node.args) == 1:
                stop = site.sf.segment(node.args[0])
                for start in ("1", "0"):
                    new = f"range({start}, {stop})"
                    yield site.edit(node, new, "off_by_one",
                                    f"`{site.sf.segment(node)}` changed to `{new}`{site.where(node.lineno)}", 1.5)
        elif isinstance(node, ast.Constant) and type(node.value) is int and id(node) not in seen:
            yield from _plus_minus(site, node, "constant", 1.3)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" \
                and id(node) not in seen:
            seen.add(id(node))  # a length used as a count or a bound: `len(xs) * [0]` → `(len(xs) - 1) * [0]`
            yield from _plus_minus(site, node, "length", 1.5)
    yield from _integer_arguments(site, seen)
    yield from _boundaries(site)
    yield from _slice_additions(site)


def _slice_without(site: Site, sl: ast.Slice, bound: ast.AST) -> str:
    lower = "" if sl.lower is None or sl.lower is bound else site.sf.segment(sl.lower)
    upper = "" if sl.upper is None or sl.upper is bound else site.sf.segment(sl.upper)
    step = "" if sl.step is None else ":" + site.sf.segment(sl.step)
    return f"{lower}:{upper}{step}"


def _slice_additions(site: Site) -> Iterator[Mutation]:
    """`xs` → `xs[1:]` / `xs[:-1]` where a sequence is iterated, passed on or returned."""
    stmt = site.stmt
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.For | ast.AsyncFor):
        targets.append(stmt.iter)
    for node in expressions_in(site.roots):
        if isinstance(node, ast.Call):
            targets.extend(a for a in node.args if isinstance(a, ast.Name))
    if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name):
        targets.append(stmt.value)
    indices = _index_names(site)
    for node in targets:
        if not isinstance(node, ast.Name | ast.Attribute | ast.Call):
            continue
        text = site.sf.segment(node)
        for suffix in ("[1:]", "[:-1]", *(f"[{k}:]" for k in indices)):
            yield site.edit(node, f"{text}{suffix}", "slice_add",
                            f"`{text}` changed to `{text}{suffix}`{site.where(node.lineno)}", 2.4)


def _index_names(site: Site) -> list[str]:
    """Local names the function uses as subscripts or slice bounds (`a[i]`, `a[:k]`): positions for `xs[i:]`."""
    fn = site.scope.function
    if fn is None:
        return []
    names: list[str] = []
    for node in ast.walk(fn):
        if not isinstance(node, ast.Subscript):
            continue
        sl = node.slice
        parts = [sl.lower, sl.upper] if isinstance(sl, ast.Slice) else [sl]
        for part in parts:
            if isinstance(part, ast.Name) and part.id not in names:
                names.append(part.id)
    return names[:4]


ORDERING = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def _boundaries(site: Site) -> Iterator[Mutation]:
    """A comparison with an integer moved to the neighbouring boundary: `n == 0` → `n <= 1`, `i < 0` → `i <= -1`.

    Base cases and loop exits are often off by one *and* use the wrong relation at once.
    """
    for node in expressions_in(site.roots):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in ORDERING):
            continue
        right = node.comparators[0]
        value = right.value if isinstance(right, ast.Constant) else None
        if type(value) is not int:
            continue
        left = site.sf.segment(node.left)
        old = ORDERING[type(node.ops[0])]
        for op in ORDERING.values():
            if op == old:
                continue
            for bound in (value + 1, value - 1):
                new = f"{left} {op} {bound}"
                yield site.edit(node, wrapped(site, node, new), "boundary_shift",
                                f"`{site.sf.segment(node)}` changed to `{new}`{site.where(node.lineno)}", 1.6)


def integer_names(site: Site) -> set[str]:
    """Locals that hold positions or counts: used as an index or bound, or assigned integer arithmetic."""
    fn = site.scope.function
    if fn is None:
        return set()
    names: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Subscript):
            sl = node.slice
            parts: list[ast.expr | None] = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
            if isinstance(sl, ast.Slice):
                parts = [sl.lower, sl.upper]
            names.update(p.id for p in parts if isinstance(p, ast.Name))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
            names.update(a.id for a in node.args if isinstance(a, ast.Name))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add | ast.Sub | ast.FloorDiv) or (
                    isinstance(value, ast.Constant) and type(value.value) is int) or (
                    isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "len"):
                names.add(node.targets[0].id)
    return names


def _integer_arguments(site: Site, seen: set[int]) -> Iterator[Mutation]:
    """±1 on a position passed on to a call (`search(mid, hi)` → `search(mid + 1, hi)`), a classic bisection
    slip, or on a returned count."""
    integers = integer_names(site)
    returned = site.stmt.value if isinstance(site.stmt, ast.Return) else None
    if isinstance(returned, ast.Name) and returned.id in integers and id(returned) not in seen:
        seen.add(id(returned))  # a count or position reported one off
        yield from _plus_minus(site, returned, "returned value", 1.5)
    for node in expressions_in(site.roots):
        if not isinstance(node, ast.Call) or (isinstance(node.func, ast.Name) and node.func.id == "range"):
            continue
        for arg in node.args:
            if isinstance(arg, ast.Name) and arg.id in integers and id(arg) not in seen:
                seen.add(id(arg))
                yield from _plus_minus(site, arg, "argument", 1.35)
