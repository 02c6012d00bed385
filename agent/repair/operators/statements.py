"""Statements: one deleted, one inserted by copying the shape of nearby ones, one moved, a return added."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site

SIMPLE = (ast.Assign, ast.AugAssign, ast.Expr, ast.Return, ast.Break, ast.Continue, ast.AnnAssign)
MAX_INSERTS = 40


def _block_of(site: Site) -> list[ast.stmt] | None:
    """The statement list that holds the site's statement."""
    parent = site.parents.get(id(site.stmt))
    for field in ("body", "orelse", "finalbody"):
        block = getattr(parent, field, None)
        if isinstance(block, list) and site.stmt in block:
            return block
    return None


def _lines(stmt: ast.stmt) -> tuple[int, int]:
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    return first, stmt.end_lineno or stmt.lineno


def statement_mutations(site: Site) -> Iterator[Mutation]:
    """Delete, insert, move statements around the suspicious one; add a missing return."""
    sf, stmt = site.sf, site.stmt
    block = _block_of(site)
    first, last = _lines(stmt)
    indent = sf.indent_of(stmt.lineno)
    where = site.where(stmt.lineno)
    seg = sf.segment(stmt).splitlines()[0].strip()
    if block is not None and not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        only = len(block) == 1
        new = sf.delete_lines(first, last, f"{indent}pass\n" if only else "")
        yield Mutation(new, stmt.lineno, "stmt_delete", f"deleted `{seg}`{where}", 2.0)
        index = block.index(stmt)
        if index + 1 < len(block) and isinstance(block[index + 1], SIMPLE) and isinstance(stmt, SIMPLE):
            nxt = block[index + 1]
            a, b = "".join(sf.lines[first - 1:last]), "".join(sf.lines[nxt.lineno - 1:nxt.end_lineno])
            if nxt.lineno == last + 1:
                swapped = "".join(sf.lines[: first - 1]) + b + a + "".join(sf.lines[nxt.end_lineno or nxt.lineno:])
                yield Mutation(swapped, stmt.lineno, "stmt_swap",
                               f"`{seg}` moved below `{sf.segment(nxt).strip()}`{where}", 2.8)
    yield from _inserts(site, first, last, indent, where)
    yield from _returns(site)


def _inserts(site: Site, first: int, last: int, indent: str, where: str) -> Iterator[Mutation]:
    """Copy simple statements of the same function (or loop controls) before/after the site."""
    sf, stmt = site.sf, site.stmt
    fn = site.scope.function
    if fn is None:
        return
    shapes: list[str] = []
    for node in ast.walk(fn):
        if isinstance(node, SIMPLE) and node is not stmt and node.lineno == node.end_lineno:
            text = sf.segment(node).strip()
            if text not in shapes:
                shapes.append(text)
    for shape in _synthesised(site):
        if shape not in shapes:
            shapes.append(shape)
    in_loop = any(isinstance(n, ast.For | ast.While) and n.lineno <= stmt.lineno <= (n.end_lineno or 0)
                  for n in ast.walk(fn))
    if in_loop:
        shapes += [s for s in ("break", "continue") if s not in shapes]
    count = 0
    targets = [(first, "before")]
    if isinstance(stmt, ast.If | ast.For | ast.While | ast.With):
        body_first = stmt.body[0]
        targets.append((body_first.lineno, "at the start of the block of"))
    targets.append((last + 1, "after"))
    for shape in shapes:
        for line, how in targets:
            if count >= MAX_INSERTS * len(targets):
                return
            block_indent = sf.indent_of(line) if how.startswith("at the start") else indent
            new = sf.insert_lines(line, f"{block_indent}{shape}\n")
            head = sf.segment(stmt).splitlines()[0].strip()
            yield Mutation(new, line, "stmt_insert", f"inserted `{shape}` {how} `{head}`{where}",
                           3.0 + 0.02 * count)
            count += 1


def _returns(site: Site) -> Iterator[Mutation]:
    """`return name` appended to a function whose last statement is not a return."""
    fn = site.scope.function
    if fn is None or site.stmt is not fn.body[-1] or isinstance(site.stmt, ast.Return):
        return
    indent = site.sf.indent_of(site.stmt.lineno)
    end = site.stmt.end_lineno or site.stmt.lineno
    for rank, name in enumerate(site.scope.local_names[:6]):
        new = site.sf.insert_lines(end + 1, f"{indent}return {name}\n")
        yield Mutation(new, end + 1, "return_add", f"added `return {name}` at the end of `{fn.name}`",
                       2.6 + 0.05 * rank)


def _synthesised(site: Site) -> list[str]:
    """Shapes a function is likely missing: `seen.add(x)`, `out.append(x)`, `count += 1`."""
    fn = site.scope.function
    if fn is None:
        return []
    sets, lists, counters = [], [], []
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
            if isinstance(value, ast.Set) or (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                                              and value.func.id == "set"):
                sets.append(name)
            elif isinstance(value, ast.List) or (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                                                 and value.func.id == "list"):
                lists.append(name)
            elif isinstance(value, ast.Constant) and type(value.value) is int:
                counters.append(name)
    used = [n.id for root in site.roots for n in ast.walk(root) if isinstance(n, ast.Name)]
    loop_vars = [n.target.id for n in ast.walk(fn) if isinstance(n, ast.For) and isinstance(n.target, ast.Name)
                 and n.lineno <= site.stmt.lineno <= (n.end_lineno or 0)]
    values = list(dict.fromkeys(v for v in used + loop_vars if v not in sets + lists))[:4]
    shapes = [f"{s}.add({v})" for s in sets for v in values]
    shapes += [f"{c}.append({v})" for c in lists for v in values]
    shapes += [f"{c} += 1" for c in counters]
    return shapes[:12]
