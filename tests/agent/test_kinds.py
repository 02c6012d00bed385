"""The real-world kinds of tests/fixtures/kinds/ through the whole workflow (real sandbox), judged as the benchmark
judges them (bench/kinds.py): every kind is fixed, or ends in an error that names its cause."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from agent.request import FixRequest
from agent.workflow import run_fix

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker]


def load_bench_kinds():
    """bench/kinds.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_kinds", ROOT / "bench" / "kinds.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_kinds", module)
    spec.loader.exec_module(module)
    return module


KINDS = load_bench_kinds()
ALL = KINDS.load_kinds()


def test_the_corpus_has_the_file_form_kinds() -> None:
    assert {"latin1_source", "utf8_bom", "crlf_endings", "tab_indent", "undecodable_file"} <= {k.name for k in ALL}


@pytest.mark.parametrize("kind", ALL, ids=[k.name for k in ALL])
async def test_kind(kind, workflow_settings) -> None:
    request = FixRequest(repo=str(kind.path), issue=kind.issue, test_command=kind.test_command,
                         setup_command=kind.setup_command)
    record = await run_fix(request, workflow_settings)
    verdict, why = KINDS.judge(kind, record)
    assert verdict == ("fixed" if kind.expect == "fixed" else "clear error"), why


def test_judge_catches_a_patch_that_breaks_the_files_form() -> None:
    crlf = next(k for k in ALL if k.name == "crlf_endings")
    lf_diff = "--- a/counts.py\n+++ b/counts.py\n@@ -4 +4 @@\n-    return len(words) - 1\n+    return len(words)\n"
    verdict, why = KINDS.judge(crlf, {"status": "fixed", "message": "", "final_patch": {"diff": lf_diff}})
    assert verdict == "wrong" and "CRLF" in why
    tabs = next(k for k in ALL if k.name == "tab_indent")
    spaced = "--- a/uniq.py\n+++ b/uniq.py\n@@ -5,0 +6 @@\n+            seen.add(item)\n"
    assert KINDS.judge(tabs, {"status": "fixed", "final_patch": {"diff": spaced}})[0] == "wrong"
    assert KINDS.judge(tabs, {"status": "no_failure", "message": "the tests already pass"})[0] == "wrong"
