"""Expression-level repairs built from ingredients the program already has (CapGen, ssFix, SimFix).

- operand_drop: one operand of a binary operation dropped (`1 + f(x)` → `f(x)`): CapGen's
  expression deletion, the inverse of the "extend expression" repairs.
- expr_to_name: a sub-expression replaced by a variable bound in the same function before the
  statement (CapGen's replacement with ingredients from the fault's context).
- donor_replace: a sub-expression replaced by a same-shaped expression (same node type) found in
  nearby code whose names are all in scope here: `weight_by_edge[u, v]` → `weight_by_node[v]`.
  SimFix and ssFix take such "donor" code from similar snippets of the same project; here the
  donors come from the enclosing function first, then its neighbours in the file, nearest first.
- op_apply: an operation that nearby code applies to other variables applied to this one
  (`x` → `abs(x)`, `len(x)`, `x * k`), the "mutate with a context operation" shape.

These shapes are less common than single-token fixes, so they cost more (tried later at a line) and
carry a lower prior (see PRIORS in agent.repair.operators): a line's common fixes and those of the
next lines come first.
"""

from __future__ import annotations

import ast
import builtins
import difflib
from collections import Counter
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site, expressions_in, operand_text, wrapped

MAX_TARGETS = 8  # sub-expressions per statement
MAX_NAMES = 6
MAX_DONORS = 6
MAX_OPERATIONS = 6
NEIGHBOUR_LINES = 60  # donors and operations come from code within this many lines of the site
SHAPES = (ast.Subscript, ast.Call, ast.Attribute, ast.BinOp)
BUILTINS = frozenset(dir(builtins))


def ingredient_mutations(site: Site) -> Iterator[Mutation]:
    """Operand drops, replacements by bound variables and donor expressions, operations from nearby code."""
    yield from _operand_drops(site)
    targets = _targets(site)
    yield from _bound_names(site, targets)
    yield from _donors(site, targets)
    yield from _operations(site)


def _operand_drops(site: Site) -> Iterator[Mutation]:
    for node in expressions_in(site.roots):
        if not isinstance(node, ast.BinOp):
            continue
        text = site.sf.segment(node)
        for keep in (node.right, node.left):
            kept = site.sf.segment(keep)
            if isinstance(keep, ast.Constant):
                continue  # `x + 1` → `1` is never a fix worth a test run
            loose = isinstance(keep, ast.BoolOp | ast.Compare | ast.IfExp | ast.Lambda | ast.NamedExpr)
            new = operand_text(site, keep) if loose else wrapped(site, node, kept)
            yield site.edit(node, new, "operand_drop", f"`{text}` changed to `{kept}`{site.where(node.lineno)}",
                            2.2)


def _targets(site: Site) -> list[ast.expr]:
    """Sub-expressions worth replacing whole: subscripts, calls, attributes, arithmetic (not call targets)."""
    found: list[ast.expr] = []
    for node in expressions_in(site.roots):
        parent = site.parents.get(id(node))
        if not isinstance(node, SHAPES) or (isinstance(parent, ast.Call) and parent.func is node):
            continue
        found.append(node)
    return found[:MAX_TARGETS]


def _bound_before(site: Site) -> list[str]:
    """Parameters, then names assigned in the function before the statement, in order of appearance."""
    fn = site.scope.function
    if fn is None:
        return []
    names: list[str] = []
    args = fn.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        if arg.arg not in ("self", "cls") and arg.arg not in names:
            names.append(arg.arg)
    stored = sorted((n.lineno, n.col_offset, n.id) for n in ast.walk(fn)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.lineno < site.stmt.lineno)
    for _line, _col, name in stored:
        if name not in names:
            names.append(name)
    return names


def _bound_names(site: Site, targets: list[ast.expr]) -> Iterator[Mutation]:
    names = _bound_before(site)[:MAX_NAMES * 2]
    for node in targets:
        if isinstance(getattr(node, "ctx", None), ast.Store):
            continue
        text = site.sf.segment(node)
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        ranked = sorted(names, key=lambda n: (n not in used, -difflib.SequenceMatcher(None, text, n).ratio()))
        for rank, name in enumerate(ranked[:MAX_NAMES]):
            yield site.edit(node, name, "expr_to_name", f"`{text}` replaced by `{name}`{site.where(node.lineno)}",
                            2.6 + 0.02 * rank)


def _neighbourhood(site: Site) -> list[ast.AST]:
    """The enclosing function first, then the module's other code within NEIGHBOUR_LINES, nearest first."""
    line = site.stmt.lineno
    fn = site.scope.function
    inside = list(ast.walk(fn)) if fn is not None else []
    seen = {id(n) for n in inside}
    around = [n for n in site.sf.nodes_between(line - NEIGHBOUR_LINES, line + NEIGHBOUR_LINES) if id(n) not in seen]
    around.sort(key=lambda n: abs(n.lineno - line))  # type: ignore[attr-defined]
    return inside + around


def _in_scope(site: Site, node: ast.AST) -> bool:
    known = set(site.scope.local_names) | set(site.scope.module_names) | BUILTINS
    return all(n.id in known for n in ast.walk(node) if isinstance(n, ast.Name))


def _donors(site: Site, targets: list[ast.expr]) -> Iterator[Mutation]:
    if not targets:
        return
    pool: dict[type, list[tuple[str, int]]] = {}
    own = [n for root in site.roots for n in ast.walk(root)]  # the statement's own other parts count too
    for order, node in enumerate(own + _neighbourhood(site)):
        if isinstance(node, SHAPES) and _in_scope(site, node):
            text = site.sf.segment(node)
            if "\n" not in text and len(text) <= 80:
                pool.setdefault(type(node), []).append((text, order))
    for node in targets:
        text = site.sf.segment(node)
        choices: dict[str, float] = {}
        for donor, order in pool.get(type(node), []):
            if text in donor or donor in choices:
                continue  # itself, or an expression holding it
            similarity = difflib.SequenceMatcher(None, text, donor).ratio()
            choices[donor] = order / 1000 - similarity
        for rank, donor in enumerate(sorted(choices, key=lambda d: choices[d])[:MAX_DONORS]):
            yield site.edit(node, wrapped(site, node, donor), "donor_replace",
                            f"`{text}` replaced by `{donor}` (as nearby code has it){site.where(node.lineno)}",
                            2.5 + 0.03 * rank)


def _operations(site: Site) -> Iterator[Mutation]:
    """Templates `f({})`, `{}.m()`, `{} * k` that nearby code applies to a variable, most frequent first."""
    seen: Counter[str] = Counter()
    applied_to: dict[str, set[str]] = {}
    for node in _neighbourhood(site):
        template, operand = _template(site, node)
        if template is not None and operand is not None:
            seen[template] += 1
            applied_to.setdefault(template, set()).add(operand)
    templates = [t for t, _n in seen.most_common(MAX_OPERATIONS)]
    if not templates:
        return
    names = [n for n in expressions_in(site.roots) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
             and not _is_called(site, n)][:4]
    for node in names:
        for rank, template in enumerate(templates):
            if node.id in applied_to[template]:
                continue  # already done to this very variable nearby
            new = _wrap(site, node, template.format(node.id), _OP_RANK.get(template.split(" ")[1], 99)
                        if " " in template else 99)
            yield site.edit(node, new, "op_apply", f"`{node.id}` changed to `{new}` (as nearby code does to "
                            f"{', '.join(sorted(applied_to[template])[:2])}){site.where(node.lineno)}",
                            2.7 + 0.02 * rank)


def _template(site: Site, node: ast.AST) -> tuple[str | None, str | None]:
    """(`abs({})`, "x") for `abs(x)`; (`{} * 2`, "x") for `x * 2`; (None, None) for anything else."""
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords and \
            isinstance(node.args[0], ast.Name) and isinstance(node.func, ast.Name):
        return f"{node.func.id}({{}})", node.args[0].id
    if isinstance(node, ast.Call) and not node.args and not node.keywords and \
            isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
        return f"{{}}.{node.func.attr}()", node.func.value.id
    if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Name) and \
            isinstance(node.right, ast.Constant | ast.Name) and not isinstance(node.op, ast.Add | ast.Sub):
        right = site.sf.segment(node.right)
        op = site.sf.text[site.sf.span(node.left)[1]:site.sf.span(node.right)[0]].strip()
        if op and "\n" not in op and len(right) <= 20:
            return f"{{}} {op} {right}", node.left.id
    return None, None


# Binding strength of the binary operators a template may use (higher binds tighter), as in Python's grammar.
_OP_RANK = {"|": 1, "^": 2, "&": 3, "<<": 4, ">>": 4, "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6, "@": 6,
            "**": 8}
_NODE_RANK = {ast.BitOr: 1, ast.BitXor: 2, ast.BitAnd: 3, ast.LShift: 4, ast.RShift: 4, ast.Add: 5, ast.Sub: 5,
              ast.Mult: 6, ast.Div: 6, ast.FloorDiv: 6, ast.Mod: 6, ast.MatMult: 6, ast.Pow: 8}


def _wrap(site: Site, node: ast.AST, text: str, rank: int) -> str:
    """Parenthesise `text` (an operation of binding strength `rank`) only where its parent would split it."""
    parent = site.parents.get(id(node))
    if rank >= 99 or parent is None:
        return text
    if isinstance(parent, ast.BinOp):
        outer = _NODE_RANK.get(type(parent.op), 0)
        if rank > outer or (rank == outer and parent.left is node and outer != 8):
            return text
        return f"({text})"
    return wrapped(site, node, text)


def _is_called(site: Site, node: ast.AST) -> bool:
    parent = site.parents.get(id(node))
    return isinstance(parent, ast.Call) and parent.func is node
