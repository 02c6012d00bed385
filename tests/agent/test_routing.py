"""Routers are pure and refuse broken invariants."""

from __future__ import annotations

import pytest

from agent.exceptions import WorkflowError
from agent.graph import routing
from agent.review import review_change
from agent.testcmd import pytest_args


@pytest.mark.parametrize(
    ("router", "state", "expected"),
    [
        (routing.after_reproduce, {"status": "running"}, "localize"),
        (routing.after_reproduce, {"status": "no_failure"}, "finalize"),
        (routing.after_localize, {"status": "not_fixed"}, "finalize"),
        (routing.after_repair, {"status": "running", "batch": [1]}, "review"),
        (routing.after_repair, {"status": "not_fixed", "batch": []}, "finalize"),
        (routing.after_review, {"status": "running", "reviewed": []}, "repair"),
        (routing.after_test, {"status": "running", "plausible": None}, "repair"),
        (routing.after_test, {"status": "running", "plausible": {"id": 3}}, "finalize"),
        # The LLM engine and the hand-over from the search (engine auto).
        (routing.after_reproduce, {"status": "no_failure", "engine": "auto", "llm_available": True}, "llm_reprotest"),
        (routing.after_reproduce, {"status": "no_failure", "engine": "auto", "llm_available": False}, "finalize"),
        (routing.after_reproduce, {"status": "no_failure", "engine": "search", "llm_available": True}, "finalize"),
        (routing.after_reproduce, {"status": "error", "engine": "llm", "llm_available": True}, "finalize"),
        (routing.after_localize, {"status": "running", "engine": "llm", "llm_available": True}, "llm_manager"),
        (routing.after_localize, {"status": "running", "engine": "auto", "llm_available": True}, "repair"),
        (routing.after_repair, {"status": "running", "batch": [], "search_exhausted": True, "engine": "auto",
                                "llm_available": True}, "llm_manager"),
        (routing.after_llm_manager, {"status": "running"}, "llm_coder"),
        (routing.after_llm_manager, {"status": "budget_exhausted"}, "finalize"),
        (routing.after_llm_coder, {"status": "running", "llm_candidate": {"diff": "x"}}, "llm_reviewer"),
        (routing.after_llm_coder, {"status": "running", "llm_candidate": None}, "llm_coder"),
        (routing.after_llm_coder, {"status": "not_fixed", "llm_candidate": None}, "finalize"),
        (routing.after_llm_reviewer, {"status": "running", "llm_candidate": {"diff": "x"}}, "llm_prove"),
        (routing.after_llm_reviewer, {"status": "running", "llm_candidate": None}, "llm_coder"),
        (routing.after_llm_reviewer, {"status": "error", "llm_candidate": {"diff": "x"}}, "finalize"),
        (routing.after_llm_prove, {"status": "running", "plausible": {"engine": "llm"}}, "finalize"),
        (routing.after_llm_prove, {"status": "running", "plausible": None}, "llm_coder"),
        (routing.after_llm_reprotest, {"status": "running", "repro_test": {"path": "t.py"}}, "reproduce"),
        (routing.after_llm_reprotest, {"status": "running", "repro_test": None}, "llm_reprotest"),
        (routing.after_llm_reprotest, {"status": "no_failure", "repro_test": None}, "finalize"),
    ],
)
def test_routes(router, state, expected):
    assert router(state) == expected


def test_broken_invariants_raise():
    with pytest.raises(WorkflowError):
        routing.after_repair({"status": "running", "batch": []})
    with pytest.raises(WorkflowError):
        routing.after_reproduce({})
    with pytest.raises(WorkflowError):  # the search gave up but there is no model to hand over to
        routing.after_repair({"status": "running", "batch": [], "search_exhausted": True, "engine": "auto"})
    with pytest.raises(WorkflowError):
        routing.after_localize({"status": "running", "engine": "llm", "llm_available": False})


@pytest.mark.parametrize(
    ("command", "args"),
    [("pytest -q", ["-q"]), ("python3 -m pytest -q tests", ["-q", "tests"]), ("python -m pytest", []),
     ("make test", None), ("pytest -q && rm -rf /", None), ("tox -e py311", None)],
)
def test_pytest_args(command, args):
    assert pytest_args(command) == args


@pytest.mark.parametrize(
    ("path", "old", "new", "ok", "reason"),
    [
        ("calc.py", "x = 1\n", "x = 2\n", True, ""),
        ("tests/test_calc.py", "x = 1\n", "x = 2\n", False, "edits a test file"),
        ("conftest.py", "x = 1\n", "x = 2\n", False, "edits a test file"),
        ("setup.cfg", "a", "b", False, "build or packaging file"),
        ("data/table.csv", "a", "b", False, "only Python source"),
        ("calc.py", "x = 1\n", "x = = 2\n", False, "no longer parses"),
        ("calc.py", "x = 1\n", "x = 1\n", False, "changes nothing"),
    ],
)
def test_review_static_checks(path, old, new, ok, reason):
    verdict = review_change(path, old, new)
    assert verdict.ok is ok and reason in verdict.reason


def test_review_risk_levels():
    assert review_change("a.py", "x=1\n", "x=2\n").risk == "low"
    assert review_change("a.py", "x=1\n", "x=2\n", operator="stmt_insert").risk == "medium"
    assert review_change("a.py", "x=1\n", "x=2\n", lines_changed=30).risk == "high"
