"""The task commands as a person runs them: one clear line for bad ids, illegal decisions and a Redis that is down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.redis]


@pytest.fixture
def fixbot(redis_conn, tmp_path):
    kw = redis_conn.connection_pool.connection_kwargs
    env = {**os.environ, "REDIS_URL": f"redis://{kw.get('host')}:{kw.get('port')}/{kw.get('db', 0)}",
           "REDIS_PREFIX": "fxcli", "QUEUE_NAME": "fxcli", "ALLOW_LOCAL_REPOS": "true", "WORK_DIR": str(tmp_path)}

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                              env={**env, **extra}, cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)

    return run


def one_line_error(proc: subprocess.CompletedProcess, text: str, code: int = 1) -> None:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert text in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_submit_status_tasks_cancel_and_refusals(fixbot):
    proc = fixbot("submit", "--repo", "examples/gcd", "--issue", "gcd is wrong", "--idempotency-key", "k1")
    assert proc.returncode == 0, proc.stderr
    task_id = proc.stdout.strip()
    assert task_id.startswith("fx-") and "fixbot watch" in proc.stderr
    again = fixbot("submit", "--repo", "examples/gcd", "--issue", "gcd is wrong", "--idempotency-key", "k1")
    assert again.stdout.strip() == task_id and "already submitted" in again.stderr
    status = fixbot("status", task_id)
    assert status.returncode == 0 and f"{task_id}: queued" in status.stdout
    listing = fixbot("tasks")
    assert task_id in listing.stdout and "queued" in listing.stdout
    assert '"queue_depth": 1' in fixbot("status", "--json").stdout
    one_line_error(fixbot("approve", task_id), f"task {task_id} is queued: cannot approve it")
    assert fixbot("cancel", task_id).stdout.strip() == f"{task_id}: cancelled"
    one_line_error(fixbot("cancel", task_id), f"task {task_id} is already cancelled (by cli:")
    one_line_error(fixbot("reject", task_id), "cannot reject it")


@pytest.mark.parametrize("args", [["status", "fx-doesnotexist"], ["watch", "../etc/passwd"]])
def test_unknown_ids_get_one_line(fixbot, args):
    one_line_error(fixbot(*args), "no task")


def test_bad_submission_and_unreachable_redis_get_one_line(fixbot):
    one_line_error(fixbot("submit", "--repo", "ext::sh -c id", "--issue", "x"), "not a valid address", 2)
    one_line_error(fixbot("submit", "--repo", "examples/gcd", "--issue", "x", "--engine", "llm", OPENAI_API_KEY="",
                          OPENAI_BASE_URL=""), "engine llm needs a model", 2)
    for args in (["tasks"], ["submit", "--repo", "examples/gcd", "--issue", "x"], ["worker"]):
        one_line_error(fixbot(*args, REDIS_URL="redis://127.0.0.1:1/0"), "cannot reach Redis at 127.0.0.1:1")
