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


# --- several failing tests, and the places the issue names --------------------------------------------------------

from agent.localize import failure_clusters, issue_mentions  # noqa: E402

LIB = """\
def windowed(seq, n):
    out = []
    for i in range(len(seq) - n):
        out.append(tuple(seq[i:i + n]))
    return out


def pool_worker(jobs):
    done = []
    for job in jobs:
        done.append(job)
    return done
"""


def lib_coverage():
    """Two unrelated failures: `t::win` (the bug, in windowed) and `t::threads` (a slow thread test that was
    stopped, in pool_worker); four passing tests also run windowed's loop, none runs pool_worker."""
    failing = ["t::win", "t::threads"]
    passing = ["t::p1", "t::p2", "t::p3", "t::p4"]
    ids = failing + passing
    win_lines = {"2": [0, 2, 3, 4, 5], "3": [0, 2, 3, 4, 5], "4": [0, 2, 3, 4, 5], "5": [0, 2, 3, 4, 5]}
    pool_lines = {"9": [1], "10": [1], "11": [1], "12": [1]}
    lines = {"lib.py": {**{k: [1, 4] for k in win_lines}, **{k: [1, 0] for k in pool_lines}}}
    return {"outcomes": {**{t: "failed" for t in failing}, **{t: "passed" for t in passing}}, "lines": lines,
            "frames": {}, "test_ids": ids, "line_tests": {"lib.py": {**win_lines, **pool_lines}}}


def test_issue_mentions_separate_code_from_words():
    found = issue_mentions("`windowed` drops the last window; nth_combination(range(3), 2) and Cart.total are "
                           "fine, see more_itertools/more.py. The first element is right.")
    assert {"windowed", "nth_combination", "Cart", "total"} <= found.strong
    assert "first" in found.weak and "first" not in found.strong
    assert {"more_itertools/more.py", "more.py"} <= found.files


def test_unrelated_failures_form_separate_groups():
    cov = lib_coverage()
    covered = {"t::win": {"lib.py:windowed"}, "t::threads": {"lib.py:pool_worker"}, "t::win2": {"lib.py:windowed"}}
    assert failure_clusters(["t::win", "t::threads", "t::win2"], covered) == [["t::win", "t::win2"], ["t::threads"]]
    assert cov  # (the coverage fixture is used below)
    # a test that reaches the fault through a wrapper still belongs with the one that calls it directly
    wrapped = {"t::direct": {"calc.py:total"}, "t::cart": {"calc.py:total", "calc.py:Cart.total",
                                                           "calc.py:Cart.__init__"}}
    assert failure_clusters(["t::direct", "t::cart"], wrapped) == [["t::direct", "t::cart"]]


def test_one_unrelated_failure_does_not_own_the_ranking_and_named_places_come_first():
    cov = lib_coverage()
    plain = rank(cov, {"lib.py": LIB})
    # Without the issue, each group is localized on its own: the stopped thread test's lines no longer
    # outrank windowed's by a factor (global Ochiai gave them 0.71 against windowed's 0.32).
    win = max(s.score for s in plain if s.function == "windowed")
    pool = max(s.score for s in plain if s.function == "pool_worker")
    assert win >= 0.44 and win / pool > 0.4
    named = rank(cov, {"lib.py": LIB}, mentions=issue_mentions("`windowed(seq, 2)` misses the last window"))
    assert {s.function for s in named[:4]} == {"windowed"}
    assert "the issue names `windowed`" in named[0].reasons
