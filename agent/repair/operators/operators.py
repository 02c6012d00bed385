"""Operator swaps: comparison, arithmetic, boolean, bitwise, augmented; negation; operand swaps."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.edits.splice import Splice
from agent.repair.operators import Mutation, Site, expressions_in, operand_text, wrapped

CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
       ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
CMP_ALTERNATIVES = {
    "<": ["<=", ">", "!=", ">=", "=="], "<=": ["<", ">=", ">", "==", "!="], ">": [">=", "<", "!=", "<=", "=="],
    ">=": [">", "<=", "<", "==", "!="], "==": ["!=", "<=", ">=", "<", ">", "is"], "!=": ["==", "<", ">", "is not"],
    "is": ["is not", "=="], "is not": ["is", "!="], "in": ["not in"], "not in": ["in"],
}
BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
       ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
BIN_ALTERNATIVES = {
    "+": ["-", "*", "//"], "-": ["+", "//", "*"], "*": ["//", "+", "/", "**", "-"], "/": ["//", "*", "%"],
    "//": ["/", "%", "*", "-"], "%": ["//", "/", "-"], "**": ["*"], "&": ["|", "^", "and"], "|": ["&", "^", "or"],
    "^": ["&", "|"], "<<": [">>"], ">>": ["<<"],
}
NON_COMMUTATIVE = {"-", "/", "//", "%", "**", "<<", ">>"}


def _swap_in_gap(site: Site, left: ast.AST, right: ast.AST, old: str, new: str) -> Splice | None:
    """Replace the operator token between two operands, keeping every other character."""
    sf = site.sf
    start, end = sf.span(left)[1], sf.span(right)[0]
    gap = sf.text[start:end]
    if old not in gap:
        return None
    return sf.replace_span(start, end, gap.replace(old, new, 1))


def operator_mutations(site: Site) -> Iterator[Mutation]:
    """Swap each operator in the statement's own expressions for its usual confusions."""
    where = site.where
    for node in expressions_in(site.roots):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for i, op in enumerate(node.ops):
                old = CMP[type(op)]
                for rank, new in enumerate(CMP_ALTERNATIVES[old]):
                    text = _swap_in_gap(site, operands[i], operands[i + 1], old, new)
                    if text:
                        yield Mutation(text, node.lineno, "cmp_swap",
                                       f"`{old}` changed to `{new}`{where(node.lineno)}", 1.0 + 0.1 * rank)
            if len(node.ops) == 1:
                left, right = operand_text(site, node.left), operand_text(site, node.comparators[0])
                flipped = f"{right} {CMP[type(node.ops[0])]} {left}"
                yield site.edit(node, wrapped(site, node, flipped), "cmp_flip",
                                f"sides of `{site.sf.segment(node)}` swapped{where(node.lineno)}", 2.2)
        elif isinstance(node, ast.BinOp) and type(node.op) in BIN:
            old = BIN[type(node.op)]
            for rank, new in enumerate(BIN_ALTERNATIVES[old]):
                if _identity(node.right, new):
                    continue  # `x - 1` → `x // 1` is `x`, which dropping the operand says plainly
                if new in ("and", "or"):
                    text = site.sf.replace(node, wrapped(site, node, f"{operand_text(site, node.left)} {new} "
                                                         f"{operand_text(site, node.right)}"))
                else:
                    text = _swap_in_gap(site, node.left, node.right, old, new)
                if text:
                    yield Mutation(text, node.lineno, "binop_swap",
                                   f"`{old}` changed to `{new}`{where(node.lineno)}", 1.05 + 0.1 * rank)
            if old in NON_COMMUTATIVE or old in ("+", "*"):  # `+`/`*` do not commute on strings and lists
                swapped = f"{operand_text(site, node.right)} {old} {operand_text(site, node.left)}"
                yield site.edit(node, wrapped(site, node, swapped), "operand_swap",
                                f"operands of `{site.sf.segment(node)}` swapped{where(node.lineno)}",
                                1.6 if old in NON_COMMUTATIVE else 1.9)
        elif isinstance(node, ast.BoolOp):
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            text = site.sf.replace(node, f" {new} ".join(site.sf.segment(v) if not isinstance(v, ast.BoolOp)
                                                         else f"({site.sf.segment(v)})" for v in node.values))
            yield Mutation(text, node.lineno, "boolop_swap", f"`{old}` changed to `{new}`{where(node.lineno)}", 1.0)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub | ast.Invert):
            inner = site.sf.segment(node.operand)
            inner = inner if isinstance(node.operand, ast.Name | ast.Attribute | ast.Call | ast.Subscript |
                                        ast.Constant) else f"({inner})"
            sym = {ast.Not: "not", ast.USub: "-", ast.Invert: "~"}[type(node.op)]
            yield site.edit(node, wrapped(site, node, inner), "negation_drop",
                            f"`{sym}` removed from `{site.sf.segment(node)}`{where(node.lineno)}", 1.3)
    if isinstance(site.stmt, ast.AugAssign) and type(site.stmt.op) in BIN:
        old = BIN[type(site.stmt.op)]
        for rank, new in enumerate(BIN_ALTERNATIVES[old]):
            if new in ("and", "or") or _identity(site.stmt.value, new):
                continue
            text = _swap_in_gap(site, site.stmt.target, site.stmt.value, old + "=", new + "=")
            if text:
                yield Mutation(text, site.stmt.lineno, "augassign_swap",
                               f"`{old}=` changed to `{new}=`{where(site.stmt.lineno)}", 1.05 + 0.1 * rank)
        plain = site.sf.replace_span(*_aug_span(site), " = ")
        yield Mutation(plain, site.stmt.lineno, "augassign_plain",
                       f"`{old}=` changed to `=`{where(site.stmt.lineno)}", 1.8)


def _identity(right: ast.AST, op: str) -> bool:
    """Whether `x <op> right` is just `x` (`x * 1`, `x // 1`, `x + 0`, ...)."""
    if not isinstance(right, ast.Constant) or type(right.value) is not int:
        return False
    return (right.value == 1 and op in ("*", "/", "//", "**")) or (right.value == 0 and op in ("+", "-", "|", "^"))


def _aug_span(site: Site) -> tuple[int, int]:
    stmt = site.stmt
    assert isinstance(stmt, ast.AugAssign)
    return site.sf.span(stmt.target)[1], site.sf.span(stmt.value)[0]
