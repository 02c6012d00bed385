"""Pure helpers of the LLM nodes: reading the model's answers and the test output (table tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.graph.nodes.llm_common import field, planned_paths, safe_path, section, source_paths
from agent.graph.nodes.llm_prove import focus_failures
from agent.graph.nodes.llm_reprotest import check_test, extract_test, judge_run, new_test_path
from agent.graph.nodes.llm_reviewer import parse_verdict


@pytest.mark.parametrize("text, approve, reasons, readable", [
    ('{"approve": true, "reasons": []}', True, [], True),
    ('Verdict:\n```json\n{"approve": false, "reasons": ["off by one"]}\n```', False, ["off by one"], True),
    ('{"approve": false, "reasons": "one reason"}', False, ["one reason"], True),
    ('{"approve": "yes"} then approve: false', False, [], True),
    ("I think it is fine.", True, ["the reviewer's answer was not the expected JSON"], False),
])
def test_parse_verdict(text, approve, reasons, readable):
    assert parse_verdict(text) == {"approve": approve, "reasons": reasons, "readable": readable}


def test_fields_sections_and_planned_paths():
    plan = "**ROOT CAUSE:** the guard\nPLAN:\n1. fix\nFILES: `pkg/calc.py`, tests/test_calc.py, README.md"
    assert field(plan, "ROOT CAUSE") == "the guard" and field(plan, "NOPE") == ""
    assert planned_paths(plan) == ["pkg/calc.py", "tests/test_calc.py"]
    assert source_paths(planned_paths(plan) + ["../x.py", "/etc/x.py", ".hidden/x.py"]) == ["pkg/calc.py"]
    reply = "DESCRIPTION: d\nEXPLANATION: line one\nline two\ncalc.py\n<<<<<<< SEARCH\n"
    assert section(reply, "EXPLANATION") == "line one line two"


@pytest.mark.parametrize("path, ok", [("a/b.py", True), ("../a.py", False), ("/a.py", False), ("a//b.py", False),
                                      ("-rf.py", False), ("a/./b.py", False), (".git/config", False)])
def test_safe_path(path, ok):
    assert safe_path(path) is ok


def test_focus_failures_prefers_the_failures_section():
    out = "collected 3 items\n" + "noise\n" * 5000 + "=== FAILURES ===\n___ test_x ___\nassert 1 == 2\n" \
          "=== short test summary info ===\nFAILED t.py::test_x\n"
    focused = focus_failures(out, 500)
    assert focused.startswith("=== FAILURES ===") and focused.endswith("FAILED t.py::test_x\n")
    assert focus_failures("x" * 10_000, 100).endswith("x" * 50)


def test_reproduction_test_checks(tmp_path: Path):
    assert extract_test("a\n```python\nA = 1\n```\n```python\ndef test_a():\n    pass\n```") == \
        "def test_a():\n    pass\n"
    assert check_test("") and check_test("def test_(:\n") and check_test("X = 1\n")
    assert check_test("def test_a():\n    assert 1\n") is None
    path = "tests/test_fixbot_repro.py"
    assert judge_run(path, 0, False, "1 passed") and judge_run(path, None, True, "")
    assert "errors out" in judge_run(path, 2, False, f"ERROR collecting {path}\nImportError")
    assert judge_run(path, 1, False, "FAILED tests/test_other.py::test_b") == "the run failed, but not in the new test"
    assert judge_run(path, 1, False, f"FAILED {path}::test_a - assert 4 == 2") is None
    (tmp_path / "tests").mkdir()
    assert new_test_path(str(tmp_path)) == path
    (tmp_path / path).write_text("")
    assert new_test_path(str(tmp_path)) == "tests/test_fixbot_repro_2.py"
    assert new_test_path(str(tmp_path / "tests")) == "test_fixbot_repro_2.py"
