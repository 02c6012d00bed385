"""Workers that stall, die or stop while they hold a task: exactly one job owns a task, and the others write nothing.

Real `fixbot worker` processes, real Redis, real Docker, the SQLite checkpointer of the cluster.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from task_cluster import SLOW

pytestmark = [pytest.mark.redis, pytest.mark.docker, pytest.mark.slow]


def _error_writes(db: Path, thread: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM writes WHERE thread_id = ? AND channel = '__error__'",
                            (thread,)).fetchone()[0]


def test_a_paused_worker_that_wakes_up_writes_nothing_over_the_job_that_took_its_task(cluster, make_repo, tmp_path):
    paused = cluster.start_worker()
    task = cluster.submit(make_repo(tmp_path / "slow", SLOW), "negative amounts are added")
    tid = task["id"]
    cluster.wait(tid, {"running"})
    boxes = cluster.wait_containers(tid)
    (horse,) = cluster.horses(paused.pid)
    cluster.start_worker()  # the successor
    os.kill(paused.pid, signal.SIGSTOP)  # a stall longer than WORKER_LEASE_TTL (5 s here): worker and horse
    os.kill(horse, signal.SIGSTOP)
    try:
        requeued = cluster.wait_event(tid, "requeued", timeout=60)
        assert "stopped responding" in requeued["data"]["reason"]
        assert set(boxes) <= set(cluster.containers(tid)), "the sandbox of a live (paused) process is not reaped"
        deadline = time.monotonic() + 60
        while True:  # the rerun, a new job, runs the task now
            record = cluster.service.store.get(tid)
            if record["job_id"] == f"{tid}_1" and record["status"] == "running" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert record["job_id"] == f"{tid}_1" and record["status"] == "running", record
    finally:
        os.kill(horse, signal.SIGCONT)
        os.kill(paused.pid, signal.SIGCONT)
    final = cluster.wait(tid, {"awaiting_approval", "failed", "not_fixed", "timed_out"}, timeout=180)
    assert final["status"] == "awaiting_approval", final["reason"]
    assert final["job_id"] == f"{tid}_1" and final["infra_retries"] == 1
    cluster.wait_event(tid, "approval_needed", timeout=10)
    kinds = cluster.kinds(tid)
    after = kinds[kinds.index("requeued") + 1:]
    assert after[0] == "started" and "failed" not in kinds, kinds  # the woken job emitted nothing
    assert _error_writes(tmp_path / "checkpoints.sqlite", tid) == 0, "the woken job wrote no error into the thread"
    deadline = time.monotonic() + 30  # its worker stops the superseded horse and reaps that sandbox
    while set(boxes) & set(cluster.containers(tid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(boxes) & set(cluster.containers(tid))
    assert paused.poll() is None, "the worker that was paused lives on"
    assert "is job " in cluster.logs() and f"stopping job {tid}" in cluster.logs()
