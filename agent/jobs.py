"""RQ entry points: a task id in, a JSON-able summary out. Thin: load the record, run the workflow, store the outcome.

`run_task` runs a queued task (or reruns one whose worker died, from its checkpoint); `resume_task`
carries a person's decision into the paused graph. Both run in rq's work horse, and both first claim
the task with their own job id: the record's `job_id` must name them (agent.tasks.store fences every
write by it). What can go wrong:

- the task was cancelled, decided or handed to another job meanwhile: the claim (or any later write) is
  refused; the job returns quietly, writing nothing: no status, no progress, no event, no checkpoint;
- the run passes TASK_TIME_LIMIT (or the job's rq timeout, a backstop): `timed_out`, saying what it had tried;
- the checkpoint database is down: the task waits (queued, or approved with its decision kept) and the
  workers' watchdog runs it again after TASK_RETRY_DELAY s, doubling; no retry is spent;
- another infrastructure fault (Docker unreachable, a container that cannot start, Redis reset): the task
  is handed back as a new job while TASK_INFRA_RETRIES last (TaskService.hand_back), else `failed`;
- anything else (a bad repository, a bug): `failed` with a one-line reason, never retried.
The worker (agent.worker) covers the horse being killed and the worker dying.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import redis
from rq import get_current_job
from rq.timeouts import JobTimeoutException

from agent.exceptions import CheckpointUnavailable, FixbotError
from agent.request import FixRequest
from agent.settings import Settings, get_settings
from agent.tasks.exceptions import IllegalTransition, StoreUnavailable, Superseded, TaskNotFound
from agent.tasks.service import TaskService, connect
from agent.tasks.states import TaskStatus
from sandbox.exceptions import ContainerStartError, DockerUnavailable, SandboxError

S = TaskStatus
INFRA_ERRORS = (DockerUnavailable, ContainerStartError, StoreUnavailable, redis.ConnectionError, redis.TimeoutError,
                ConnectionError)
PROGRESS_EVERY = 1.0  # seconds between two progress writes to the record (phase changes are written at once)
EVENT_FENCE_REUSE = 1.0  # seconds a positive ownership check is reused for events (writes always check)
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def service() -> TaskService:
    """The worker process's task service: settings from the environment, a patient Redis connection."""
    settings = get_settings()
    return TaskService.from_settings(settings, conn=connect(settings, patient=True))


class Fence:
    """A job's hold on its task: the record names this job and is in one of `statuses`.

    Supersession needs the job's worker to be silent for WORKER_LEASE_TTL first, so `recently()` may reuse
    a positive answer for EVENT_FENCE_REUSE s (progress events); `holds()` always asks Redis (checkpoint
    writes, removing the checkout). Once lost, always lost. When Redis cannot answer, the fence is taken as
    held: the store's own writes are fenced atomically anyway.
    """

    def __init__(self, svc: TaskService, task_id: str, job_id: str | None, statuses: set[str]) -> None:
        self.svc = svc
        self.task_id = task_id
        self.job_id = job_id
        self.statuses = statuses
        self.lost = False
        self._checked = -EVENT_FENCE_REUSE

    def holds(self) -> bool:
        """Whether this job still owns the task (exact)."""
        if self.lost:
            return False
        try:
            job, status = self.svc.store.owner(self.task_id)
        except TaskNotFound:
            self.lost = True
            return False
        except (StoreUnavailable, redis.RedisError):
            return True
        if job != self.job_id or status not in self.statuses:
            self.lost = True
            log.warning("task %s: job %s lost it (now job %s, %s): stopping without writing", self.task_id,
                        self.job_id, job, status)
        else:
            self._checked = time.monotonic()
        return not self.lost

    def recently(self) -> bool:
        """Whether this job owned the task at most EVENT_FENCE_REUSE s ago (for events)."""
        if not self.lost and time.monotonic() - self._checked < EVENT_FENCE_REUSE:
            return True
        return self.holds()


class TaskSink:
    """The graph's event sink in a worker: events to the streams, the last progress into the record, while the
    job owns the task (a superseded job's events are dropped)."""

    def __init__(self, svc: TaskService, task_id: str, fence: Fence) -> None:
        self.svc = svc
        self.task_id = task_id
        self.fence = fence
        self.progress: dict[str, Any] = {"phase": "starting", "text": "Starting", "candidates_tried": 0, "attempts": 0}
        self._written = 0.0

    def emit(self, task_id: str, kind: str, data: dict[str, Any]) -> None:
        """Forward the event; keep the record's `progress` current (best effort, never raises)."""
        if not self.fence.recently():
            return
        self.svc.events.emit(task_id, kind, data)
        before = self.progress["phase"]
        if kind == "phase":
            self.progress.update(phase=str(data.get("phase", before)), text=str(data.get("text", "")))
        elif kind == "candidates":
            self.progress["candidates_tried"] = int(data.get("tried", 0))
        elif kind == "candidate" and data.get("engine") == "llm":
            self.progress["attempts"] = self.progress.get("attempts", 0) + 1
        else:
            return
        now = time.monotonic()
        if self.progress["phase"] != before or now - self._written >= PROGRESS_EVERY:
            self._written = now
            try:
                self.svc.store.update(self.task_id, {"progress": dict(self.progress)}, job=self.fence.job_id)
            except Superseded:
                self.fence.lost = True
            except Exception as exc:  # noqa: BLE001 - progress is best effort
                log.warning("could not record the progress of %s: %s", self.task_id, exc)


def run_task(task_id: str) -> dict[str, Any]:
    """Run a queued task to its proposal or its end; returns {"task_id", "status"}."""
    svc, settings, job_id = service(), get_settings(), _job_id()
    starting = {"phase": "starting", "text": "Starting on a worker", "candidates_tried": 0, "attempts": 0}
    try:
        record = svc.store.transition(task_id, S.RUNNING, expect={S.QUEUED.value}, job=job_id,
                                      fields={"progress": starting, "retry_at": None})
    except (IllegalTransition, TaskNotFound, Superseded) as exc:
        return {"task_id": task_id, "status": "skipped", "reason": str(exc)}
    fence = Fence(svc, task_id, job_id, {S.RUNNING.value})
    sink = TaskSink(svc, task_id, fence)
    rerun = record["jobs"] > 1 or bool(record.get("infra_retries"))
    svc.events.emit(task_id, "started", {"job": job_id, "rerun": rerun})
    request = FixRequest.from_dict(record["request"])

    def work() -> Any:
        from agent.workflow import rerun_fix, run_fix

        if rerun:  # a dead worker's task (or one that waited for the checkpoint database): from its checkpoint
            return rerun_fix(task_id, request, settings, engine=record["engine"], events=sink, approval=True,
                             owns=fence.holds)
        return run_fix(request, settings, engine=record["engine"], task_id=task_id, events=sink, approval=True,
                       owns=fence.holds)

    return _execute(svc, settings, task_id, S.RUNNING, work, sink)


def resume_task(task_id: str) -> dict[str, Any]:
    """Carry the recorded decision into the paused graph: publish, end as rejected, or repair again."""
    svc, settings, job_id = service(), get_settings(), _job_id()
    try:
        record = svc.store.get(task_id)
    except TaskNotFound as exc:
        return {"task_id": task_id, "status": "skipped", "reason": str(exc)}
    decision = record.get("decision") or {}
    status = record["status"]
    # the previous run's phase ("awaiting_approval") must not show while this one fetches the checkout again
    starting = {"retry_at": None, "progress": {"phase": "starting", "text": "Resuming with the decision",
                                               "candidates_tried": 0, "attempts": 0}}
    try:
        if status == S.APPROVED:
            svc.store.transition(task_id, S.PUBLISHING, expect={S.APPROVED.value}, job=job_id, fields=starting)
            active = S.PUBLISHING
        elif status == S.QUEUED and decision.get("action") == "retry":
            svc.store.transition(task_id, S.RUNNING, expect={S.QUEUED.value}, job=job_id, fields=starting)
            active = S.RUNNING
        elif status == S.REJECTED and record.get("job_id") == job_id:
            active = S.REJECTED  # the graph only has to end; the status is already final
        else:
            return {"task_id": task_id, "status": "skipped", "reason": f"task is {status}"}
    except (IllegalTransition, Superseded) as exc:
        return {"task_id": task_id, "status": "skipped", "reason": str(exc)}
    fence = Fence(svc, task_id, job_id, {active.value})
    sink = TaskSink(svc, task_id, fence)
    if active != S.REJECTED:
        svc.events.emit(task_id, "resumed", {"action": decision.get("action"), "by": decision.get("by"),
                                             "job": job_id})
    resume = {k: decision.get(k) for k in ("action", "by", "feedback")}

    def work() -> Any:
        from agent.workflow import decide_fix

        return decide_fix(task_id, resume, settings, events=sink, owns=fence.holds)

    return _execute(svc, settings, task_id, active, work, sink)


def _execute(svc: TaskService, settings: Settings, task_id: str, active: S, work: Callable[[], Any],
             sink: TaskSink) -> dict[str, Any]:
    """Run the workflow coroutine under the time limit and turn what happened into the task's status."""
    fence = sink.fence
    try:
        result = asyncio.run(_limited(work(), settings.task_time_limit))
    except Exception as exc:  # noqa: BLE001 - every way out ends in a status (or nothing, once superseded)
        if not fence.holds():  # whatever broke, the task is another job's (or cancelled) now
            return {"task_id": task_id, "status": "superseded"}
        return _failure(svc, settings, task_id, active, sink, exc)
    if not fence.holds():
        return {"task_id": task_id, "status": "superseded"}
    return record_outcome(svc, task_id, active, result, job=fence.job_id)


def _failure(svc: TaskService, settings: Settings, task_id: str, active: S, sink: TaskSink,
             exc: Exception) -> dict[str, Any]:
    job = sink.fence.job_id
    if isinstance(exc, TimeoutError):
        return _end(svc, task_id, active, S.TIMED_OUT, _timed_out_reason(settings.task_time_limit, sink),
                    "timed_out", job=job)
    if isinstance(exc, JobTimeoutException):  # rq's own limit: the job's timeout, set where it was enqueued
        current = get_current_job()
        limit = float(current.timeout) if current is not None and current.timeout else settings.job_timeout
        return _end(svc, task_id, active, S.TIMED_OUT, _timed_out_reason(limit, sink), "timed_out", job=job)
    first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    if isinstance(exc, CheckpointUnavailable) and job is not None and active != S.REJECTED:
        svc.hand_back(task_id, job=job, why=first, wait=True)
        return {"task_id": task_id, "status": "waiting", "reason": first}
    if isinstance(exc, INFRA_ERRORS) and job is not None and active != S.REJECTED:
        try:
            svc.hand_back(task_id, job=job, why=f"infrastructure fault: {first}")
        except (StoreUnavailable, redis.RedisError):  # Redis itself is away: the watchdog sees the job end
            log.warning("task %s: infrastructure fault and Redis unreachable: %s", task_id, exc)
        return {"task_id": task_id, "status": "handed_back", "reason": first}
    if isinstance(exc, FixbotError | SandboxError):
        return _end(svc, task_id, active, S.FAILED, str(exc), "failed", job=job)
    log.error("task %s failed", task_id, exc_info=exc)
    return _end(svc, task_id, active, S.FAILED, f"internal error ({type(exc).__name__}): {exc}"[:500], "failed",
                job=job)


async def _limited(coro: Any, limit: float) -> Any:
    return await asyncio.wait_for(coro, timeout=limit)


def record_outcome(svc: TaskService, task_id: str, active: S, result: dict[str, Any], *,
                   job: str | None = None) -> dict[str, Any]:
    """Store the workflow's result record and move the task to the matching status (emitting its event).

    `job`: the job that holds the task; nothing is written once another one does.
    """
    status = result.get("status")
    phase = "awaiting_approval" if result.get("awaiting_approval") else str(status)
    fields = {"result": result, "attempts": int(result.get("attempts") or 0), "risk": result.get("risk"),
              "tokens": result.get("tokens") or {"prompt": 0, "completion": 0, "total": 0}, "waits": 0,
              "progress": {"phase": phase, "text": result.get("message") or "",
                           "candidates_tried": int(result.get("candidates_tried") or 0),
                           "attempts": int(result.get("attempts") or 0)}}
    if active == S.REJECTED:
        try:
            svc.store.update(task_id, fields, job=job)
        except (Superseded, TaskNotFound):
            return {"task_id": task_id, "status": "superseded"}
        return {"task_id": task_id, "status": "rejected"}
    if result.get("awaiting_approval"):
        proposal = result.get("proposal") or {}
        if not _move(svc, task_id, active, S.AWAITING_APPROVAL, None, fields, job):
            return {"task_id": task_id, "status": "cancelled"}
        svc.events.emit(task_id, "proposed", proposal)
        svc.events.emit(task_id, "approval_needed", {"risk": proposal.get("risk"),
                                                     "filename": (proposal.get("final_patch") or {}).get("filename")})
        return {"task_id": task_id, "status": S.AWAITING_APPROVAL.value}
    if status == "published":
        if _move(svc, task_id, active, S.PUBLISHED, None, {**fields, "publication": result.get("publication")}, job):
            svc.events.emit(task_id, "published", {k: v for k, v in (result.get("publication") or {}).items()
                                                   if k != "patch"})
        return {"task_id": task_id, "status": S.PUBLISHED.value}
    if status in ("not_fixed", "no_failure"):
        return _end(svc, task_id, active, S(status), result.get("message") or status, status, fields, job=job)
    reason = result.get("message") or f"the run ended with status {status}"
    return _end(svc, task_id, active, S.FAILED, reason, "failed", fields, job=job)


def _end(svc: TaskService, task_id: str, active: S, to: S, reason: str, event: str,
         fields: dict[str, Any] | None = None, *, job: str | None = None) -> dict[str, Any]:
    if _move(svc, task_id, active, to, reason, fields or {}, job):
        svc.events.emit(task_id, event, {"reason": reason})
        return {"task_id": task_id, "status": to.value, "reason": reason}
    return {"task_id": task_id, "status": "cancelled"}


def _move(svc: TaskService, task_id: str, active: S, to: S, reason: str | None, fields: dict[str, Any],
          job: str | None) -> bool:
    """Transition from the status this job holds; False when someone else moved the task (cancelled it)
    or another job owns it now."""
    try:
        svc.store.transition(task_id, to, reason=reason, fields=fields, expect={active.value}, job=job)
        return True
    except (Superseded, TaskNotFound):
        return False
    except IllegalTransition:
        if fields:
            try:  # keep what was found, under the status someone else set (a cancel)
                svc.store.update(task_id, fields, job=job)
            except (Superseded, TaskNotFound):
                pass
        return False


def _timed_out_reason(limit: float, sink: TaskSink) -> str:
    p = sink.progress
    tried = f"{p.get('candidates_tried', 0)} candidate patch(es)"
    if p.get("attempts"):
        tried += f" and {p['attempts']} LLM attempt(s)"
    return f"the task ran past its time limit of {limit:.0f} s during {p.get('phase', '?')}; it had tried {tried}"


def _job_id() -> str | None:
    job = get_current_job()
    return job.id if job is not None else None


# ---------------------------------------------------------------------- rq callbacks
def on_job_failure(job: Any, connection: Any, exc_type: Any = None, value: Any = None, tb: Any = None) -> None:
    """rq failure callback (an exception escaped the job, or rq's maintenance found it abandoned): the task, if
    this job still holds it, goes back to the queue or fails (agent.worker.recover; only one caller wins)."""
    task_id = job.args[0] if job.args else None
    if not task_id:
        return
    from agent.worker import recover, redis_settled

    name = getattr(exc_type, "__name__", "error")
    if name == "AbandonedJobError" and not redis_settled(connection, get_settings()):
        log.warning("task %s: rq took job %s for abandoned right after a Redis restart; the watchdog judges it "
                    "once heartbeats had time to resume", task_id, job.id)
        return
    detail = str(value).splitlines()[0][:200] if value is not None and str(value) else ""
    why = (f"the worker running this task stopped responding ({name})" if name == "AbandonedJobError"
           else f"the job failed ({name}{': ' + detail if detail else ''})")
    recover(service(), task_id, job.id, why=why)


def on_job_stopped(job: Any, connection: Any) -> None:
    """rq stopped callback (a cancel): runs in the worker on the job's host once the horse is dead; removes the
    task's sandboxes (their owner is dead and the task is over)."""
    from agent.worker import reap_sandboxes

    if job.args:
        reap_sandboxes(task=job.args[0])
