"""Real-world kinds of repositories (tests/fixtures/kinds, bench/kinds.py): fixed, or a clear error naming its cause.

Each kind is a small repository shaped like ones seen in public bug reports against tools of this kind:
`python -m pytest` with imports from the root, src layouts with PYTHONPATH, `cd tests && pytest`, noisy
addopts with xdist/asyncio/hypothesis, a plugin in addopts that is not installed, unittest, runtests.py,
shell wrappers, tox, pipes, setup with `pip install -e .` and an offline wheelhouse, collection errors,
caches under ~/.cache, writes outside the sandbox, Git LFS pointers, fixtures relative to another working
directory, flaky and slow tests. The whole workflow runs in the real sandbox.
"""

from __future__ import annotations

import pytest

from agent.request import FixRequest
from agent.workflow import run_fix
from bench.kinds import judge, load_kinds, materialize

pytestmark = [pytest.mark.docker, pytest.mark.slow]

KINDS = {k.name: k for k in load_kinds()}


@pytest.mark.parametrize("name", sorted(KINDS))
async def test_kind(name, workflow_settings, tmp_path):
    kind = KINDS[name]
    repo, overrides = materialize(kind, tmp_path)
    settings = workflow_settings.model_copy(update={"docker_timeout": 120, **overrides})
    record = await run_fix(FixRequest(repo=str(repo), issue=kind.issue, test_command=kind.test,
                                      setup_command=kind.setup), settings)
    verdict, why = judge(kind, record)
    expected = "fixed" if kind.expect["status"] == "fixed" else "clear error"
    assert verdict == expected, f"{name}: {why}"
    if verdict == "fixed":
        diff = record["final_patch"]["diff"]
        # the diff holds only the edit: no cache, stamp, report or bytecode the run left in the sandbox
        assert diff.count("\n--- a/") + diff.startswith("--- a/") == len(kind.expect["diff_files"])
        assert record["baseline"]["outcomes_command"].endswith(kind.test)


FILE_FORM = {"latin1-source", "utf8-bom", "crlf-endings", "tab-indent", "undecodable-file", "two-edits"}


def test_the_corpus_has_the_file_form_kinds():
    assert FILE_FORM <= set(KINDS)


def test_materialize_keeps_bytes(tmp_path):
    crlf = KINDS["crlf-endings"]
    repo, _overrides = materialize(crlf, tmp_path)
    assert (repo / "counts.py").read_bytes() == (crlf.folder / "repo" / "counts.py").read_bytes()
    assert b"\r\n" in (repo / "counts.py").read_bytes()


def test_judge_catches_a_patch_that_breaks_the_files_form():
    lf_diff = "--- a/counts.py\n+++ b/counts.py\n@@ -4 +4 @@\n-    return len(words) - 1\n+    return len(words)\n"
    record = {"status": "fixed", "message": "", "final_patch": {"diff": lf_diff, "files": ["counts.py"]}}
    verdict, why = judge(KINDS["crlf-endings"], record)
    assert verdict == "wrong" and "CRLF" in why
    spaced = "--- a/uniq.py\n+++ b/uniq.py\n@@ -5,0 +6 @@\n+            seen.add(item)\n"
    tabs = KINDS["tab-indent"]
    assert judge(tabs, {"status": "fixed", "final_patch": {"diff": spaced, "files": ["uniq.py"]}})[0] == "wrong"
    assert judge(tabs, {"status": "no_failure", "message": "the tests already pass"})[0] == "wrong"
