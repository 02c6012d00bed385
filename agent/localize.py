"""Fault localization: rank suspicious source lines from per-test coverage, tracebacks and the issue text.

Pure functions over the JSON the in-sandbox runner writes (see agent/repair/runner.py).
Spectrum-based: Ochiai = ef / sqrt(F * (ef + ep)), where ef/ep count failing/passing tests
that executed the line and F is the number of failing tests. It still ranks when no test
passes (ep = 0 everywhere): then frames in the failing tracebacks and identifiers from the
issue text break the ties.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from agent.pyparse import parse_python

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_STOP = {"the", "and", "for", "with", "when", "that", "this", "not", "returns", "return", "wrong", "should",
         "list", "error", "bug", "fix", "test", "tests", "but", "are", "from", "into", "have", "has", "was"}


@dataclass(frozen=True)
class Suspect:
    """One suspicious line and why."""

    path: str
    line: int
    score: float
    function: str | None = None
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def is_test_path(path: str) -> bool:
    """True for test files and test helpers, which a repair must never edit."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    return (
        any(p in ("tests", "test", "testing") for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def issue_terms(*texts: str) -> set[str]:
    """Identifiers a user or a traceback named: `calculate_total`, `Cart.total`, ..."""
    terms: set[str] = set()
    for text in texts:
        for word in _IDENT.findall(text or ""):
            if word.lower() not in _STOP:
                terms.add(word)
    return terms


def function_spans(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function, innermost last."""
    try:
        tree = parse_python(source)
    except SyntaxError:
        return []
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def enclosing_function(spans: list[tuple[int, int, str]], line: int) -> str | None:
    """The innermost function containing line."""
    best: tuple[int, int, str] | None = None
    for span in spans:
        if span[0] <= line <= span[1] and (best is None or span[0] >= best[0]):
            best = span
    return best[2] if best else None


def rank(
    coverage: Mapping[str, object],
    sources: Mapping[str, str],
    *,
    terms: Iterable[str] = (),
    limit: int = 40,
) -> list[Suspect]:
    """Rank source lines (never test files) by suspiciousness, best first."""
    outcomes: Mapping[str, str] = coverage.get("outcomes", {})  # type: ignore[assignment]
    failing = [n for n, o in outcomes.items() if o in ("failed", "error")]
    total_failed = max(len(failing), 1)
    frames: Mapping[str, list[list[object]]] = coverage.get("frames", {})  # type: ignore[assignment]
    in_trace: dict[tuple[str, int], int] = {}
    for nodeid in failing:
        for depth, (path, line) in enumerate(frames.get(nodeid, [])):
            key = (str(path), int(line))  # type: ignore[call-overload]
            in_trace[key] = max(in_trace.get(key, 0), depth + 1)
    term_set = {t.lower() for t in terms}
    lines: Mapping[str, Mapping[str, list[int]]] = coverage.get("lines", {})  # type: ignore[assignment]
    suspects: list[Suspect] = []
    for path, per_line in lines.items():
        if is_test_path(path) or path not in sources:
            continue
        spans = function_spans(sources[path])
        for line_str, (ef, ep) in per_line.items():
            if ef == 0:
                continue
            line = int(line_str)
            score = ef / math.sqrt(total_failed * (ef + ep))
            reasons = [f"run by {ef} failing and {ep} passing tests"]
            function = enclosing_function(spans, line)
            if (path, line) in in_trace:
                score += 0.05 + 0.01 * in_trace[(path, line)]
                reasons.append("in a failing traceback")
            if function and (function.lower() in term_set or function.split(".")[-1].lower() in term_set):
                score += 0.05
                reasons.append(f"`{function}` is named in the issue or the failure")
            suspects.append(Suspect(path, line, round(score, 4), function, tuple(reasons)))
    suspects.sort(key=lambda s: (-s.score, s.path, s.line))
    return suspects[:limit]


def fallback_rank(sources: Mapping[str, str], terms: Iterable[str], *, limit: int = 40) -> list[Suspect]:
    """Without coverage (non-pytest command): every line of functions named in the issue or failures."""
    term_set = {t.lower() for t in terms}
    suspects: list[Suspect] = []
    for path, source in sources.items():
        if is_test_path(path):
            continue
        for first, last, name in function_spans(source):
            if name.split(".")[-1].lower() in term_set:
                for line in range(first + 1, last + 1):
                    suspects.append(Suspect(path, line, 0.5, name, (f"in `{name}`, named in the issue",)))
    return suspects[:limit]
