"""Statements: one deleted, one inserted (a copy of a nearby one, a collection update, or a loop-carried
`prev = cur` the loop forgot), one moved (swapped with the next, or out of / into the loop just above:
the classic `return` indented one level too deep), a return added."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator

from agent.edits.splice import Splice
from agent.repair.operators import Mutation, Site
from agent.repair.source import SourceFile

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
    seg = head_of(sf, stmt)
    if block is not None and not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        only = len(block) == 1
        new = sf.delete_lines(first, last, f"{indent}pass\n" if only else "")
        yield Mutation(new, stmt.lineno, "stmt_delete", f"deleted `{seg}`{where}", 2.0)
        index = block.index(stmt)
        if index + 1 < len(block) and isinstance(block[index + 1], SIMPLE) and isinstance(stmt, SIMPLE):
            nxt = block[index + 1]
            end = nxt.end_lineno or nxt.lineno
            a, b = sf.line_text(first, last), sf.line_text(nxt.lineno, end)
            if nxt.lineno == last + 1 and a.endswith("\n") and b.endswith("\n"):
                swapped = sf.replace_span(sf.starts[first - 1], sf.starts[end], b + a)
                yield Mutation(swapped, stmt.lineno, "stmt_swap",
                               f"`{seg}` moved below `{head_of(sf, nxt)}`{where}", 2.8)
        yield from _reindented(site, block, index, first, last, where, seg)
        yield from _loop_control_swapped(site, where)
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
    for shape in _synthesised(site) + _carried(site):
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
            head = head_of(sf, stmt)
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


def _outermost(site: Site) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The top-level function around the site: a nested helper shares its closure's collections."""
    line = site.stmt.lineno
    for node in site.sf.tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno <= line <= (node.end_lineno or 0):
            return node
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and \
                        item.lineno <= line <= (item.end_lineno or 0):
                    return item
    return site.scope.function


def _synthesised(site: Site) -> list[str]:
    """Shapes a function is likely missing: `seen.add(x)`, `out.append(x)`, `count += 1`."""
    fn = site.scope.function
    outer = _outermost(site)
    if fn is None or outer is None:
        return []
    sets, lists, counters = [], [], []
    for node in ast.walk(outer):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Tuple):  # `i, j = 0, 0`
            pairs = zip(node.targets[0].elts, node.value.elts, strict=False)
            counters += [t.id for t, v in pairs if isinstance(t, ast.Name) and isinstance(v, ast.Constant)
                         and type(v.value) is int]
            continue
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):  # `i = j = 0` too
            value = node.value
            if isinstance(value, ast.Constant) and type(value.value) is int:
                counters += [t.id for t in node.targets if isinstance(t, ast.Name)]
                continue
            name = node.targets[0].id  # type: ignore[attr-defined]
            if isinstance(value, ast.Set) or (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                                              and value.func.id == "set"):
                sets.append(name)
            elif isinstance(value, ast.List) or (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                                                 and value.func.id == "list"):
                lists.append(name)
    used = [n.id for root in site.roots for n in ast.walk(root) if isinstance(n, ast.Name)]
    loop_vars = [n.target.id for n in ast.walk(fn) if isinstance(n, ast.For) and isinstance(n.target, ast.Name)
                 and n.lineno <= site.stmt.lineno <= (n.end_lineno or 0)]
    params = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
    values = list(dict.fromkeys(v for v in used + loop_vars + params if v not in sets + lists))[:5]
    shapes = [f"{s}.add({v})" for s in sets for v in values]
    shapes += [f"{c}.append({v})" for c in lists for v in values]
    shapes += [f"{c} += 1" for c in dict.fromkeys(counters)]
    return shapes[:12]


def _carried(site: Site) -> list[str]:
    """`prev = cur` inside a loop: a name set before the loop and read in it, but never updated by it.

    Linked-list walks and sliding windows keep "the previous item" this way; forgetting the update
    is a one-line omission (QuixBugs-style reverse-a-list bugs).
    """
    fn = site.scope.function
    if fn is None:
        return []
    loops = [n for n in ast.walk(fn) if isinstance(n, ast.For | ast.While)
             and n.lineno <= site.stmt.lineno <= (n.end_lineno or 0)]
    if not loops:
        return []
    loop = max(loops, key=lambda n: n.lineno)
    inside = {id(n) for n in ast.walk(loop)}
    before = [n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
              and id(n) not in inside]
    stored = [n.id for n in ast.walk(loop) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    read = {n.id for n in ast.walk(loop) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    stale = [v for v in dict.fromkeys(before) if v in read and v not in stored]
    fresh = list(dict.fromkeys(stored + [n.id for n in ast.walk(loop) if isinstance(n, ast.Name)
                                         and n.id in before and n.id not in stale]))
    return [f"{v} = {w}" for v in stale[:3] for w in fresh[:4] if w != v]


def _reindented(site: Site, block: list[ast.stmt], index: int, first: int, last: int, where: str,
                seg: str) -> Iterator[Mutation]:
    """The last statement of a loop body moved after the loop, or the statement after a loop moved into it."""
    sf, stmt = site.sf, site.stmt
    if not isinstance(stmt, SIMPLE):
        return
    parent = site.parents.get(id(stmt))
    if isinstance(parent, ast.For | ast.While) and not parent.orelse and block is parent.body and \
            index == len(block) - 1 and len(block) > 1:
        outer, inner = sf.indent_of(parent.lineno), sf.indent_of(stmt.lineno)
        yield Mutation(_shifted(sf, first, last, inner, outer), stmt.lineno, "stmt_dedent",
                       f"`{seg}` moved out of the loop{where}", 2.9)
    if index == 0 and isinstance(parent, ast.For | ast.While) and block is parent.body and len(block) > 1 and \
            isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant | ast.List | ast.Dict | ast.Set):
        # a reset that runs on every iteration instead of once: `total = 0` hoisted above the loop
        head = parent.lineno
        moved = "".join(sf.indent_of(head) + line[len(sf.indent_of(stmt.lineno)):] for line in sf.lines[first - 1:last])
        between = sf.line_text(head, first - 1)  # the loop's header (and anything before the statement)
        hoisted = sf.replace_span(sf.starts[head - 1], sf.starts[last], sf.block(moved) + between)
        yield Mutation(hoisted, stmt.lineno, "stmt_hoist",
                       f"`{seg}` moved above the loop{where}", 2.9)
    loop = block[index - 1] if index > 0 else None
    if isinstance(loop, ast.For | ast.While) and not loop.orelse:
        outer, inner = sf.indent_of(stmt.lineno), sf.indent_of(loop.body[-1].lineno)
        if len(inner) > len(outer) and (loop.end_lineno or 0) == first - 1:
            yield Mutation(_shifted(sf, first, last, outer, inner), stmt.lineno, "stmt_indent",
                           f"`{seg}` moved into the loop above{where}", 2.9)


def _shifted(sf: SourceFile, first: int, last: int, old: str, new: str) -> Splice:
    """Lines first..last with their leading `old` indentation replaced by `new`."""
    lines = [new + line[len(old):] if line.startswith(old) else line for line in sf.lines[first - 1:last]]
    return sf.delete_lines(first, last, "".join(lines))


def head_of(sf: SourceFile, stmt: ast.stmt) -> str:
    """The first line of a statement as code, without a trailing `# comment` (for descriptions)."""
    line = sf.segment(stmt).splitlines()[0]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = []
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            line = line[: tok.start[1]]
            break
    return line.strip()


def _loop_control_swapped(site: Site, where: str) -> Iterator[Mutation]:
    """`break` ⇄ `continue`: a loop that stops where it should skip, or the reverse."""
    stmt = site.stmt
    if isinstance(stmt, ast.Break | ast.Continue):
        old, new = ("break", "continue") if isinstance(stmt, ast.Break) else ("continue", "break")
        yield site.edit(stmt, new, "stmt_replace", f"`{old}` changed to `{new}`{where}", 1.5)
