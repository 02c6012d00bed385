"""The smallest part of a module that compiles on its own around a change: its outermost function.

Compiling a whole 5,000-line module for every candidate costs tens of milliseconds; compiling the
function that holds the change costs a fraction of one. The unit is the outermost function (a
method counts, its class does not) so that `nonlocal` and closures inside it still resolve; it is
compiled under synthetic headers that put it back in its classes and blocks (`class Cart:`,
`if 1:`), so qualified names, name mangling and `super()` cells come out as in the real module,
and padded with blank lines so line numbers match. A change outside every function falls back to
its module-level statement.
"""

from __future__ import annotations

import ast
import functools
import warnings
from dataclasses import dataclass

from agent.edits.splice import Splice, apply_splices, line_range, lines_of

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
BLOCKS = (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)


@dataclass(frozen=True)
class Unit:
    """Lines first..last (1-based, decorators included) and the headers that enclose them."""

    first: int
    last: int
    headers: tuple[str, ...] = ()

    def to_list(self) -> list[object]:
        """JSON-able form (the in-sandbox runner's input)."""
        return [self.first, self.last, list(self.headers)]


@functools.lru_cache(maxsize=16)
def parsed(text: str) -> ast.Module:
    """The module's tree, cached: one parse per file however many candidates it gets."""
    return ast.parse(text)


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _children(node: ast.AST) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for name in ("body", "orelse", "finalbody"):
        found.extend(getattr(node, name, None) or [])
    for handler in getattr(node, "handlers", None) or []:
        found.extend(handler.body)
    return found


def unit_of(tree: ast.Module, first: int, last: int) -> Unit | None:
    """The unit holding lines first..last, or None when they straddle module-level statements."""
    headers: list[str] = []
    body: list[ast.stmt] = tree.body
    top: tuple[int, int] | None = None
    while True:
        holder = next((n for n in body if _first_line(n) <= first and last <= (n.end_lineno or n.lineno)), None)
        if holder is None:
            return Unit(*top) if top is not None else None
        span = (_first_line(holder), holder.end_lineno or holder.lineno)
        if top is None:
            top = span
        if isinstance(holder, FunctionNode):
            return Unit(span[0], span[1], tuple(headers))
        if isinstance(holder, ast.ClassDef):
            headers.append(f"class {holder.name}:")
        elif isinstance(holder, BLOCKS):
            headers.append("if 1:")
        else:
            return Unit(*top)
        if first <= holder.lineno:  # the change touches the block's own header line
            return Unit(*top)
        body = _children(holder)


def unit_for(text: str, splice: Splice) -> Unit | None:
    """The unit of `text` (pristine) that a splice changes; an insertion right after a unit belongs to it."""
    first, last = line_range(text, splice)
    tree = parsed(text)
    if splice.start == splice.end and first > 1:  # lines inserted right after a unit's last line extend it
        before = unit_of(tree, first - 1, first - 1)
        if before is not None and before.last == first - 1:
            return before
    return unit_of(tree, first, last)


def unit_text(lines: list[str], unit: Unit, replaced: str | None = None) -> str:
    """Source that compiles the unit in place: padding, synthetic headers, then the unit's (new) text."""
    body = replaced if replaced is not None else "".join(lines[unit.first - 1:unit.last])
    depth = len(unit.headers)
    pad = "\n" * max(0, unit.first - 1 - depth)
    heads = "".join(" " * level + header + "\n" for level, header in enumerate(unit.headers))
    return pad + heads + body


def changed_unit_text(text: str, splices: list[Splice]) -> tuple[str, Unit] | None:
    """The compilable text of the unit after the splices, or None when they do not share one unit."""
    units = {unit_for(text, s) for s in splices}
    if len(units) != 1 or None in units:
        return None
    unit = units.pop()
    assert unit is not None
    lines = lines_of(text)
    start = sum(len(line) for line in lines[:unit.first - 1])
    end = start + sum(len(line) for line in lines[unit.first - 1:unit.last])
    region = text[start:end]
    for splice in sorted(splices, key=lambda s: s.start, reverse=True):
        if not (start <= splice.start and splice.end <= end):
            return None
        region = region[:splice.start - start] + splice.text + region[splice.end - start:]
    return unit_text(lines, unit, region), unit


def syntax_error(path: str, text: str, splices: list[Splice]) -> str | None:
    """Why the spliced text does not compile ('' when unknown), or None when it does; compiles only the unit."""
    found = changed_unit_text(text, splices)
    if found is None:  # not one unit: compile the whole new file
        source = apply_splices(text, splices)
    else:
        source = found[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return f"{exc.msg} (line {exc.lineno})"
        except ValueError as exc:
            return str(exc)
    return None
