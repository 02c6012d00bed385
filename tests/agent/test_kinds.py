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
ALL = [k for k in KINDS.load_kinds() if not k.wheels]
FILE_FORM = {"latin1-source", "utf8-bom", "crlf-endings", "tab-indent", "undecodable-file", "two-edits"}


def test_the_corpus_has_the_file_form_kinds() -> None:
    assert FILE_FORM <= {k.name for k in ALL}


@pytest.mark.parametrize("kind", [k for k in ALL if k.name in FILE_FORM], ids=lambda k: k.name)
async def test_kind(kind, workflow_settings, tmp_path) -> None:
    repo, overrides = KINDS.materialize(kind, tmp_path)
    request = FixRequest(repo=str(repo), issue=kind.issue, test_command=kind.test, setup_command=kind.setup)
    record = await run_fix(request, workflow_settings.model_copy(update=overrides))
    verdict, why = KINDS.judge(kind, record)
    assert verdict == ("fixed" if kind.expect["status"] == "fixed" else "clear error"), why


def test_materialize_keeps_bytes(tmp_path) -> None:
    crlf = next(k for k in ALL if k.name == "crlf-endings")
    repo, _overrides = KINDS.materialize(crlf, tmp_path)
    assert (repo / "counts.py").read_bytes() == (crlf.folder / "repo" / "counts.py").read_bytes()
    assert b"\r\n" in (repo / "counts.py").read_bytes()


def test_judge_catches_a_patch_that_breaks_the_files_form() -> None:
    crlf = next(k for k in ALL if k.name == "crlf-endings")
    lf_diff = "--- a/counts.py\n+++ b/counts.py\n@@ -4 +4 @@\n-    return len(words) - 1\n+    return len(words)\n"
    record = {"status": "fixed", "message": "", "final_patch": {"diff": lf_diff, "files": ["counts.py"]}}
    verdict, why = KINDS.judge(crlf, record)
    assert verdict == "wrong" and "CRLF" in why
    tabs = next(k for k in ALL if k.name == "tab-indent")
    spaced = "--- a/uniq.py\n+++ b/uniq.py\n@@ -5,0 +6 @@\n+            seen.add(item)\n"
    assert KINDS.judge(tabs, {"status": "fixed", "final_patch": {"diff": spaced, "files": ["uniq.py"]}})[0] == "wrong"
    assert KINDS.judge(tabs, {"status": "no_failure", "message": "the tests already pass"})[0] == "wrong"
