"""The whole workflow on real repositories in the real sandbox (Docker required)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.events import ListSink
from agent.exceptions import WorkflowError
from agent.request import FixRequest
from agent.settings import load_settings
from agent.workflow import resume_fix, run_fix

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

pytestmark = [pytest.mark.docker]





CALC = {
    "conftest.py": "",
    "calc.py": "def calculate_total(items):\n    total = 0\n    for x in items:\n        if x > 0:\n"
               "            total += x\n    return total\n",
    "tests/test_calc.py": "from calc import calculate_total\n\n\ndef test_positive():\n"
                          "    assert calculate_total([1, 2, 3]) == 6\n\n\ndef test_negative():\n"
                          "    assert calculate_total([1, -2, 3]) == 2\n",
}


@pytest.fixture
def settings(workflow_settings):
    return workflow_settings


async def test_fixes_the_seed_example_and_proves_it(settings):
    sink = ListSink()
    issue = (EXAMPLES / "calculate_total" / "ISSUE.md").read_text()
    record = await run_fix(FixRequest(repo=str(EXAMPLES / "calculate_total"), issue=issue), settings, events=sink)
    assert record["status"] == "fixed", record["message"]
    patch = record["final_patch"]
    assert patch["diff"].startswith("--- a/") and patch["filename"].endswith(".py")
    assert "tests/" not in patch["filename"]
    assert record["test_results"][-1]["success"] is True
    assert record["baseline"]["failing"], "the failure was reproduced first"
    assert set(record["phase_times"]) >= {"reproduce", "localize", "repair", "review", "test", "finalize"}
    assert record["risk"]["level"] in ("low", "medium", "high")
    assert {"reproduced", "localized", "finished"} <= {e["kind"] for e in sink.events}
    json.dumps(record)  # the record crosses process boundaries as JSON


async def test_tests_already_green(make_repo, settings, tmp_path):
    files = {**CALC, "calc.py": CALC["calc.py"].replace("if x > 0:", "if True:")}
    repo = make_repo(tmp_path / "green", files)
    record = await run_fix(FixRequest(repo=str(repo), issue="totals are wrong"), settings)
    assert record["status"] == "no_failure"
    assert "already pass" in record["message"]
    assert record["final_patch"] is None


async def test_syntax_error_in_the_repo_is_reported_not_fixed(make_repo, settings, tmp_path):
    repo = make_repo(tmp_path / "broken", {**CALC, "calc.py": "def calculate_total(items)\n    return 0\n"})
    record = await run_fix(FixRequest(repo=str(repo), issue="it does not even import"), settings)
    assert record["status"] == "error"
    assert record["final_patch"] is None
    # a module that does not import is a collection error, reported apart from test failures
    assert record["baseline"]["failing"] == []
    assert [e["id"] for e in record["baseline"]["collection_errors"]] == ["tests/test_calc.py"]
    assert "could not be collected" in record["message"] and "tests/test_calc.py" in record["message"]
    assert "SyntaxError" in record["message"] and "does not parse" in record["message"]


async def test_missing_test_command(make_repo, settings, tmp_path):
    repo = make_repo(tmp_path / "calc", CALC)
    record = await run_fix(FixRequest(repo=str(repo), issue="x", test_command="no-such-runner -q"), settings)
    assert record["status"] == "error"
    assert "could not be run" in record["message"]


async def test_hanging_test_is_reported(make_repo, settings, tmp_path):
    files = {**CALC, "tests/test_hang.py": "def test_hang():\n    while True:\n        pass\n"}
    repo = make_repo(tmp_path / "hang", files)
    quick = settings.model_copy(update={"docker_timeout": 5})
    record = await run_fix(FixRequest(repo=str(repo), issue="x"), quick)
    assert record["status"] == "error"
    assert "did not finish" in record["message"]


async def test_a_bug_that_makes_a_test_loop_forever_is_fixed(make_repo, settings, tmp_path):
    """The hang is the bug: the runner stops the test after TEST_TIMEOUT and the search fixes the loop."""
    files = {
        "conftest.py": "",
        "bits.py": "def bitcount(n):\n    count = 0\n    while n:\n        n ^= n - 1\n        count += 1\n"
                   "    return count\n",
        "tests/test_bits.py": "from bits import bitcount\n\n\ndef test_zero():\n    assert bitcount(0) == 0\n\n\n"
                              "def test_seven():\n    assert bitcount(7) == 3\n",
    }
    repo = make_repo(tmp_path / "loop", files)
    sink = ListSink()
    quick = settings.model_copy(update={"test_timeout": 2})
    record = await run_fix(FixRequest(repo=str(repo), issue="bitcount never returns for 7"), quick, events=sink)
    assert record["status"] == "fixed", record["message"]
    assert record["baseline"]["failing"] == ["tests/test_bits.py::test_seven"]
    assert record["baseline"]["timed_out"] is True
    assert "+        n &= n - 1" in record["final_patch"]["diff"]
    reproduced = [e for e in sink.events if e["kind"] == "reproduced"][0]
    # a suspected hang is believed only after a rerun with a longer limit (3 x TEST_TIMEOUT)
    assert ("1 of them hanging (stopped after 2 s, and again after 6 s; if they are only slow, raise TEST_TIMEOUT)"
            in reproduced["message"])
    assert record["elapsed"] < quick.docker_timeout  # each baseline run paid TEST_TIMEOUT for the hang, not this


async def test_not_fixable_within_budget(make_repo, settings, tmp_path):
    # The fix needs two coordinated edits; single-edit candidates cannot make both tests pass.
    files = {
        "conftest.py": "",
        "shop.py": "def price(n):\n    return n * 3\n\n\ndef tax(n):\n    return n * 7\n",
        "tests/test_shop.py": "from shop import price, tax\n\n\ndef test_price():\n    assert price(2) == 10\n\n\n"
                              "def test_tax():\n    assert tax(2) == 42\n",
    }
    repo = make_repo(tmp_path / "shop", files)
    small = settings.model_copy(update={"repair_max_candidates": 150})
    record = await run_fix(FixRequest(repo=str(repo), issue="price and tax are wrong"), small)
    assert record["status"] == "not_fixed"
    assert record["candidates_tried"] > 0
    assert "no plausible patch" in record["message"]


def test_resume_after_kill(make_repo, settings, tmp_path):
    """A SIGKILLed run continues from its last finished node, without reproducing again."""
    repo = make_repo(tmp_path / "calc", CALC)
    env = {**os.environ, "ALLOW_LOCAL_REPOS": "true", "SANDBOX_IMAGE": settings.sandbox_image,
           "CHECKPOINT_DB": str(settings.checkpoint_db), "WORK_DIR": str(settings.work_dir), "KEEP_WORKDIR": "true",
           "DOCKER_MAX_CPU": "1.0"}
    task_id = "fx-resume-test"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "fix", "--repo", str(repo), "--issue", "negative totals wrong",
         "--task-id", task_id], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.monotonic() + 60
    killed_after = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            nodes = _finished_nodes(settings.checkpoint_db, task_id)
            if "reproduce" in nodes:
                proc.send_signal(signal.SIGKILL)
                killed_after = nodes
                break
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    assert killed_after is not None, "the run ended before a checkpoint could be observed"
    assert "finalize" not in killed_after
    sink = ListSink()
    import asyncio

    record = asyncio.run(resume_fix(task_id, settings.model_copy(update={"keep_workdir": False}), events=sink))
    assert record["status"] == "fixed"
    kinds = [e["kind"] for e in sink.events]
    assert "reproduced" not in kinds, "the finished reproduce node was not run again"
    with pytest.raises(WorkflowError, match=r"already ended \(fixed\); there is nothing to resume"):
        asyncio.run(resume_fix(task_id, settings))
    with pytest.raises(WorkflowError, match="no task 'fx-never-ran'"):
        asyncio.run(resume_fix("fx-never-ran", settings))


def _finished_nodes(db: Path, task_id: str) -> set[str]:
    """Nodes whose results are checkpointed, read through LangGraph's own API."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from agent.graph.build import build_graph
    from agent.graph.deps import Deps

    if not Path(db).exists():
        return set()
    try:
        with SqliteSaver.from_conn_string(str(db)) as saver:
            graph = build_graph(Deps(settings=load_settings(_env_file=None), sandboxes=None), checkpointer=saver)
            history = list(graph.get_state_history({"configurable": {"thread_id": task_id}}))
    except sqlite3.Error:
        return set()
    done: set[str] = set()
    for snap in history:
        writes = (snap.metadata or {}).get("writes") or {}
        done |= set(writes)
        if snap.values.get("baseline"):
            done.add("reproduce")
    return done
