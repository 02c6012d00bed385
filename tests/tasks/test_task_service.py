"""TaskService against a real Redis and rq queue (no worker: the jobs it enqueues are inspected)."""

from __future__ import annotations

import re

import pytest
from rq.job import Job

from agent.exceptions import InvalidRequest
from agent.request import FixRequest
from agent.tasks.exceptions import DuplicateDecision, IllegalTransition

pytestmark = [pytest.mark.redis]
REQ = FixRequest(repo="https://github.com/acme/shop", issue="totals are wrong")
ORIGIN = {"kind": "slack", "team": "T1", "channel": "C1", "user": "U1", "thread_ts": "1.1"}


def waiting(service):
    record, _ = service.submit(REQ, ORIGIN)
    service.store.transition(record["id"], "running")
    service.store.transition(record["id"], "awaiting_approval")
    return record["id"]


def test_submit_validates_creates_enqueues_and_emits(service):
    record, created = service.submit(REQ, ORIGIN, idempotency_key="slack:T1:trigger-1")
    assert created and record["status"] == "queued" and record["job_id"] == record["id"]
    job = Job.fetch(record["id"], connection=service.queue.connection)
    assert job.func_name == "agent.jobs.run_task" and job.args == (record["id"],)
    assert job.retries_left is None, "no rq Retry: only TaskService.hand_back reruns a task, as a new job"
    assert job.timeout == int(service.settings.job_timeout)
    assert service.queue.job_ids == [record["id"]]
    assert [e["kind"] for e in service.events.replay(record["id"])] == ["queued"]
    again, created_again = service.submit(REQ, ORIGIN, idempotency_key="slack:T1:trigger-1")
    assert not created_again and again["id"] == record["id"] and service.queue.count == 1


@pytest.mark.parametrize(("request_", "origin", "message"), [
    (FixRequest(repo="https://evil.example/x", issue="x"), ORIGIN, "not on the allowlist"),
    (FixRequest(repo="https://github.com/acme/shop", issue=" "), ORIGIN, "issue description is empty"),
    (REQ, {"channel": "C1"}, "origin must say which face asked"),
])
def test_bad_submissions_are_refused_before_anything_is_stored(service, request_, origin, message):
    with pytest.raises(InvalidRequest, match=message):
        service.submit(request_, origin)
    assert service.store.recent()[0] == [] and service.queue.count == 0


def test_approve_once_then_double_click_is_refused(service):
    task_id = waiting(service)
    record = service.approve(task_id, by="U2")
    assert record["status"] == "approved" and record["decision"]["by"] == "U2"
    assert record["job_id"] == f"{task_id}_1"
    assert Job.fetch(record["job_id"], connection=service.queue.connection).func_name == "agent.jobs.resume_task"
    with pytest.raises(DuplicateDecision, match="already approved"):
        service.approve(task_id, by="U3")
    assert service.queue.count == 2  # the run job never ran (no worker) and one resume job
    kinds = [e["kind"] for e in service.events.replay(task_id)]
    assert kinds.count("decision") == 1


def test_reject_and_reject_with_feedback(service):
    plain = waiting(service)
    assert service.reject(plain, by="U2")["status"] == "rejected"
    with pytest.raises(IllegalTransition, match="is rejected"):
        service.approve(plain, by="U2")
    again = waiting(service)
    record = service.reject(again, by="U2", feedback="  do not touch the rounding  ", retry=True)
    assert record["status"] == "queued"
    assert record["decision"] == {**record["decision"], "action": "retry", "feedback": "do not touch the rounding"}


def test_cancel_a_queued_task_takes_its_job_off_the_queue(service):
    record, _ = service.submit(REQ, ORIGIN)
    cancelled = service.cancel(record["id"], by="U7")
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_by"] == "U7"
    assert service.queue.count == 0
    assert service.events.replay(record["id"])[-1]["data"] == {"by": "U7", "was": "queued"}
    with pytest.raises(IllegalTransition, match=r"is cancelled \(by U7 at .*\): cannot approve it"):
        service.approve(record["id"], by="U2")


def test_a_refusal_names_the_current_status_not_an_earlier_decision(service):
    approved = waiting(service)
    service.approve(approved, by="alice")
    service.cancel(approved, by="bob")
    with pytest.raises(IllegalTransition) as refused:
        service.approve(approved, by="alice")
    assert type(refused.value) is IllegalTransition, "not a duplicate: the task is cancelled now"
    assert re.fullmatch(rf"task {approved} is cancelled \(by bob at \d\d:\d\d UTC\): cannot approve it",
                        str(refused.value)), str(refused.value)
    retried = waiting(service)
    service.reject(retried, by="alice", feedback="not like this", retry=True)
    service.cancel(retried, by="bob")
    with pytest.raises(IllegalTransition, match=rf"^task {retried} is cancelled \(by bob at .*\): cannot reject it$"):
        service.reject(retried, by="alice", retry=True)
    published = waiting(service)
    service.approve(published, by="alice")
    for status in ("publishing", "published"):
        service.store.transition(published, status)
    with pytest.raises(DuplicateDecision, match=r"is already approved \(by alice at .*\) and published"):
        service.approve(published, by="carol")


def test_retry_makes_a_new_task_from_a_finished_one(service):
    record, _ = service.submit(REQ, ORIGIN)
    with pytest.raises(IllegalTransition, match="only a finished task"):
        service.retry(record["id"], by="U1")
    service.store.transition(record["id"], "running")
    service.store.transition(record["id"], "not_fixed")
    new, created = service.retry(record["id"], by="U5")
    assert created and new["retry_of"] == record["id"] and new["origin"]["user"] == "U5"
    assert service.retry(record["id"], by="U5")[0]["id"] == new["id"]
