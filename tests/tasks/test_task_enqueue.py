"""A status change and the job it needs are one MULTI, and the watchdog gives a job to a waiting task that has none.

Real Redis and rq (the enqueue is made to fail by a dropped connection, as a Redis that goes away between the
record's write and the job's would); the last test runs a real `fixbot worker` on the task it recovered.
"""

from __future__ import annotations

import time

import pytest
import redis
from rq.job import Job

from agent.request import FixRequest
from agent.tasks.exceptions import StoreUnavailable

pytestmark = [pytest.mark.redis]
REQ = FixRequest(repo="https://github.com/acme/shop", issue="totals are wrong")
ORIGIN = {"kind": "cli", "user": "U1"}


def fail_once(service, monkeypatch):
    """The next enqueue raises ConnectionError (inside the store's MULTI, before EXEC); later ones work."""
    real = service.queue.enqueue_call
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise redis.ConnectionError("Connection closed by server.")
        return real(*args, **kwargs)

    monkeypatch.setattr(service.queue, "enqueue_call", flaky)
    return calls


def waiting(service):
    record, _ = service.submit(REQ, ORIGIN)
    service.store.transition(record["id"], "running", job=record["job_id"])
    service.store.transition(record["id"], "awaiting_approval", job=record["job_id"])
    return record["id"]


def test_a_failed_enqueue_leaves_no_task_and_a_resubmission_gets_a_job(service, monkeypatch):
    calls = fail_once(service, monkeypatch)
    with pytest.raises(StoreUnavailable, match="cannot reach Redis"):
        service.submit(REQ, ORIGIN, idempotency_key="stuck-1")
    assert calls["n"] == 1
    assert service.store.recent()[0] == [] and service.store.ids_in("queued") == []
    assert service.queue.count == 0 and service.queue.connection.keys("rq:job:*") == []
    record, created = service.submit(REQ, ORIGIN, idempotency_key="stuck-1")
    assert created, "the key was not taken by the submission that failed"
    job = Job.fetch(record["job_id"], connection=service.queue.connection)
    assert job.func_name == "agent.jobs.run_task" and job.get_status() == "queued"
    assert service.queue.job_ids == [record["job_id"]]
    again, created = service.submit(REQ, ORIGIN, idempotency_key="stuck-1")
    assert not created and again["id"] == record["id"] and service.queue.count == 1


def test_a_failed_enqueue_at_approval_keeps_the_task_waiting_for_a_decision(service, monkeypatch):
    task_id = waiting(service)
    before = service.queue.job_ids
    fail_once(service, monkeypatch)
    with pytest.raises(StoreUnavailable):
        service.approve(task_id, by="U2")
    record = service.store.get(task_id)
    assert record["status"] == "awaiting_approval" and record["decision"] is None
    assert service.queue.job_ids == before
    assert "decision" not in [e["kind"] for e in service.events.replay(task_id)]
    approved = service.approve(task_id, by="U2")  # the second click is not "already approved"
    assert approved["status"] == "approved" and approved["job_id"] == f"{task_id}_1"
    assert Job.fetch(approved["job_id"], connection=service.queue.connection).func_name == "agent.jobs.resume_task"
    assert service.queue.job_ids[-1] == approved["job_id"]


def test_a_failed_enqueue_at_rejection_with_retry_changes_nothing(service, monkeypatch):
    task_id = waiting(service)
    fail_once(service, monkeypatch)
    with pytest.raises(StoreUnavailable):
        service.reject(task_id, by="U2", feedback="not like this", retry=True)
    assert service.store.get(task_id)["status"] == "awaiting_approval"
    assert service.reject(task_id, by="U2", feedback="not like this", retry=True)["status"] == "queued"


def _lose_job(conn, job_id):
    """The job vanishes (a Redis restored from an old snapshot, a FLUSH of rq's keys, a queue emptied by hand)."""
    Job.fetch(job_id, connection=conn).delete()


def test_the_watchdog_gives_a_new_job_to_waiting_tasks_whose_job_is_missing(worker_service):
    from agent.worker import Watchdog

    svc = worker_service
    conn = svc.store.conn
    lost, _ = svc.submit(REQ, ORIGIN)
    kept, _ = svc.submit(FixRequest(repo=REQ.repo, issue="another bug"), ORIGIN)
    approved_id = waiting(svc)
    approved = svc.approve(approved_id, by="U2")
    later, _ = svc.submit(FixRequest(repo=REQ.repo, issue="a third bug"), ORIGIN)
    svc.store.update(later["id"], {"retry_at": time.time() + 3600})  # waiting out a checkpoint outage
    for job_id in (lost["job_id"], approved["job_id"], later["job_id"]):
        _lose_job(conn, job_id)
    done = Watchdog(svc.settings, "test").check()
    assert sorted(done["requeued"]) == sorted([lost["id"], approved_id])
    relost = svc.store.get(lost["id"])
    assert relost["status"] == "queued" and relost["job_id"] == f"{lost['id']}_1"
    assert Job.fetch(relost["job_id"], connection=conn).func_name == "agent.jobs.run_task"
    reapproved = svc.store.get(approved_id)
    assert reapproved["status"] == "approved" and reapproved["decision"]["by"] == "U2"
    assert reapproved["job_id"] == f"{approved_id}_2"
    assert Job.fetch(reapproved["job_id"], connection=conn).func_name == "agent.jobs.resume_task"
    assert svc.store.get(kept["id"])["job_id"] == kept["job_id"], "a task whose job is queued is left alone"
    assert svc.store.get(later["id"])["job_id"] == later["job_id"], "a task waiting for its retry time waits"
    ran = approved_id  # its first job, which no worker took in this test
    assert set(svc.queue.job_ids) == {ran, kept["job_id"], relost["job_id"], reapproved["job_id"]}
    assert Watchdog(svc.settings, "test").check()["requeued"] == [], "one new job each, not one per pass"


@pytest.mark.docker
@pytest.mark.slow
def test_a_resubmission_after_a_failed_enqueue_and_a_task_whose_job_was_lost_both_run(cluster, monkeypatch):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    svc = cluster.service
    request = FixRequest(repo=str(examples / "calculate_total"), issue="negative amounts are added")
    fail_once(svc, monkeypatch)
    with pytest.raises(StoreUnavailable):
        svc.submit(request, ORIGIN, idempotency_key="stuck-1")
    resubmitted, created = svc.submit(request, ORIGIN, idempotency_key="stuck-1")
    assert created
    lost = cluster.submit(examples / "gcd")
    _lose_job(svc.store.conn, lost["job_id"])
    assert svc.queue.job_ids == [resubmitted["job_id"]]
    cluster.start_worker()
    for task_id in (resubmitted["id"], lost["id"]):
        record = cluster.wait(task_id, {"awaiting_approval", "failed"}, timeout=180)
        assert record["status"] == "awaiting_approval", record["reason"]
    assert svc.store.get(lost["id"])["job_id"] == f"{lost['id']}_1"
    assert "was queued without a job" in cluster.logs()
