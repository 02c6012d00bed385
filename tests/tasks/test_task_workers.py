"""Real worker processes (`fixbot worker`), real Redis, real Docker: tasks run, pause, resume, die and come back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq.job import Job
from task_cluster import SLOW

from agent.tasks.exceptions import DuplicateDecision, IllegalTransition

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
pytestmark = [pytest.mark.redis, pytest.mark.docker, pytest.mark.slow]

def test_tasks_across_two_worker_processes_all_finish_with_records_and_events(cluster):
    cluster.start_worker("--pool", "2")  # rq's WorkerPool: two worker processes
    names = ["calculate_total", "gcd", "in_range", "count_vowels"]
    tasks = [cluster.submit(EXAMPLES / name) for name in names]
    workers = set()
    for task in tasks:
        record = cluster.wait(task["id"], {"awaiting_approval"}, timeout=180)
        cluster.wait_event(task["id"], "approval_needed", timeout=10)  # emitted just after the status changes
        assert record["result"]["status"] == "fixed" and record["result"]["final_patch"]["diff"]
        assert record["started_at"] and record["proposed_at"] and record["risk"]["level"]
        assert record["progress"]["candidates_tried"] >= 1
        kinds = cluster.kinds(task["id"])
        assert kinds[:2] == ["queued", "started"] and kinds[-2:] == ["proposed", "approval_needed"]
        assert {"reproduced", "localized", "proof", "finished"} <= set(kinds)
        proposed = cluster.service.events.replay(task["id"])[-2]["data"]
        assert proposed["final_patch"]["diff"] == record["result"]["final_patch"]["diff"]
        workers.add(Job.fetch(task["id"], connection=cluster.service.store.conn).worker_name)
    assert len(workers) == 2, "both worker processes took tasks"
    assert cluster.containers(tasks[0]["id"]) == [], "the sandbox is released while the task waits"
    watched = subprocess.run([sys.executable, "-m", "agent.cli", "watch", tasks[0]["id"]], capture_output=True,
                             text=True, env=cluster.env, timeout=120, stdin=subprocess.DEVNULL)
    assert watched.returncode == 0, watched.stderr
    assert "patch proposed" in watched.stderr and "+++ b/calc.py" in watched.stdout
    assert f"fixbot approve {tasks[0]['id']}" in watched.stdout


def test_decisions_resume_on_another_worker_process(cluster):
    first = cluster.start_worker()
    a = cluster.submit(EXAMPLES / "calculate_total")
    b = cluster.submit(EXAMPLES / "calculate_total")
    c = cluster.submit(EXAMPLES / "calculate_total")
    d = cluster.submit(EXAMPLES / "gcd")
    for task in (a, b, c, d):
        cluster.wait(task["id"], {"awaiting_approval"})
    first.send_signal(signal.SIGTERM)  # warm shutdown: it is idle, so it exits
    assert first.wait(timeout=30) == 0
    cluster.start_worker()  # another process resumes the threads checkpointed by the first
    svc = cluster.service
    svc.approve(a["id"], by="U2")
    with pytest.raises(DuplicateDecision, match="already approved"):
        svc.approve(a["id"], by="U3")  # a double click resumes once
    published = cluster.wait(a["id"], {"published", "failed"})
    assert published["status"] == "published", published["reason"]
    patch = published["publication"]["patch"]
    assert patch.startswith("From ") and "Approved-by: U2" in patch
    assert published["publication"]["base_commit"] is None, "a copied working tree has no commit to name"
    cluster.wait_event(a["id"], "published", timeout=10)  # events follow the status change
    assert cluster.kinds(a["id"]).count("resumed") == 1 and cluster.kinds(a["id"])[-1] == "published"
    svc.reject(b["id"], by="U2", feedback="no", retry=False)
    assert cluster.wait(b["id"], {"rejected"})["decision"]["action"] == "reject"
    rejected_diff = svc.store.get(c["id"])["result"]["final_patch"]["diff"]
    svc.reject(c["id"], by="U4", feedback="refunds must be subtracted", retry=True)
    again = cluster.wait(c["id"], {"awaiting_approval"}, timeout=180)  # the search has more plausible patches
    assert again["decision"]["feedback"] == "refunds must be subtracted"
    assert again["result"]["final_patch"]["diff"] != rejected_diff
    deadline = time.monotonic() + 10
    while cluster.kinds(c["id"]).count("proposed") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cluster.kinds(c["id"]).count("proposed") == 2
    svc.cancel(d["id"], by="U5")
    with pytest.raises(IllegalTransition, match=r"is cancelled \(by U5 at"):
        svc.approve(d["id"], by="U2")  # approve after cancel


def test_a_sigkilled_worker_is_noticed_its_sandbox_reaped_and_its_task_rerun(cluster, make_repo, tmp_path):
    doomed = cluster.start_worker()
    repo = make_repo(tmp_path / "slow", SLOW)
    task = cluster.submit(repo, "negative amounts are added")
    cluster.wait(task["id"], {"running"})
    deadline = time.monotonic() + 60
    while not cluster.containers(task["id"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftovers = cluster.containers(task["id"])
    assert leftovers, "the task's sandbox was started"
    cluster.start_worker()
    os.kill(doomed.pid, signal.SIGKILL)  # the worker's main process only: its horse must die with it
    killed = time.time()
    requeued = cluster.wait_event(task["id"], "requeued", timeout=60)
    assert requeued["at"] - killed < 60
    assert "stopped responding (killed or crashed)" in requeued["data"]["reason"]
    assert not set(leftovers) & set(cluster.containers(task["id"])), "the dead worker's containers are gone"
    final = cluster.wait(task["id"], {"awaiting_approval", "failed"}, timeout=180)
    assert final["status"] == "awaiting_approval", final["reason"]
    assert final["infra_retries"] == 1 and cluster.kinds(task["id"]).count("started") == 2


def test_a_task_whose_worker_dies_twice_fails_with_a_reason(cluster, make_repo, tmp_path):
    cluster.env["TASK_INFRA_RETRIES"] = "0"
    doomed = cluster.start_worker()
    task = cluster.submit(make_repo(tmp_path / "slow", SLOW), "negative amounts are added")
    cluster.wait(task["id"], {"running"})
    cluster.wait_containers(task["id"])  # the checkout is made before the sandbox starts
    checkout = tmp_path / "work" / task["id"]
    assert checkout.is_dir()
    cluster.start_worker()
    os.kill(doomed.pid, signal.SIGKILL)
    record = cluster.wait(task["id"], {"failed"}, timeout=60)
    assert "stopped responding" in record["reason"] and "giving up" in record["reason"]
    assert cluster.wait_event(task["id"], "failed", timeout=10)["data"]["reason"] == record["reason"]
    assert checkout.is_dir(), "the dead worker's checkout is still there"
    cluster.start_worker()  # a worker that starts removes checkouts of finished tasks
    deadline = time.monotonic() + 60
    while checkout.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not checkout.exists()


def test_cancel_a_running_task_stops_it_and_removes_its_sandbox(cluster, make_repo, tmp_path):
    cluster.start_worker()
    task = cluster.submit(make_repo(tmp_path / "slow", SLOW), "negative amounts are added")
    cluster.wait(task["id"], {"running"})
    deadline = time.monotonic() + 60
    while not cluster.containers(task["id"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cluster.containers(task["id"])
    record = cluster.service.cancel(task["id"], by="U8")
    assert record["status"] == "cancelled"
    job = Job.fetch(task["id"], connection=cluster.service.store.conn)
    deadline = time.monotonic() + 30
    while (job.get_status() != "stopped" or cluster.containers(task["id"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.get_status() == "stopped" and cluster.containers(task["id"]) == []
    assert cluster.service.store.get(task["id"])["status"] == "cancelled"
    assert cluster.service.events.replay(task["id"])[-1]["data"]["by"] == "U8"


def test_wall_clock_limit_times_the_task_out_with_what_it_tried(cluster, make_repo, tmp_path):
    cluster.start_worker(TASK_TIME_LIMIT="4")
    task = cluster.submit(make_repo(tmp_path / "slow", SLOW), "negative amounts are added")
    record = cluster.wait(task["id"], {"timed_out", "awaiting_approval", "failed"})
    assert record["status"] == "timed_out", record
    assert "time limit of 4 s" in record["reason"] and "it had tried 0 candidate patch(es)" in record["reason"]
    deadline = time.monotonic() + 20
    while cluster.containers(task["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.containers(task["id"]) == []


def test_sigterm_finishes_the_running_task_and_a_second_one_hands_it_back(cluster, make_repo, tmp_path):
    warm = cluster.start_worker()
    task = cluster.submit(make_repo(tmp_path / "slow", SLOW), "negative amounts are added")
    cluster.wait(task["id"], {"running"})
    warm.send_signal(signal.SIGTERM)  # warm shutdown: the task finishes first
    assert warm.wait(timeout=120) == 0
    assert cluster.service.store.get(task["id"])["status"] == "awaiting_approval"

    cold = cluster.start_worker()
    other = cluster.submit(make_repo(tmp_path / "slow2", SLOW), "negative amounts are added")
    cluster.wait(other["id"], {"running"})
    cold.send_signal(signal.SIGTERM)
    time.sleep(1.5)  # rq ignores a repeated signal within a second
    cold.send_signal(signal.SIGTERM)  # cold shutdown: the horse is killed, the task goes back at once
    cold.wait(timeout=30)
    requeued = cluster.wait_event(other["id"], "requeued", timeout=10)
    assert requeued["data"]["reason"] == "its worker was shut down"
    assert cluster.service.store.get(other["id"])["status"] == "queued"
    cluster.start_worker()
    assert cluster.wait(other["id"], {"awaiting_approval", "failed"}, timeout=120)["status"] == "awaiting_approval"


def test_a_work_horse_killed_alone_is_retried_by_rq(cluster, make_repo, tmp_path):
    worker = cluster.start_worker()
    task = cluster.submit(make_repo(tmp_path / "slow", SLOW), "negative amounts are added")
    cluster.wait(task["id"], {"running"})
    horse = cluster.horses(worker.pid)  # `fixbot worker` forks one work horse per job
    assert len(horse) == 1
    os.kill(horse[0], signal.SIGKILL)  # as the OOM killer would
    requeued = cluster.wait_event(task["id"], "requeued", timeout=30)
    assert "killed (SIGKILL; out of memory?)" in requeued["data"]["reason"]
    final = cluster.wait(task["id"], {"awaiting_approval", "failed"}, timeout=180)
    assert final["status"] == "awaiting_approval", final["reason"]
    assert final["infra_retries"] == 1 and cluster.kinds(task["id"]).count("started") == 2
    assert worker.poll() is None, "the worker itself lives on"


@pytest.mark.parametrize("grace", ["0", "2"])
def test_sigterm_hands_the_task_back_when_it_cannot_finish_within_the_grace(cluster, make_repo, tmp_path, grace):
    worker = cluster.start_worker(WORKER_SHUTDOWN_GRACE=grace)
    task = cluster.submit(make_repo(tmp_path / "slow", SLOW), "negative amounts are added")
    cluster.wait(task["id"], {"running"})
    cluster.wait_containers(task["id"])  # reproducing takes longer than the grace
    worker.send_signal(signal.SIGTERM)  # once, as `docker-compose stop` does
    signalled = time.monotonic()
    assert worker.wait(timeout=60) == 0
    took = time.monotonic() - signalled
    assert took < 30, f"the worker took {took:.1f} s to stop: compose's SIGKILL (stop_grace_period) would come first"
    requeued = cluster.wait_event(task["id"], "requeued", timeout=10)
    assert requeued["data"] == {"reason": "its worker was shut down", "retry": None}
    record = cluster.service.store.get(task["id"])
    assert record["status"] == "queued" and record["infra_retries"] == 0
    assert "cannot finish within WORKER_SHUTDOWN_GRACE" in cluster.logs() or grace == "0"
    cluster.start_worker()
    final = cluster.wait(task["id"], {"awaiting_approval", "failed"}, timeout=180)
    assert final["status"] == "awaiting_approval", final["reason"]
    assert final["infra_retries"] == 0
