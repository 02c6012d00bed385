"""`TaskService`: the one API every face calls (Slack, REST, CLI): submit, decide, cancel, retry.

The service validates, changes the record through the store's checked transitions, enqueues rq jobs
and emits events; it never runs a task itself. Jobs are referenced by dotted name ("agent.jobs.run_task"),
so a face's process never imports the workflow. The first job of a task has the task id as its job id;
later jobs of the same task (a resume after a decision, a rerun after a dead worker) get "<task id>_<n>",
and the record's `job_id` names the current one (cancel stops that one).

Who MAY decide is the caller's business (agent.tasks.policy); this module only refuses what the
state machine forbids (IllegalTransition, DuplicateDecision).
"""

from __future__ import annotations

import time
from typing import Any

import redis
from rq import Callback, Queue, Retry
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from agent.exceptions import InvalidRequest
from agent.request import FixRequest, validate_request
from agent.settings import Settings
from agent.tasks.events import TaskEvents
from agent.tasks.exceptions import IllegalTransition
from agent.tasks.keys import Keys
from agent.tasks.states import TaskStatus
from agent.tasks.store import TaskStore, reachable

ENGINES = ("search", "llm", "auto")
MAX_FEEDBACK = 4000
RUN_JOB = "agent.jobs.run_task"
RESUME_JOB = "agent.jobs.resume_task"
S = TaskStatus


def connect(settings: Settings) -> redis.Redis:
    """A Redis client for settings.redis_connection_url (bytes replies, as rq needs), with short timeouts."""
    return redis.Redis.from_url(settings.redis_connection_url, socket_connect_timeout=5, socket_timeout=30,
                                health_check_interval=30)


class TaskService:
    """Submit, approve, reject, cancel and retry tasks; every face goes through here."""

    def __init__(self, store: TaskStore, events: TaskEvents, queue: Queue, settings: Settings) -> None:
        self.store = store
        self.events = events
        self.queue = queue
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings, conn: redis.Redis | None = None) -> TaskService:
        """The service on the configured Redis, prefix and queue."""
        conn = conn or connect(settings)
        keys = Keys(settings.redis_prefix)
        store = TaskStore(conn, keys, retention=settings.task_retention_days * 86400, queue_name=settings.queue_name)
        events = TaskEvents(conn, keys, maxlen=settings.event_stream_maxlen)
        return cls(store, events, Queue(settings.queue_name, connection=conn), settings)

    # ------------------------------------------------------------------ submit
    def submit(self, request: FixRequest, origin: dict[str, Any], *, engine: str | None = None,
               idempotency_key: str | None = None, retry_of: str | None = None) -> tuple[dict[str, Any], bool]:
        """Validate, create and enqueue a task; returns (record, created now).

        The same idempotency key within 24 h returns the existing task (and False) without enqueuing.
        Raises InvalidRequest for bad input, StoreUnavailable when Redis is down.
        """
        engine = engine or ("auto" if self.settings.llm_configured else "search")
        if engine not in ENGINES:
            raise InvalidRequest(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
        if engine == "llm" and not self.settings.llm_configured:
            raise InvalidRequest("engine llm needs a model: set OPENAI_API_KEY (or OPENAI_BASE_URL)")
        if not isinstance(origin, dict) or origin.get("kind") not in ("slack", "api", "cli"):
            raise InvalidRequest("origin must say which face asked: kind slack, api or cli")
        valid = validate_request(request, self.settings)
        record, created = self.store.create(valid.to_dict(), origin, engine=engine,
                                            idempotency_key=idempotency_key, retry_of=retry_of)
        if created:
            record = self._enqueue(record, RUN_JOB)
            self.events.emit(record["id"], "queued", {"engine": engine, "position": self.queue.count,
                                                      "retry_of": retry_of})
        return record, created

    def retry(self, task_id: str, *, by: str) -> tuple[dict[str, Any], bool]:
        """A new task with the request of a finished one (`retry_of` set); one per finished task and person."""
        old = self.store.get(task_id)
        if old["status"] not in {s.value for s in (S.NOT_FIXED, S.NO_FAILURE, S.FAILED, S.CANCELLED, S.TIMED_OUT,
                                                   S.REJECTED, S.PUBLISHED)}:
            raise IllegalTransition(f"task {task_id} is {old['status']}: only a finished task can be retried")
        origin = {**old["origin"], "user": by} if old["origin"].get("kind") == "slack" else dict(old["origin"])
        return self.submit(FixRequest.from_dict(old["request"]), origin, engine=old["engine"],
                           idempotency_key=f"retry:{task_id}:{by}", retry_of=task_id)

    # ------------------------------------------------------------------ decisions
    def approve(self, task_id: str, *, by: str) -> dict[str, Any]:
        """awaiting_approval → approved, and a job that resumes the graph into its publish step."""
        decision = {"action": "approve", "by": by, "at": time.time(), "feedback": None}
        record = self.store.transition(task_id, S.APPROVED, by=by, expect={S.AWAITING_APPROVAL.value},
                                       fields={"decision": decision})
        self.events.emit(task_id, "decision", {"action": "approve", "by": by, "feedback": None})
        return self._enqueue(record, RESUME_JOB)

    def reject(self, task_id: str, *, by: str, feedback: str | None = None, retry: bool = False) -> dict[str, Any]:
        """awaiting_approval → rejected (the graph ends), or with retry → queued: the repair goes on with the
        feedback (to the model as a message; to the search as "this candidate is wrong, find another")."""
        feedback = (feedback or "").strip()[:MAX_FEEDBACK] or None
        action = "retry" if retry else "reject"
        decision = {"action": action, "by": by, "at": time.time(), "feedback": feedback}
        target = S.QUEUED if retry else S.REJECTED
        record = self.store.transition(task_id, target, by=by, expect={S.AWAITING_APPROVAL.value},
                                       fields={"decision": decision})
        self.events.emit(task_id, "decision", {"action": action, "by": by, "feedback": feedback})
        return self._enqueue(record, RESUME_JOB)

    def cancel(self, task_id: str, *, by: str) -> dict[str, Any]:
        """Cancel a queued, running or waiting task: status cancelled first, then the job is stopped (rq's stop
        command kills the work horse; its worker reaps the sandbox) or taken off the queue."""
        before = self.store.get(task_id)
        record = self.store.transition(task_id, S.CANCELLED, by=by, reason=f"cancelled by {by}")
        self.events.emit(task_id, "cancelled", {"by": by, "was": before["status"]})
        job_id = record.get("job_id")
        if job_id and before["status"] in (S.QUEUED, S.RUNNING, S.APPROVED, S.PUBLISHING):
            with reachable(self.store.conn):
                self._stop_job(job_id, before["status"])
        return record

    def _stop_job(self, job_id: str, was: str) -> None:
        try:
            job = Job.fetch(job_id, connection=self.queue.connection)
        except NoSuchJobError:
            return
        if was in (S.RUNNING, S.PUBLISHING) or job.get_status(refresh=False) == "started":
            try:
                send_stop_job_command(self.queue.connection, job_id)
                return
            except InvalidJobOperation:  # not picked up yet (or already over): take it off the queue
                pass
        try:
            job.cancel()
        except InvalidJobOperation:
            pass

    # ------------------------------------------------------------------ jobs
    def enqueue_rerun(self, record: dict[str, Any]) -> dict[str, Any]:
        """Enqueue the task's run again (a dead worker's task, moved back to queued by the watchdog)."""
        return self._enqueue(record, RUN_JOB if not record.get("proposed_at") and not record.get("decision")
                             else RESUME_JOB)

    def _enqueue(self, record: dict[str, Any], func: str) -> dict[str, Any]:
        task_id = record["id"]
        count = int(record.get("jobs") or 0)
        job_id = task_id if count == 0 else f"{task_id}_{count}"
        record = self.store.update(task_id, {"job_id": job_id, "jobs": count + 1})
        retries = self.settings.task_infra_retries - int(record.get("infra_retries") or 0)
        with reachable(self.store.conn):
            self.queue.enqueue(
                func, task_id, job_id=job_id, job_timeout=int(self.settings.job_timeout),
                retry=Retry(max=retries) if retries > 0 else None,
                result_ttl=int(self.settings.task_retention_days * 86400),
                failure_ttl=int(self.settings.task_retention_days * 86400),
                on_failure=Callback("agent.jobs.on_job_failure"), on_stopped=Callback("agent.jobs.on_job_stopped"),
                description=f"{func.rsplit('.', 1)[-1]} {task_id}",
            )
        return record
