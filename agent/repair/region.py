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
import bisect
import functools
import warnings
from dataclasses import dataclass

from agent.edits.splice import Splice, apply_splices, lines_of
from agent.pyparse import parse_python

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


@dataclass
class Layout:
    """A module's tree, where each line starts, and the line spans of every statement list: built once per text."""

    text: str
    tree: ast.Module
    starts: list[int]  # character offset of each line's start; one more entry for the end of the text
    _spans: dict[int, list[tuple[int, int, ast.stmt]]]

    def spans(self, body: list[ast.stmt]) -> list[tuple[int, int, ast.stmt]]:
        """(first line with decorators, last line, statement) of each statement of a block."""
        key = id(body)
        if key not in self._spans:
            self._spans[key] = [(_first_line(n), n.end_lineno or n.lineno, n) for n in body]
        return self._spans[key]


@functools.lru_cache(maxsize=16)
def layout(text: str) -> Layout:
    """The text's layout, cached: one parse per file however many candidates it gets."""
    starts = [0]
    for line in lines_of(text):
        starts.append(starts[-1] + len(line))
    return Layout(text, parse_python(text), starts, {})


def parsed(text: str) -> ast.Module:
    """The module's tree (cached with its layout)."""
    return layout(text).tree


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _children(node: ast.AST) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for name in ("body", "orelse", "finalbody"):
        found.extend(getattr(node, name, None) or [])
    for handler in getattr(node, "handlers", None) or []:
        found.extend(handler.body)
    return found


def unit_of(tree: ast.Module, first: int, last: int, where: Layout | None = None) -> Unit | None:
    """The unit holding lines first..last, or None when they straddle module-level statements."""
    headers: list[str] = []
    body: list[ast.stmt] = tree.body
    top: tuple[int, int] | None = None
    while True:
        spans = where.spans(body) if where is not None else [(_first_line(n), n.end_lineno or n.lineno, n)
                                                               for n in body]
        holder = next((n for a, b, n in spans if a <= first and last <= b), None)
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
    where = layout(text)
    first = bisect.bisect_right(where.starts, splice.start)
    last = max(first, bisect.bisect_right(where.starts, max(splice.start, splice.end - 1)))
    if splice.start == splice.end and first > 1:  # lines inserted right after a unit's last line extend it
        before = unit_of(where.tree, first - 1, first - 1, where)
        if before is not None and before.last == first - 1:
            return before
    return unit_of(where.tree, first, last, where)


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
    starts = layout(text).starts
    start, end = starts[unit.first - 1], starts[min(unit.last, len(starts) - 1)]
    region = text[start:end]
    for splice in sorted(splices, key=lambda s: s.start, reverse=True):
        if not (start <= splice.start and splice.end <= end):
            return None
        region = region[:splice.start - start] + splice.text + region[splice.end - start:]
    depth = len(unit.headers)
    pad = "\n" * max(0, unit.first - 1 - depth)
    heads = "".join(" " * level + header + "\n" for level, header in enumerate(unit.headers))
    return pad + heads + region, unit


def pristine_unit_text(text: str, unit: Unit) -> str:
    """The unit's own (unchanged) text, padded and under its headers like changed_unit_text's."""
    starts = layout(text).starts
    body = text[starts[unit.first - 1]:starts[min(unit.last, len(starts) - 1)]]
    depth = len(unit.headers)
    heads = "".join(" " * level + header + "\n" for level, header in enumerate(unit.headers))
    return "\n" * max(0, unit.first - 1 - depth) + heads + body


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
