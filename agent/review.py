"""Static review of a candidate patch before anything runs: applies, parses, touches only source."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from agent.edits.splice import Splice, lines_of
from agent.localize import is_test_path
from agent.repair.region import changed_unit_text


@dataclass(frozen=True)
class Review:
    """Verdict of the static checks; `risk` is low, medium or high with reasons."""

    ok: bool
    reason: str
    risk: str
    risk_reasons: tuple[str, ...]


_MEDIUM_OPERATORS = ("stmt_", "guard", "return", "insert", "delete", "wrap", "unwrap", "move")


def review_change(path: str, old: str | None, new: str, *, operator: str = "", lines_changed: int = 1,
                  changed: Sequence[Splice] | None = None) -> Review:
    """Check one file change; `old` is None for a new file.

    `changed`, when the caller knows them, are the splices that turn `old` into `new`: then only the
    function they change is parsed (the search engine reviews thousands of candidates per module).
    """
    if old is not None and old == new:
        return Review(False, "the patch changes nothing", "low", ())
    if is_test_path(path):
        return Review(False, f"the patch edits a test file ({path}); repairs must not change tests", "high", ())
    if not path.endswith(".py"):
        return Review(False, f"only Python source files may be changed, not {path}", "high", ())
    try:
        ast.parse(changed_source(old, new, path, changed), filename=path)
    except SyntaxError as exc:
        return Review(False, f"{path} no longer parses: {exc.msg} (line {exc.lineno})", "high", ())
    reasons: list[str] = []
    risk = "low"
    if old is None:
        risk, reasons = "medium", ["adds a new file"]
    if any(tag in operator for tag in _MEDIUM_OPERATORS):
        risk = "medium"
        reasons.append(f"changes control flow or statements ({operator})")
    if lines_changed > 10:
        risk = "high"
        reasons.append(f"{lines_changed} lines changed")
    elif lines_changed > 3 and risk == "low":
        risk = "medium"
        reasons.append(f"{lines_changed} lines changed")
    if not reasons:
        reasons.append("a single expression changed")
    return Review(True, "", risk, tuple(reasons))


def changed_source(old: str | None, new: str, path: str = "", changed: Sequence[Splice] | None = None) -> str:
    """What to parse of `new`: the function (or module-level statement) that changed, at its own line numbers.

    One parse of a whole 5,000-line module per candidate costs more than validating it; the unit
    around the change parses in microseconds. The whole file when there is no old version, the
    change spans several units, or the old version does not parse.
    """
    if old is None:
        return new
    if changed:
        try:
            found = changed_unit_text(old, list(changed))
        except SyntaxError:
            return new
        return found[0] if found is not None else new
    a, b = lines_of(old), lines_of(new)
    same = min(len(a), len(b))
    head = 0
    while head < same and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < same - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    start = sum(len(line) for line in a[:head])
    end = start + sum(len(line) for line in a[head:len(a) - tail])
    try:
        found = changed_unit_text(old, [Splice(path, start, end, "".join(b[head:len(b) - tail]))])
    except SyntaxError:
        return new
    return found[0] if found is not None else new
