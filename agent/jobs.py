"""RQ entry points: a task id in, a JSON-able summary out. Thin: load the record, run the workflow, store the outcome.

`run_task` runs a queued task (or reruns one whose worker died, from its checkpoint); `resume_task`
carries a person's decision into the paused graph. Both run in rq's work horse. What can go wrong:

- the task was cancelled (or decided) meanwhile: the store refuses the transition; the job returns quietly;
- the run passes TASK_TIME_LIMIT (or rq's JOB_TIMEOUT backstop): `timed_out`, saying what it had tried;
- an infrastructure fault (Docker unreachable, a container that cannot start, Redis reset): with rq retries
  left the task goes back to `queued` and the exception is re-raised so rq's Retry runs it again;
  otherwise `failed` with the reason;
- anything else (a bad repository, a bug): `failed` with a one-line reason, never retried.
Callbacks (`on_job_failure`, `on_job_stopped`) and the worker (agent.worker) cover the horse being killed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import lru_cache
from typing import Any

import redis
from rq import get_current_job
from rq.timeouts import JobTimeoutException

from agent.exceptions import FixbotError
from agent.request import FixRequest
from agent.settings import Settings, get_settings
from agent.tasks.exceptions import IllegalTransition, StoreUnavailable, TaskNotFound
from agent.tasks.service import TaskService
from agent.tasks.states import TERMINAL, TaskStatus
from sandbox.exceptions import ContainerStartError, DockerUnavailable, SandboxError

S = TaskStatus
INFRA_ERRORS = (DockerUnavailable, ContainerStartError, StoreUnavailable, redis.ConnectionError, redis.TimeoutError,
                ConnectionError)
PROGRESS_EVERY = 1.0  # seconds between two progress writes to the record (phase changes are written at once)
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def service() -> TaskService:
    """The process's task service (settings from the environment)."""
    return TaskService.from_settings(get_settings())


class TaskSink:
    """The graph's event sink in a worker: events to the streams, the last progress into the record."""

    def __init__(self, svc: TaskService, task_id: str) -> None:
        self.svc = svc
        self.task_id = task_id
        self.progress: dict[str, Any] = {"phase": "starting", "text": "Starting", "candidates_tried": 0, "attempts": 0}
        self._written = 0.0

    def emit(self, task_id: str, kind: str, data: dict[str, Any]) -> None:
        """Forward the event; keep the record's `progress` current (best effort, never raises)."""
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
                self.svc.store.update(self.task_id, {"progress": dict(self.progress)})
            except Exception as exc:  # noqa: BLE001 - progress is best effort
                log.warning("could not record the progress of %s: %s", self.task_id, exc)


def run_task(task_id: str) -> dict[str, Any]:
    """Run a queued task to its proposal or its end; returns {"task_id", "status"}."""
    svc, settings = service(), get_settings()
    try:
        record = svc.store.transition(task_id, S.RUNNING, expect={S.QUEUED.value})
    except (IllegalTransition, TaskNotFound) as exc:
        return {"task_id": task_id, "status": "skipped", "reason": str(exc)}
    sink = TaskSink(svc, task_id)
    svc.events.emit(task_id, "started", {"job": _job_id(), "rerun": record["jobs"] > 1})
    request = FixRequest.from_dict(record["request"])

    def work() -> Any:
        from agent.workflow import rerun_fix, run_fix

        if record["jobs"] > 1 or record.get("infra_retries"):  # a dead worker's task: continue from the checkpoint
            return rerun_fix(task_id, request, settings, engine=record["engine"], events=sink, approval=True)
        return run_fix(request, settings, engine=record["engine"], task_id=task_id, events=sink, approval=True)

    return _execute(svc, settings, task_id, S.RUNNING, work, sink)


def resume_task(task_id: str) -> dict[str, Any]:
    """Carry the recorded decision into the paused graph: publish, end as rejected, or repair again."""
    svc, settings = service(), get_settings()
    try:
        record = svc.store.get(task_id)
    except TaskNotFound as exc:
        return {"task_id": task_id, "status": "skipped", "reason": str(exc)}
    decision = record.get("decision") or {}
    status = record["status"]
    try:
        if status == S.APPROVED:
            svc.store.transition(task_id, S.PUBLISHING, expect={S.APPROVED.value})
            active = S.PUBLISHING
        elif status == S.QUEUED and decision.get("action") == "retry":
            svc.store.transition(task_id, S.RUNNING, expect={S.QUEUED.value})
            active = S.RUNNING
        elif status == S.REJECTED:
            active = S.REJECTED  # the graph only has to end; the status is already final
        else:
            return {"task_id": task_id, "status": "skipped", "reason": f"task is {status}"}
    except IllegalTransition as exc:
        return {"task_id": task_id, "status": "skipped", "reason": str(exc)}
    sink = TaskSink(svc, task_id)
    if active != S.REJECTED:
        svc.events.emit(task_id, "resumed", {"action": decision.get("action"), "by": decision.get("by"),
                                             "job": _job_id()})
    resume = {k: decision.get(k) for k in ("action", "by", "feedback")}

    def work() -> Any:
        from agent.workflow import decide_fix

        return decide_fix(task_id, resume, settings, events=sink)

    return _execute(svc, settings, task_id, active, work, sink)


def _execute(svc: TaskService, settings: Settings, task_id: str, active: S, work: Any,
             sink: TaskSink) -> dict[str, Any]:
    """Run the workflow coroutine under the time limit and turn what happened into the task's status."""
    limit = settings.task_time_limit
    try:
        result = asyncio.run(_limited(work(), limit))
    except TimeoutError:
        return _end(svc, task_id, active, S.TIMED_OUT, _timed_out_reason(limit, sink), "timed_out")
    except JobTimeoutException:
        return _end(svc, task_id, active, S.TIMED_OUT, _timed_out_reason(settings.job_timeout, sink), "timed_out")
    except INFRA_ERRORS as exc:
        try:
            _infrastructure_fault(svc, task_id, active, exc)
        except (StoreUnavailable, redis.RedisError):  # Redis itself is down: rq's retry (or the watchdog) takes over
            log.warning("task %s: infrastructure fault and Redis unreachable: %s", task_id, exc)
        raise
    except (FixbotError, SandboxError) as exc:
        return _end(svc, task_id, active, S.FAILED, str(exc), "failed")
    except Exception as exc:  # noqa: BLE001 - a bug must end the task with a reason, not leave it running
        log.exception("task %s failed", task_id)
        return _end(svc, task_id, active, S.FAILED, f"internal error ({type(exc).__name__}): {exc}"[:500], "failed")
    return record_outcome(svc, task_id, active, result)


async def _limited(coro: Any, limit: float) -> Any:
    return await asyncio.wait_for(coro, timeout=limit)


def record_outcome(svc: TaskService, task_id: str, active: S, result: dict[str, Any]) -> dict[str, Any]:
    """Store the workflow's result record and move the task to the matching status (emitting its event)."""
    status = result.get("status")
    phase = "awaiting_approval" if result.get("awaiting_approval") else str(status)
    fields = {"result": result, "attempts": int(result.get("attempts") or 0), "risk": result.get("risk"),
              "tokens": result.get("tokens") or {"prompt": 0, "completion": 0, "total": 0},
              "progress": {"phase": phase, "text": result.get("message") or "",
                           "candidates_tried": int(result.get("candidates_tried") or 0),
                           "attempts": int(result.get("attempts") or 0)}}
    if active == S.REJECTED:
        svc.store.update(task_id, fields)
        return {"task_id": task_id, "status": "rejected"}
    if result.get("awaiting_approval"):
        proposal = result.get("proposal") or {}
        if not _move(svc, task_id, active, S.AWAITING_APPROVAL, None, fields):
            return {"task_id": task_id, "status": "cancelled"}
        svc.events.emit(task_id, "proposed", proposal)
        svc.events.emit(task_id, "approval_needed", {"risk": proposal.get("risk"),
                                                     "filename": (proposal.get("final_patch") or {}).get("filename")})
        return {"task_id": task_id, "status": S.AWAITING_APPROVAL.value}
    if status == "published":
        if _move(svc, task_id, active, S.PUBLISHED, None, {**fields, "publication": result.get("publication")}):
            svc.events.emit(task_id, "published", {k: v for k, v in (result.get("publication") or {}).items()
                                                   if k != "patch"})
        return {"task_id": task_id, "status": S.PUBLISHED.value}
    if status in ("not_fixed", "no_failure"):
        return _end(svc, task_id, active, S(status), result.get("message") or status, status, fields)
    reason = result.get("message") or f"the run ended with status {status}"
    return _end(svc, task_id, active, S.FAILED, reason, "failed", fields)


def _end(svc: TaskService, task_id: str, active: S, to: S, reason: str, event: str,
         fields: dict[str, Any] | None = None) -> dict[str, Any]:
    if _move(svc, task_id, active, to, reason, fields or {}):
        svc.events.emit(task_id, event, {"reason": reason})
        return {"task_id": task_id, "status": to.value, "reason": reason}
    return {"task_id": task_id, "status": "cancelled"}


def _move(svc: TaskService, task_id: str, active: S, to: S, reason: str | None, fields: dict[str, Any]) -> bool:
    """Transition from the status this job holds; False when someone else moved the task (cancelled it)."""
    try:
        svc.store.transition(task_id, to, reason=reason, fields=fields, expect={active.value})
        return True
    except IllegalTransition:
        if fields:
            svc.store.update(task_id, fields)  # keep what was found, under the status someone else set
        return False


def _timed_out_reason(limit: float, sink: TaskSink) -> str:
    p = sink.progress
    tried = f"{p.get('candidates_tried', 0)} candidate patch(es)"
    if p.get("attempts"):
        tried += f" and {p['attempts']} LLM attempt(s)"
    return f"the task ran past its time limit of {limit:.0f} s during {p.get('phase', '?')}; it had tried {tried}"


def _infrastructure_fault(svc: TaskService, task_id: str, active: S, exc: BaseException) -> None:
    """Hand the task back for rq's retry, or fail it when no retry is left."""
    job = get_current_job()
    first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    record = svc.store.get(task_id)
    if job is not None and (job.retries_left or 0) > 0 and active in (S.RUNNING, S.PUBLISHING):
        back = S.QUEUED if active == S.RUNNING else S.APPROVED
        _move(svc, task_id, active, back, f"infrastructure fault, retrying: {first}",
              {"infra_retries": int(record.get("infra_retries") or 0) + 1})
        svc.events.emit(task_id, "requeued", {"reason": f"infrastructure fault: {first}"})
    else:
        _end(svc, task_id, active, S.FAILED, f"infrastructure fault: {first}", "failed")


def _job_id() -> str | None:
    job = get_current_job()
    return job.id if job is not None else None


# ---------------------------------------------------------------------- rq callbacks
def on_job_failure(job: Any, connection: Any, exc_type: Any = None, value: Any = None, tb: Any = None) -> None:
    """rq failure callback: a task still held by a failed job (abandoned, unexpected error) is failed."""
    task_id = job.args[0] if job.args else None
    if not task_id:
        return
    svc = service()
    try:
        record = svc.store.get(task_id)
    except TaskNotFound:
        return
    if record["status"] in TERMINAL or record["status"] not in (S.RUNNING, S.PUBLISHING) \
            or record.get("job_id") != job.id or (job.retries_left or 0) > 0:
        return
    name = getattr(exc_type, "__name__", "error")
    _end(svc, task_id, S(record["status"]), S.FAILED, f"the job failed ({name}: {value})"[:500], "failed")


def on_job_stopped(job: Any, connection: Any) -> None:
    """rq stopped callback (a cancel): runs in the worker on the job's host; removes the task's sandboxes."""
    task_id = job.args[0] if job.args else None
    if task_id:
        from agent.worker import reap_task

        reap_task(task_id)
