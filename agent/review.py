"""Static review of a candidate patch before anything runs: applies, parses, touches only source."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from agent.localize import is_test_path


@dataclass(frozen=True)
class Review:
    """Verdict of the static checks; `risk` is low, medium or high with reasons."""

    ok: bool
    reason: str
    risk: str
    risk_reasons: tuple[str, ...]


_MEDIUM_OPERATORS = ("stmt_", "guard", "return", "insert", "delete", "wrap", "unwrap", "move")


def review_change(path: str, old: str | None, new: str, *, operator: str = "", lines_changed: int = 1) -> Review:
    """Check one file change; `old` is None for a new file."""
    if old is not None and old == new:
        return Review(False, "the patch changes nothing", "low", ())
    if is_test_path(path):
        return Review(False, f"the patch edits a test file ({path}); repairs must not change tests", "high", ())
    if not path.endswith(".py"):
        return Review(False, f"only Python source files may be changed, not {path}", "high", ())
    try:
        ast.parse(new, filename=path)
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
