"""Which tests matter for a failure: the failing ones and those that use the same code (static, no test runs).

A 600-test suite with coverage contexts can take several times its own run time; localization only
needs the failing tests and the passing tests that exercise the same functions (their spectrum is
what tells a buggy line from a healthy one). Here a passing test matters when its own code names a
function or class of the sources that a failing test names too (`mi.windowed(...)` in both), or when
it sits in the same test class as a failing test. Test ids are pytest node ids
(`tests/test_more.py::WindowedTests::test_basic`, `tests/test_x.py::test_y[param]`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent.localize import is_test_path
from agent.pyparse import parse_python

SELECT_ABOVE = 300  # suites up to this many tests are covered whole (it is cheap, and the spectrum is richest)
MAX_SELECTED = 400  # passing tests kept at most


@dataclass(frozen=True)
class TestPlace:
    """Where a test's code is: its file, class (or None) and function name."""

    path: str
    cls: str | None
    function: str


def place_of(nodeid: str) -> TestPlace | None:
    """The file, class and function of a pytest node id (parameters dropped); None for other ids."""
    parts = nodeid.split("::")
    if len(parts) < 2 or not parts[0].endswith(".py"):
        return None
    function = parts[-1].split("[", 1)[0]
    cls = parts[-2] if len(parts) >= 3 else None
    return TestPlace(parts[0], cls, function)


def _names_by_test(source: str) -> dict[tuple[str | None, str], set[str]]:
    """(class, function) → identifiers its body uses (names and attribute names), for every test function."""
    try:
        tree = parse_python(source)
    except SyntaxError:
        return {}
    found: dict[tuple[str | None, str], set[str]] = {}

    def used(node: ast.AST) -> set[str]:
        names: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                names.add(sub.attr)
        return names

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[(None, node.name)] = used(node)
        elif isinstance(node, ast.ClassDef):
            shared = set().union(*(used(m) for m in node.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
                                   and not m.name.startswith("test")))  # setUp and helpers count for every test
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[(node.name, member.name)] = used(member) | shared
    return found


def defined_names(sources: Mapping[str, str]) -> set[str]:
    """Functions and classes (at any depth) defined in the non-test sources."""
    names: set[str] = set()
    for path, source in sources.items():
        if is_test_path(path):
            continue
        try:
            tree = parse_python(source)
        except SyntaxError:
            continue
        names.update(n.name for n in ast.walk(tree)
                     if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))
    return names


def relevant_tests(failing: Iterable[str], passing: Iterable[str], sources: Mapping[str, str]) -> list[str] | None:
    """The failing tests and the passing tests that matter for them, or None when every test should run.

    None when the suite is small (SELECT_ABOVE), when test ids are not pytest node ids, or when the
    failing tests name no function of the sources (then nothing says which passing tests share code).
    """
    failing, passing = list(failing), list(passing)
    if len(failing) + len(passing) <= SELECT_ABOVE:
        return None
    places = {t: place_of(t) for t in failing + passing}
    if any(places[t] is None for t in failing):
        return None
    parsed: dict[str, dict[tuple[str | None, str], set[str]]] = {}

    def names_of(test: str) -> set[str]:
        place = places[test]
        if place is None or place.path not in sources:
            return set()
        if place.path not in parsed:
            parsed[place.path] = _names_by_test(sources[place.path])
        return parsed[place.path].get((place.cls, place.function), set())

    code = defined_names(sources)
    targets = set().union(*(names_of(t) & code for t in failing))
    if not targets:
        return None
    classes = {(places[t].path, places[t].cls) for t in failing if places[t].cls}  # type: ignore[union-attr]
    scored = []
    for order, test in enumerate(passing):
        place = places[test]
        if place is None:
            continue
        shared = len(names_of(test) & targets)
        same_class = (place.path, place.cls) in classes
        if shared or same_class:
            scored.append((not same_class, -shared, order, test))
    scored.sort()
    return failing + [item[3] for item in scored[:MAX_SELECTED]]
