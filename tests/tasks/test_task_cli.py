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


@pytest.fixture
def cli_service(redis_conn):
    """The service the CLI builds (same prefix and queue), in this process."""
    from agent.settings import load_settings
    from agent.tasks.service import TaskService

    settings = load_settings(_env_file=None, redis_prefix="fxcli", queue_name="fxcli", allow_local_repos=True)
    return TaskService.from_settings(settings, conn=redis_conn)


def _proposed(svc) -> str:
    from agent.request import FixRequest

    record, _ = svc.submit(FixRequest(repo=str(ROOT / "examples" / "gcd"), issue="gcd is wrong"),
                           {"kind": "cli", "user": "cli:someone"})
    svc.store.transition(record["id"], "running")
    svc.store.transition(record["id"], "awaiting_approval")
    return record["id"]


@pytest.mark.parametrize("url", ["notaurl", "?x=1", "redis://127.0.0.1:6379/0?x=1", "redis://127.0.0.1:6379/abc",
                                 "redis://u:secret@127.0.0.1:99999/0"])
def test_a_malformed_redis_url_gets_one_line(fixbot, url):
    for args in (["tasks"], ["status", "fx-1"], ["submit", "--repo", "examples/gcd", "--issue", "x"], ["worker"]):
        proc = fixbot(*args, REDIS_URL=url)
        one_line_error(proc, "is not a usable Redis URL", 2)
        assert "secret" not in proc.stderr and "internal error" not in proc.stderr


def test_tasks_limit(fixbot, cli_service):
    first, second = _proposed(cli_service), _proposed(cli_service)
    for bad in ("0", "-1", "201"):
        one_line_error(fixbot("tasks", "--limit", bad), "--limit must be between 1 and 200", 2)
    shown = fixbot("tasks", "--limit", "1")
    assert shown.returncode == 0 and second in shown.stdout and first not in shown.stdout


def test_reject_retry_needs_no_feedback_and_a_cancelled_task_says_so(fixbot, cli_service):
    task_id = _proposed(cli_service)
    proc = fixbot("reject", task_id, "--retry")
    assert proc.returncode == 0 and proc.stdout.strip() == f"{task_id}: queued again to look for another patch"
    record = cli_service.store.get(task_id)
    assert record["status"] == "queued" and record["decision"]["action"] == "retry"
    assert record["decision"]["feedback"] is None and record["decision"]["by"].startswith("cli:")
    assert fixbot("cancel", task_id).returncode == 0
    one_line_error(fixbot("reject", task_id, "--retry", "--feedback", "again"),
                   f"task {task_id} is cancelled (by cli:")
    assert "cannot reject it" in fixbot("reject", task_id, "--retry").stderr


def test_an_idempotency_key_is_the_operators_and_refuses_another_request(fixbot):
    submit = ["submit", "--repo", "examples/gcd", "--idempotency-key", "nightly-1"]
    first = fixbot(*submit, "--issue", "gcd is wrong", USER="ann", LOGNAME="ann")
    assert first.returncode == 0, first.stderr
    again = fixbot(*submit, "--issue", "gcd is wrong", USER="ann", LOGNAME="ann")
    assert again.stdout == first.stdout and "already submitted" in again.stderr
    one_line_error(fixbot(*submit, "--issue", "something else", USER="ann", LOGNAME="ann"),
                   "the idempotency key was already used for another request", code=2)  # a usage error
    other = fixbot(*submit, "--issue", "something else", USER="bob", LOGNAME="bob")
    assert other.returncode == 0 and other.stdout.strip() not in ("", first.stdout.strip())


def test_watch_says_the_queue_position_and_the_outcome_once(fixbot, cli_service):
    from agent.jobs import record_outcome
    from agent.request import FixRequest
    from agent.tasks.states import TaskStatus
    from agent.workflow import result_record

    request = FixRequest(repo=str(ROOT / "examples" / "gcd"), issue="gcd is wrong")
    ahead, _ = cli_service.submit(request, {"kind": "cli", "user": "cli:someone"})
    record, _ = cli_service.submit(request, {"kind": "cli", "user": "cli:someone"})
    task_id = record["id"]
    cli_service.store.transition(task_id, "running")
    message = "no candidate patch passed the tests (tried 12)"
    result = result_record(task_id, {"status": "not_fixed", "message": message, "candidates_tried": 12})
    assert record_outcome(cli_service, task_id, TaskStatus.RUNNING, result)["status"] == "not_fixed"
    watched = fixbot("watch", task_id)
    assert watched.returncode == 1, watched.stderr
    assert "queued (engine search, position 2 in the queue)" in watched.stderr
    assert (watched.stdout + watched.stderr).count(message) == 1, watched.stdout + watched.stderr
    assert f"{task_id}: not_fixed" in watched.stdout


def test_the_cli_user_is_the_operator_and_not_held_to_the_chat_approval_rules(fixbot, cli_service):
    proc = fixbot("submit", "--repo", "examples/gcd", "--issue", "gcd is wrong", USER="ann", LOGNAME="ann")
    task_id = proc.stdout.strip()
    cli_service.store.transition(task_id, "running")
    cli_service.store.transition(task_id, "awaiting_approval", fields={"risk": {"level": "high", "reasons": []}})
    # A chat user would need to be in APPROVERS, and could never approve their own high-risk patch.
    approved = fixbot("approve", task_id, USER="ann", LOGNAME="ann", APPROVERS="U9", SELF_APPROVAL="false")
    assert approved.returncode == 0, approved.stderr
    record = cli_service.store.get(task_id)
    assert record["origin"]["user"] == "cli:ann" and record["decision"]["by"] == "cli:ann"
