"""Context building stays within its budget: a big file and a huge test output cannot blow it."""

from __future__ import annotations

import pytest

from agent.llm.context import coder_context, file_outline, head_tail, manager_context, repo_map, snippets

CALC = ("import math\n\n\nclass Cart(Base):\n    def total(self, items: list[int]) -> int:\n        return 0\n\n\n"
        "def calculate_total(items):\n    total = 0\n    for x in items:\n        if x > 0:\n"
        "            total += x\n    return total\n")
SUSPECT = {"path": "calc.py", "line": 12, "score": 0.9, "function": "calculate_total", "reasons": []}


def big_file(functions: int = 4000) -> str:
    return "".join(f"def f{n}(a, b=1):\n    x = a + b\n    return x * {n}\n\n\n" for n in range(functions))


@pytest.mark.parametrize("limit", [0, 10, 100, 1000])
def test_head_tail_respects_the_limit_and_marks_the_cut(limit):
    text = "HEAD" + "x" * 50_000 + "TAIL"
    cut = head_tail(text, limit)
    assert len(cut) <= limit
    if limit >= 100:
        assert cut.startswith("HEAD") and cut.endswith("TAIL") and "characters cut ...]" in cut
    assert head_tail("short", 100) == "short"


def test_outline_and_numbered_snippets():
    assert file_outline(CALC) == ["  class Cart(Base)  # line 4",
                                  "    def total(self, items: list[int]) -> int  # line 5",
                                  "  def calculate_total(items)  # line 9"]
    assert file_outline("def broken(:\n") == []
    text = snippets({"calc.py": CALC}, [SUSPECT], 10_000)
    assert text.splitlines()[0] == "### calc.py, lines 9-14, in `calculate_total`"
    assert ">   12 |         if x > 0:" in text and "    9 | def calculate_total(items):" in text
    plain = snippets({"calc.py": CALC}, [SUSPECT], 10_000, numbered=False)
    assert "        if x > 0:\n" in plain and "|" not in plain


def test_a_big_file_and_a_huge_test_output_stay_within_budget():
    sources = {"calc.py": CALC, "big.py": big_file(), **{f"pkg/m{n}.py": big_file(30) for n in range(200)}}
    suspects = [SUSPECT, {"path": "big.py", "line": 6002, "score": 0.5, "function": "f1200"}]
    output = "".join(f"line {n} of a very chatty test run\n" for n in range(200_000)) + "FINAL AssertionError"
    issue = "calculate_total is wrong " * 2000
    for budget in (4_000, 24_000):
        values = manager_context(issue, sources, suspects, output, budget=budget)
        assert sum(len(v) for v in values.values()) <= budget
        assert "FINAL AssertionError" in values["test_output"] and "characters cut ...]" in values["test_output"]
        assert "calculate_total" in values["snippets"] and "calc.py" in values["repo_map"]
    values = manager_context(issue, sources, suspects, output, budget=24_000)
    assert "def f1200(a, b=1):" in values["snippets"]
    assert "more files cut ...]" in values["repo_map"]


def test_coder_gets_whole_small_files_and_excerpts_of_big_ones():
    sources = {"calc.py": CALC, "big.py": big_file()}
    suspects = [SUSPECT, {"path": "big.py", "line": 6002, "score": 0.5, "function": "f1200"}]
    values = coder_context("issue", sources, ["calc.py", "big.py"], suspects, "E" * 100_000, budget=12_000)
    assert sum(len(v) for v in values.values()) <= 12_000
    assert "### calc.py (the whole file)\n" + CALC in values["files"]
    assert "### excerpt of big.py, lines 6001-6003, in `f1200`\ndef f1200(a, b=1):\n" in values["files"]


def test_repo_map_limit_and_focus_order():
    sources = {f"pkg/m{n:03}.py": big_file(5) for n in range(500)}
    sources["tests/test_x.py"] = "def test_x():\n    pass\n"
    text = repo_map(sources, 2_000, focus=["pkg/m499.py"])
    assert len(text) <= 2_000 and text.startswith("pkg/m499.py\n  def f0(a, b=1)")
    assert "more files cut ...]" in text
    small = repo_map({"a.py": CALC, "tests/test_a.py": "def test_a():\n    pass\n"}, 1_000)
    assert small.endswith("tests/test_a.py")  # tests by name only
