"""Off-by-one: ±1 on integer constants, indices, slice and range bounds; slices added or removed."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site, expressions_in, wrapped


def _plus_minus(site: Site, node: ast.AST, label: str, base_cost: float) -> Iterator[Mutation]:
    text = site.sf.segment(node)
    where = site.where(node.lineno)  # type: ignore[attr-defined]
    if isinstance(node, ast.Constant) and type(node.value) is int:
        for delta in (1, -1):
            new = str(node.value + delta)
            yield site.edit(node, new, "off_by_one", f"{label} `{text}` changed to `{new}`{where}", base_cost)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return  # `-1` is handled as a constant inside it
    for delta in ("+ 1", "- 1"):
        new = wrapped(site, node, f"{text} {delta}")
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
            elif not isinstance(sl, ast.Tuple):
                seen.add(id(sl))
                yield from _plus_minus(site, sl, "index", 1.2)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
            for arg in node.args[:2]:
                seen.add(id(arg))
                yield from _plus_minus(site, arg, "range bound", 1.2)
            if len(node.args) == 1:
                arg = site.sf.segment(node.args[0])
                for start in ("1", "0"):
                    new = f"range({start}, {arg})"
                    yield site.edit(node, new, "off_by_one",
                                    f"`{site.sf.segment(node)}` changed to `{new}`{site.where(node.lineno)}", 1.5)
        elif isinstance(node, ast.Constant) and type(node.value) is int and id(node) not in seen:
            yield from _plus_minus(site, node, "constant", 1.3)
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
                            f"`{text}` changed to `{text}{suffix}`{site.where(node.lineno)}", 2.4)  # type: ignore[attr-defined]


def _index_names(site: Site) -> list[str]:
    """Local names the function uses as subscripts (`a[i]`): likely positions for `xs[i:]`."""
    fn = site.scope.function
    if fn is None:
        return []
    names: list[str] = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Name) and node.slice.id not in names:
            names.append(node.slice.id)
    return names[:4]
