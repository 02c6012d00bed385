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


@dataclass(frozen=True)
class Mentions:
    """Places an issue text names: identifiers written as code (strong), plain words (weak), and file names."""

    strong: frozenset[str] = frozenset()
    weak: frozenset[str] = frozenset()
    files: frozenset[str] = frozenset()

    def tier(self, path: str, function: str | None) -> tuple[float, str]:
        """Bonus for a line and what the issue named: its function or class as code, its file, or only a word."""
        parts = function.split(".") if function else []
        named = next((p for p in parts if p in self.strong), None)
        if named:
            return NAMED_STRONG, f"`{named}`"
        stem = path.rsplit("/", 1)[-1]
        if path in self.files or stem in self.files:
            return NAMED_STRONG, path
        named = next((p for p in parts if p in self.weak), None)
        if named:
            return NAMED_WEAK, f"`{named}` (as a word)"
        return 0.0, ""


NAMED_STRONG = 1.2  # above any Ochiai score plus its boosts: the places the issue names as code go first
NAMED_WEAK = 0.1
_CODE_SPAN = re.compile(r"`([^`]+)`")
_CALLED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_.]*)\s*\(")
_FILE = re.compile(r"\b([\w./-]+\.py)\b")
_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def issue_mentions(text: str) -> Mentions:
    """What an issue names: `code`, calls `f(`, dotted or snake_case / CamelCase identifiers (strong), file names
    (`pkg/mod.py`), and other words that could be identifiers (weak: "the first element" may or may not mean
    `first`)."""
    strong: set[str] = set()
    files = set(_FILE.findall(text or ""))
    text = _FILE.sub(" ", text or "")
    for dotted in _DOTTED.findall(text):
        strong.update(p for p in dotted.split(".") if len(p) >= 3 and p.lower() not in _STOP)
    for span in _CODE_SPAN.findall(text or ""):
        strong.update(_IDENT.findall(span))
    for call in _CALLED.findall(text or ""):
        strong.update(call.split("."))
    for word in _IDENT.findall(text or ""):
        if "_" in word.strip("_") or (word[:1].islower() and any(c.isupper() for c in word)) or \
                (word[:1].isupper() and any(c.islower() for c in word[1:]) and any(c.isupper() for c in word[1:])):
            strong.add(word)
    files |= {f.rsplit("/", 1)[-1] for f in files}
    weak = {w for w in _IDENT.findall(text or "") if w.lower() not in _STOP} - strong
    return Mentions(frozenset(strong), frozenset(weak), frozenset(files))


CLUSTER_SIMILARITY = 0.5  # overlap of the functions two failing tests ran (of the smaller set), to count as one failure
MAX_CLUSTERED = 200


def failure_clusters(failing: list[str], covered: Mapping[str, set[str]]) -> list[list[str]]:
    """Failing tests grouped by the functions they ran (overlap >= CLUSTER_SIMILARITY, single linkage).

    Tests that fail for the same fault run much the same code (one may reach it through a wrapper
    the other does not use: the overlap is measured against the smaller set, not the union); an
    unrelated failure (a flaky or slow test, a second bug) runs other code. Localizing each group on
    its own and taking each line's best score keeps one group from diluting or owning the ranking
    (the idea of "debugging in parallel", Jones, Bowring and Harrold, ISSTA 2007).
    """
    if len(failing) > MAX_CLUSTERED or not covered:
        return [list(failing)]
    parent = {t: t for t in failing}

    def find(t: str) -> str:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for i, a in enumerate(failing):
        for b in failing[i + 1:]:
            fa, fb = covered.get(a, set()), covered.get(b, set())
            smaller = min(len(fa), len(fb))
            if not smaller or len(fa & fb) / smaller >= CLUSTER_SIMILARITY:
                parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for t in failing:
        groups.setdefault(find(t), []).append(t)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def rank(
    coverage: Mapping[str, object],
    sources: Mapping[str, str],
    *,
    terms: Iterable[str] = (),
    mentions: Mentions | None = None,
    limit: int = 40,
) -> list[Suspect]:
    """Rank source lines (never test files) by suspiciousness, best first.

    Ochiai per group of failing tests that ran the same functions (see failure_clusters), each line
    scored by its best group; traceback frames and identifiers from the failures add a little, and
    the places the issue names (its functions, classes, files) go first.
    """
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
    mentions = mentions or Mentions()
    lines: Mapping[str, Mapping[str, list[int]]] = coverage.get("lines", {})  # type: ignore[assignment]
    spans = {path: function_spans(sources[path]) for path in lines if path in sources and not is_test_path(path)}
    by_test = _failing_lines(coverage, failing, spans)
    covered = {t: {f"{p}:{enclosing_function(spans[p], ln)}" for p, ln in keys if enclosing_function(spans[p], ln)}
               for t, keys in by_test.items()}
    clusters = failure_clusters(failing, covered) if by_test else [failing]
    suspects: list[Suspect] = []
    for path, per_line in lines.items():
        if path not in spans:
            continue
        for line_str, (ef, ep) in per_line.items():
            if ef == 0:
                continue
            line = int(line_str)
            score = ef / math.sqrt(total_failed * (ef + ep))
            reasons = [f"run by {ef} failing and {ep} passing tests"]
            if len(clusters) > 1:
                best = 0.0
                for group in clusters:
                    ef_group = sum(1 for t in group if (path, line) in by_test.get(t, ()))
                    if ef_group:
                        best = max(best, ef_group / math.sqrt(len(group) * (ef_group + ep)))
                if best > score:
                    score = best
                    reasons.append("localized within its group of failing tests")
            function = enclosing_function(spans[path], line)
            if (path, line) in in_trace:
                score += 0.05 + 0.01 * in_trace[(path, line)]
                reasons.append("in a failing traceback")
            if function and (function.lower() in term_set or function.split(".")[-1].lower() in term_set):
                score += 0.05
                reasons.append(f"`{function}` is named in the issue or the failure")
            bonus, named = mentions.tier(path, function)
            if bonus:
                score += bonus
                reasons.append(f"the issue names {named}")
            suspects.append(Suspect(path, line, round(score, 4), function, tuple(reasons)))
    suspects.sort(key=lambda s: (-s.score, s.path, s.line))
    return suspects[:limit]


def _failing_lines(coverage: Mapping[str, object], failing: list[str],
                   spans: Mapping[str, object]) -> dict[str, set[tuple[str, int]]]:
    """Source lines each failing test ran, from the runner's `line_tests` ({} when it has none)."""
    line_tests: Mapping[str, Mapping[str, list[int]]] = coverage.get("line_tests") or {}  # type: ignore[assignment]
    test_ids: list[str] = list(coverage.get("test_ids") or [])  # type: ignore[call-overload]
    wanted = {i for i, t in enumerate(test_ids) if t in set(failing)}
    by_test: dict[str, set[tuple[str, int]]] = {}
    for path, per_line in line_tests.items():
        if path not in spans:
            continue
        for line_str, indices in per_line.items():
            for i in indices:
                if i in wanted:
                    by_test.setdefault(test_ids[i], set()).add((path, int(line_str)))
    return by_test


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
