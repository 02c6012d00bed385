"""The job functions (agent.jobs) called in this process on the real Redis: what a job's claim writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import jobs
from agent.request import FixRequest
from agent.settings import get_settings

pytestmark = [pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("decision", ["approve", "retry"])
def test_a_resumed_task_does_not_show_the_previous_runs_phase(worker_service, monkeypatch, tmp_path, decision):
    monkeypatch.setenv("CHECKPOINT_DB", str(tmp_path / "checkpoints.sqlite"))  # empty: the resume fails early
    monkeypatch.setenv("WORK_DIR", str(tmp_path / "work"))
    get_settings.cache_clear()
    svc = worker_service
    record, _ = svc.submit(FixRequest(repo=str(ROOT / "examples" / "gcd"), issue="gcd is wrong"),
                           {"kind": "cli", "user": "u"})
    task_id = record["id"]
    svc.store.transition(task_id, "running")
    waiting = {"phase": "awaiting_approval", "text": "a patch is proven", "candidates_tried": 40, "attempts": 0}
    svc.store.transition(task_id, "awaiting_approval", fields={"progress": waiting})
    if decision == "approve":
        svc.approve(task_id, by="U2")
    else:
        svc.reject(task_id, by="U2", retry=True)
    seen = []
    real = svc.store.transition

    def spy(*args, **kwargs):
        new = real(*args, **kwargs)
        seen.append((new["status"], new["progress"]["phase"]))
        return new

    monkeypatch.setattr(svc.store, "transition", spy)
    job_id = svc.store.get(task_id)["job_id"]  # the resume job's id, as rq would give it to the job
    monkeypatch.setattr(jobs, "_job_id", lambda: job_id)
    outcome = jobs.resume_task(task_id)
    assert outcome["status"] == "failed" and "no checkpoint waiting for a decision" in outcome["reason"]
    claimed = "publishing" if decision == "approve" else "running"
    assert seen[0] == (claimed, "starting"), seen


@pytest.mark.docker
@pytest.mark.slow
def test_a_timed_out_reason_quotes_the_jobs_own_timeout_set_by_the_submitter(cluster, make_repo, tmp_path):
    from task_cluster import SLOW

    from agent.tasks.service import TaskService

    cluster.start_worker(JOB_TIMEOUT="3600", TASK_TIME_LIMIT="3600")  # the worker's own would say 3600 s
    submitter = TaskService.from_settings(cluster.settings().model_copy(update={"job_timeout": 4.0}))
    record, _ = submitter.submit(FixRequest(repo=str(make_repo(tmp_path / "slow", SLOW)),
                                            issue="negative amounts are added"), {"kind": "cli", "user": "t"})
    ended = cluster.wait(record["id"], {"timed_out", "awaiting_approval", "failed"})
    assert ended["status"] == "timed_out", ended
    assert "time limit of 4 s" in ended["reason"], ended["reason"]
