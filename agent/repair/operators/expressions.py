"""Expressions: calls unwrapped or wrapped, constants and literals replaced."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.repair.operators import Mutation, Site, expressions_in, wrapped

# Keyed by repr: True == 1 and False == 0 would collide as dict keys.
CONSTANT_SWAPS: dict[str, list[str]] = {"True": ["False"], "False": ["True"], "None": ["0", "[]"], "0": ["1", "None"],
                                        "1": ["0", "2"], "''": ["' '"]}


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
        if isinstance(node, ast.Constant) and type(node.value) in (bool, int, str, type(None)):
            for new in CONSTANT_SWAPS.get(repr(node.value), []):
                yield site.edit(node, new, "constant_replace", f"`{text}` changed to `{new}`{where}", 1.4)
            if type(node.value) is bool or node.value is None:
                for name in variables[:5]:
                    yield site.edit(node, name, "constant_to_name", f"`{text}` changed to `{name}`{where}", 2.6)
        elif isinstance(node, ast.List | ast.Tuple | ast.Set) and not node.elts:
            opener, closer = {ast.List: "[]", ast.Tuple: "()", ast.Set: "{}"}[type(node)]
            for name in variables[:6]:
                new = f"{opener[0]}{name}{',' if isinstance(node, ast.Tuple) else ''}{closer[-1]}"
                if isinstance(node, ast.Set):
                    new = "{" + name + "}"
                yield site.edit(node, new, "literal_fill", f"`{text}` changed to `{new}`{where}", 2.3)
    value = getattr(site.stmt, "value", None)
    if isinstance(site.stmt, ast.Return | ast.Assign) and isinstance(value, ast.expr):
        text = site.sf.segment(value)
        for template, cost in (("max(0, {})", 2.7), ("abs({})", 2.9)):
            new = template.format(text)
            yield site.edit(value, new, "call_wrap", f"`{text}` wrapped as `{new}`{site.where(value.lineno)}", cost)
