"""Names: a variable, attribute or called function replaced by a similar one in scope; arguments and the
coordinates of a multi-index (`d[j, k]` → `d[k, j]`) swapped."""

from __future__ import annotations

import ast
import difflib
from collections import Counter
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site, expressions_in

FUNCTION_PAIRS = {
    "min": ["max"], "max": ["min"], "any": ["all"], "all": ["any"], "sorted": ["reversed"], "reversed": ["sorted"],
    "append": ["extend", "add", "appendleft"], "extend": ["append"], "add": ["append", "update"],
    "pop": ["popleft"], "popleft": ["pop"], "floor": ["ceil"], "ceil": ["floor"], "isupper": ["islower"],
    "islower": ["isupper"], "startswith": ["endswith"], "endswith": ["startswith"], "keys": ["values", "items"],
    "values": ["keys", "items"], "items": ["keys", "values"], "index": ["find", "rindex"], "find": ["rfind", "index"],
    "insert": ["append"], "remove": ["discard", "pop"], "upper": ["lower"], "lower": ["upper"],
    "lstrip": ["rstrip", "strip"], "rstrip": ["lstrip", "strip"], "sum": ["len", "max"], "len": ["sum"],
}
MAX_NAME_CHOICES = 10


def _rank(old: str, choices: list[str], terms: frozenset[str]) -> list[tuple[str, float]]:
    """Choices ordered by similarity to `old`, named-in-the-issue ones first; cost grows with distance."""
    scored = []
    for index, name in enumerate(choices):
        if name == old:
            continue
        similarity = difflib.SequenceMatcher(None, old, name).ratio()
        bonus = 0.3 if name in terms else 0.0
        scored.append((name, 1.5 + (1.0 - similarity) - bonus + 0.01 * index))
    scored.sort(key=lambda item: item[1])
    return scored[:MAX_NAME_CHOICES]


def _which(site: Site, node: ast.Name, counts: Counter[tuple[str, int]]) -> str:
    """` in `min(value, low)``: the enclosing expression when the name occurs more than once on its line (its
    column when the enclosing expression has it twice too), so two different edits never read the same."""
    if counts[(node.id, node.lineno)] < 2:
        return ""
    parent = site.parents.get(id(node))
    if parent is not None and hasattr(parent, "lineno"):
        inside = [n for n in ast.walk(parent) if isinstance(n, ast.Name) and n.id == node.id]
        text = " ".join(site.sf.segment(parent).split())
        if len(inside) == 1 and len(text) <= 60:
            return f" in `{text}`"
    return f" (column {node.col_offset + 1})"  # `min(low, low)`: the enclosing text would not tell them apart


def name_mutations(site: Site) -> Iterator[Mutation]:
    """Replace names, attributes and called functions; swap call arguments."""
    scope = site.scope
    variables = scope.variables
    counts = Counter((n.id, n.lineno) for n in expressions_in(site.roots) if isinstance(n, ast.Name))
    for node in expressions_in(site.roots):
        where = site.where(node.lineno)  # type: ignore[attr-defined]
        if isinstance(node, ast.Call):
            yield from _call_mutations(site, node, where)
            continue
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple) and len(node.slice.elts) == 2:
            a, b = (site.sf.segment(e) for e in node.slice.elts)
            new = f"{site.sf.segment(node.value)}[{b}, {a}]"
            yield site.edit(node, new, "index_swap", f"`{site.sf.segment(node)}` changed to `{new}`{where}", 1.8)
        if isinstance(node, ast.Name) and not _is_call_target(site, node):
            extra = 0.4 if isinstance(node.ctx, ast.Store) else 0.0
            pool = [v for v in variables if v not in scope.called or v in scope.local_names]
            which = _which(site, node, counts)
            for name, cost in _rank(node.id, pool, site.terms):
                yield site.edit(node, name, "name_replace", f"`{node.id}`{which} replaced by `{name}`{where}",
                                cost + extra)
        elif isinstance(node, ast.Attribute) and not _is_call_target(site, node):
            base = site.sf.segment(node.value)
            for attr, cost in _rank(node.attr, scope.attributes, site.terms)[:6]:
                yield site.edit(node, f"{base}.{attr}", "attr_replace",
                                f"`.{node.attr}` replaced by `.{attr}`{where}", cost + 0.2)


def _is_call_target(site: Site, node: ast.AST) -> bool:
    parent = site.parents.get(id(node))
    return isinstance(parent, ast.Call) and parent.func is node


def _call_mutations(site: Site, node: ast.Call, where: str) -> Iterator[Mutation]:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name is not None:
        choices = list(FUNCTION_PAIRS.get(name, []))
        peers = [c for c in site.scope.called + site.scope.module_names if c != name and c not in choices]
        ranked = [(c, 1.2 + 0.05 * i) for i, c in enumerate(choices)] + _rank(name, peers, site.terms)[:6]
        for new, cost in ranked:
            if isinstance(func, ast.Name):
                yield site.edit(func, new, "call_replace", f"`{name}()` replaced by `{new}()`{where}", cost)
            else:
                assert isinstance(func, ast.Attribute)
                yield site.edit(func, f"{site.sf.segment(func.value)}.{new}", "call_replace",
                                f"`.{name}()` replaced by `.{new}()`{where}", cost)
    if name in ("sorted", "sort"):
        yield from _sort_order(site, node, where)
    args = node.args
    if all(not isinstance(a, ast.Starred) for a in args):
        texts = [site.sf.segment(a) for a in args]
        for i in range(len(args) - 1):
            swapped = texts[:i] + [texts[i + 1], texts[i]] + texts[i + 2:]
            yield _with_args(site, node, swapped, "args_swap",
                             f"arguments `{texts[i]}` and `{texts[i + 1]}` swapped{where}", 1.5)
        if len(args) == 3:
            yield _with_args(site, node, [texts[2], texts[1], texts[0]], "args_swap",
                             f"arguments `{texts[0]}` and `{texts[2]}` swapped{where}", 1.7)
            yield _with_args(site, node, [texts[1], texts[2], texts[0]], "args_rotate",
                             f"arguments of `{site.sf.segment(func)}` rotated{where}", 2.2)
        if len(args) >= 2:
            for i in range(len(args)):
                kept = texts[:i] + texts[i + 1:]
                yield _with_args(site, node, kept, "arg_drop",
                                 f"argument `{texts[i]}` dropped from `{site.sf.segment(func)}()`{where}", 2.6)


def _with_args(site: Site, node: ast.Call, args: list[str], operator: str, description: str,
               cost: float) -> Mutation:
    sf = site.sf
    first, last = node.args[0], node.args[-1]
    start, end = sf.span(first)[0], sf.span(last)[1]
    return Mutation(sf.replace_span(start, end, ", ".join(args)), node.lineno, operator, description, cost)


def _sort_order(site: Site, node: ast.Call, where: str) -> Iterator[Mutation]:
    """`sorted(xs)` ⇄ `sorted(xs, reverse=True)`: the order asked for the wrong way round."""
    sf = site.sf
    text = sf.segment(node)
    reverse = next((k for k in node.keywords if k.arg == "reverse"), None)
    if reverse is None:
        start, end = sf.span(node)
        inner = ", reverse=True" if node.args or node.keywords else "reverse=True"
        new_call = text[:-1] + inner + ")"
        yield Mutation(sf.replace_span(start, end, new_call), node.lineno, "call_arg_add",
                       f"`{text}` changed to `{new_call}`{where}", 1.9)
    elif isinstance(reverse.value, ast.Constant) and isinstance(reverse.value.value, bool):
        flipped = "False" if reverse.value.value else "True"
        yield site.edit(reverse.value, flipped, "constant_replace",
                        f"`reverse={reverse.value.value}` changed to `reverse={flipped}`{where}", 1.4)
