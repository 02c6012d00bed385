"""Big-suite paths through the whole workflow (real sandbox): coverage for the tests that matter only, survivors
checked against the tests that ran the changed function, and the coverage data those choices come from."""

from __future__ import annotations

import pytest

from agent import relevance
from agent.graph.nodes.localize import line_tests
from agent.request import FixRequest
from agent.workflow import run_fix

LIB = ("def total(xs):\n    out = 0\n    for x in xs:\n        if x > 0:\n            out += x\n    return out\n\n\n"
       "def label(x):\n    return f'<{x}>'\n")
TESTS = ("from lib import label, total\n\n\ndef test_total_negative():\n    assert total([1, -2, 3]) == 2\n\n\n"
         "def test_total_positive():\n    assert total([1, 2]) == 3\n\n\ndef test_total_empty():\n"
         "    assert total([]) == 0\n\n\ndef test_label():\n    assert label(1) == '<1>'\n\n\n"
         "def test_label_text():\n    assert label('a') == '<a>'\n")


def test_line_tests_names_every_test_of_the_lines_a_failing_test_ran():
    coverage = {"lib.py": {"2": ["t::fail", "t::pass"], "10": ["t::other"]}, "tests/t.py": {"1": ["t::fail"]}}
    found = line_tests(coverage, {"t::fail"}, {"t::pass", "t::other"})
    ids = found["test_ids"]
    assert {p: {ln: [ids[i] for i in v] for ln, v in per.items()} for p, per in found["line_tests"].items()} == {
        "lib.py": {"2": ["t::fail", "t::pass"]}, "tests/t.py": {"1": ["t::fail"]}}


@pytest.mark.docker
async def test_a_big_suite_gets_coverage_for_the_tests_that_matter(make_repo, workflow_settings, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setattr(relevance, "SELECT_ABOVE", 3)  # five tests count as a big suite here
    repo = make_repo(tmp_path / "r", {"conftest.py": "", "lib.py": LIB, "tests/test_lib.py": TESTS})
    record = await run_fix(FixRequest(repo=str(repo), issue="`total` ignores nothing but should skip nothing: "
                                      "total([1, -2, 3]) is 4"), workflow_settings)
    assert record["status"] == "fixed", record["message"]
    # the failing test and the two passing tests that call `total`; the `label` tests are not covered
    assert "coverage was measured for 3 of 5 tests" in record["analysis"]
    assert "-        if x > 0:" in record["final_patch"]["diff"]
