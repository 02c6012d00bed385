"""Mutation operators, grouped by family. Each yields `Mutation`s for one statement."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from agent.edits.splice import Splice
from agent.repair.scope import Scope
from agent.repair.source import SourceFile


@dataclass(frozen=True)
class Mutation:
    """A proposed change: the span of the file it replaces, and words for it."""

    splice: Splice
    line: int
    operator: str
    description: str
    cost: float


# Prior likelihood of a fix shape relative to the common single-token ones (1.0): candidates are ranked by
# suspiciousness x prior, so a rarer shape at a line waits for the common shapes at slightly less suspicious lines.
PRIORS: dict[str, float] = {"operand_drop": 0.9, "expr_to_name": 0.8, "donor_replace": 0.85, "op_apply": 0.8,
                           "constant_donor": 0.85}


def prior(operator: str) -> float:
    """How likely a fix of this shape is, relative to the common single-token fixes."""
    return PRIORS.get(operator, 1.0)


@dataclass
class Site:
    """One statement at a suspicious line, and what surrounds it."""

    sf: SourceFile
    stmt: ast.stmt
    roots: list[ast.AST]  # the statement's own expressions (not those of nested blocks)
    scope: Scope
    terms: frozenset[str]
    parents: dict[int, ast.AST]  # id(node) → parent node, for precedence decisions

    def edit(self, node: ast.AST, text: str, operator: str, description: str, cost: float) -> Mutation:
        """A mutation replacing one node's text."""
        return Mutation(self.sf.replace(node, text), node.lineno, operator, description, cost)  # type: ignore[attr-defined]

    def where(self, line: int) -> str:
        """`in `f`, line N` for descriptions."""
        fn = f" in `{self.scope.qualname}`" if self.scope.qualname else ""
        return f"{fn}, line {line}"


def header_roots(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement evaluates itself (an `if` test, not its body)."""
    if isinstance(stmt, ast.If | ast.While):
        return [stmt.test]
    if isinstance(stmt, ast.For | ast.AsyncFor):
        return [stmt.target, stmt.iter]
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return [item.context_expr for item in stmt.items]
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Try):
        return []
    return [child for child in ast.iter_child_nodes(stmt) if isinstance(child, ast.expr)]


def expressions_in(roots: list[ast.AST]) -> list[ast.AST]:
    """Every expression under the roots (lambdas and comprehensions included), outermost first."""
    found: list[ast.AST] = []
    for root in roots:
        found.extend(n for n in ast.walk(root) if isinstance(n, ast.expr))
    return found


ATOMIC = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set)
TIGHT_PARENTS = (ast.BinOp, ast.UnaryOp, ast.Attribute, ast.Subscript, ast.Await)


def wrapped(site: Site, node: ast.AST, text: str) -> str:
    """Parenthesise replacement text when the parent binds tighter than the new expression."""
    parent = site.parents.get(id(node))
    if isinstance(parent, ast.Subscript) and parent.slice is node:
        return text
    if isinstance(parent, TIGHT_PARENTS) or (isinstance(parent, ast.Call) and parent.func is node):
        return f"({text})"
    return text


def operand_text(site: Site, node: ast.AST) -> str:
    """A node's text, parenthesised unless atomic."""
    text = site.sf.segment(node)
    return text if isinstance(node, ATOMIC) else f"({text})"


_ZERO_IDENTITY = (ast.Add, ast.Sub, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift)
_ONE_IDENTITY = (ast.Mult, ast.Div, ast.FloorDiv, ast.Pow)


def identity_operand(site: Site, node: ast.AST, value: object) -> bool:
    """Whether putting `value` in place of `node` makes its operation a no-op (`x + 0`, `x * 1`, `n -= 0`):
    such a candidate is the operation deleted, which the operand-drop and statement-delete shapes say plainly."""
    if type(value) is not int:
        return False
    parent = site.parents.get(id(node))
    op: ast.AST | None = None
    if isinstance(parent, ast.BinOp) and (parent.right is node or isinstance(parent.op, ast.Add | ast.Mult)):
        op = parent.op
    elif isinstance(parent, ast.AugAssign) and parent.value is node:
        op = parent.op
    return (value == 0 and isinstance(op, _ZERO_IDENTITY)) or (value == 1 and isinstance(op, _ONE_IDENTITY))
