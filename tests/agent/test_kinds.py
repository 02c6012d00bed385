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
