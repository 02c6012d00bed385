"""Fault localization over the runner's coverage JSON (pure; no Docker)."""

from __future__ import annotations

import pytest

from agent.localize import fallback_rank, function_spans, is_test_path, issue_terms, rank

SOURCE = """\
def calculate_total(items):
    total = 0
    for x in items:
        if x > 0:
            total += x
    return total


def average(items):
    return calculate_total(items) / len(items)
"""


def coverage(lines, outcomes, frames=None):
    return {"outcomes": outcomes, "lines": lines, "frames": frames or {}}


def test_ochiai_prefers_lines_run_only_by_failing_tests():
    cov = coverage(
        {"calc.py": {"2": [1, 2], "4": [1, 2], "5": [1, 0], "6": [1, 2], "10": [0, 1]},
         "tests/test_calc.py": {"3": [1, 0]}},
        {"t::a": "passed", "t::b": "passed", "t::neg": "failed"},
    )
    ranked = rank(cov, {"calc.py": SOURCE, "tests/test_calc.py": ""})
    assert ranked[0].line == 5 and ranked[0].function == "calculate_total"
    assert ranked[0].score == pytest.approx(1.0)
    assert all(s.path == "calc.py" for s in ranked), "test files are never suspects"
    assert 10 not in [s.line for s in ranked], "lines no failing test ran are not suspects"


def test_no_passing_test_still_ranks_with_traceback_and_issue_terms():
    cov = coverage(
        {"calc.py": {"2": [1, 0], "3": [1, 0], "4": [1, 0], "10": [1, 0]}},
        {"t::only": "failed"},
        frames={"t::only": [["tests/t.py", 3], ["calc.py", 10]]},
    )
    ranked = rank(cov, {"calc.py": SOURCE}, terms={"average"})
    assert ranked[0].line == 10
    assert "in a failing traceback" in ranked[0].reasons


def test_issue_terms_drop_stop_words_and_keep_identifiers():
    terms = issue_terms("calculate_total returns the wrong sum when the list has negative numbers")
    assert "calculate_total" in terms and "the" not in terms and "negative" in terms


def test_function_spans_and_fallback_rank():
    assert [(a, b, n) for a, b, n in function_spans(SOURCE)] == [(1, 6, "calculate_total"), (9, 10, "average")]
    ranked = fallback_rank({"calc.py": SOURCE, "tests/test_calc.py": SOURCE}, {"average"})
    assert [s.line for s in ranked] == [10] and ranked[0].path == "calc.py"


@pytest.mark.parametrize(
    ("path", "expected"),
    [("tests/test_a.py", True), ("test_a.py", True), ("a_test.py", True), ("conftest.py", True),
     ("pkg/testing/helpers.py", True), ("src/app.py", False), ("pkg/contest.py", False)],
)
def test_is_test_path(path, expected):
    assert is_test_path(path) is expected
