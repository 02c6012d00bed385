"""`TaskService`: the one API every face calls (Slack, REST, CLI): submit, decide, cancel, retry.

The service validates, changes the record through the store's checked transitions, enqueues rq jobs
and emits events; it never runs a task itself. Jobs are referenced by dotted name ("agent.jobs.run_task"),
so a face's process never imports the workflow. The first job of a task has the task id as its job id;
later jobs of the same task (a resume after a decision, a rerun after a dead worker) get "<task id>_<n>",
and the record's `job_id` names the current one, the only one that may write (cancel stops that one).
A status change and the job it needs are one MULTI (the store's `enqueue=`): no task waits for a job
that was never queued. Jobs carry no rq Retry: a rerun is always a new job, queued by `hand_back`.

Who MAY decide is the caller's business (agent.tasks.policy); this module only refuses what the
state machine forbids (IllegalTransition, DuplicateDecision).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.client import Pipeline
from redis.retry import Retry as RedisRetry
from rq import Callback, Queue
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from agent.exceptions import ConfigError, InvalidRequest
from agent.request import ENGINES, FixRequest, validate_request
from agent.settings import Settings
from agent.tasks.events import TaskEvents
from agent.tasks.exceptions import IllegalTransition, Superseded, TaskNotFound
from agent.tasks.keys import Keys
from agent.tasks.states import ACTIVE, WAITING, TaskStatus
from agent.tasks.store import Enqueue, TaskStore, reachable

MAX_FEEDBACK = 4000
MAX_WAIT = 300.0  # seconds: the longest pause between two tries while the checkpoint database is down
RUN_JOB = "agent.jobs.run_task"
RESUME_JOB = "agent.jobs.resume_task"
S = TaskStatus


def connect(settings: Settings, *, patient: bool = False) -> redis.Redis:
    """A Redis client for settings.redis_connection_url (bytes replies, as rq needs).

    Faces fail fast (a few quick retries, then StoreUnavailable: one line). Workers are `patient`: every
    command is retried with capped backoff (redis-py's Retry) for as long as Redis is away, so a Redis
    restart pauses a busy worker instead of killing it (rq's horse monitor does not survive a lost
    connection: rq/rq#1119). Raises ConfigError for a URL that is no Redis URL (the password never shown).
    """
    url = settings.redis_connection_url
    options: dict[str, Any] = {"socket_connect_timeout": 5, "socket_timeout": 30, "health_check_interval": 30}
    if patient:
        options.update(retry=RedisRetry(ExponentialWithJitterBackoff(base=0.25, cap=2.0), -1),
                       retry_on_error=[redis.ConnectionError, redis.TimeoutError])
    try:
        parts = urlsplit(url)
        if parts.scheme in ("redis", "rediss") and parts.path.strip("/") and not parts.path.strip("/").isdigit():
            raise ValueError(f"the database {parts.path.strip('/')[:20]!r} is not a number")  # redis-py ignores it
        conn = redis.Redis.from_url(url, **options)
        pool = conn.connection_pool
        pool.connection_class(**pool.connection_kwargs)  # builds, never connects: unknown URL options fail here
    except (ValueError, TypeError) as exc:
        shown = urlsplit(url)._replace(netloc=urlsplit(url).netloc.rpartition("@")[2]).geturl() if "://" in url \
            else url[:40]
        raise ConfigError(f"REDIS_URL {shown!r} is not a usable Redis URL ({str(exc).splitlines()[0][:120]}): "
                          "use redis://host:port/db") from None
    return conn


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

        The same idempotency key within 24 h returns the existing task (and False) without enqueuing; the
        record and its job are written in one MULTI. Raises InvalidRequest for bad input, IdempotencyConflict
        when the key was used for another request, StoreUnavailable when Redis is down.
        """
        engine = engine or ("auto" if self.settings.llm_configured else "search")
        if engine not in ENGINES:
            raise InvalidRequest(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
        if engine == "llm" and not self.settings.llm_configured:
            raise InvalidRequest("engine llm needs a model: set OPENAI_API_KEY (or OPENAI_BASE_URL)")
        if not isinstance(origin, dict) or origin.get("kind") not in ("slack", "api", "cli"):
            raise InvalidRequest("origin must say which face asked: kind slack, api or cli")
        valid = validate_request(request, self.settings)
        with reachable(self.store.conn):
            ahead = self.queue.count  # read first: a worker may take the job before a count after it
        record, created = self.store.create(valid.to_dict(), origin, engine=engine, idempotency_key=idempotency_key,
                                            retry_of=retry_of, enqueue=self._job(RUN_JOB))
        if created:
            self.events.emit(record["id"], "queued", {"engine": engine, "position": ahead + 1, "retry_of": retry_of})
        return record, created

    def retry(self, task_id: str, *, by: str) -> tuple[dict[str, Any], bool]:
        """A new task with the request of a finished one (`retry_of` set); one per finished task and person."""
        old = self.store.get(task_id)
        if old["status"] not in {s.value for s in (S.NOT_FIXED, S.NO_FAILURE, S.FAILED, S.CANCELLED, S.TIMED_OUT,
                                                   S.REJECTED, S.PUBLISHED)}:
            raise IllegalTransition(f"task {task_id} is {old['status']}: only a finished task can be retried")
        # Where to report, not what was posted: the old task's status message stays the old task's.
        origin = {k: v for k, v in old["origin"].items() if k not in ("message_ts", "response_url")}
        if origin.get("kind") == "slack":
            origin["user"] = by
        return self.submit(FixRequest.from_dict(old["request"]), origin, engine=old["engine"],
                           idempotency_key=f"retry:{task_id}:{by}", retry_of=task_id)

    # ------------------------------------------------------------------ decisions
    def approve(self, task_id: str, *, by: str) -> dict[str, Any]:
        """awaiting_approval → approved, and a job that resumes the graph into its publish step."""
        decision = {"action": "approve", "by": by, "at": time.time(), "feedback": None}
        record = self.store.transition(task_id, S.APPROVED, by=by, expect={S.AWAITING_APPROVAL.value},
                                       fields={"decision": decision}, verb="approve it", enqueue=self._job(RESUME_JOB))
        self.events.emit(task_id, "decision", {"action": "approve", "by": by, "feedback": None})
        return record

    def reject(self, task_id: str, *, by: str, feedback: str | None = None, retry: bool = False) -> dict[str, Any]:
        """awaiting_approval → rejected (the graph ends), or with retry → queued: the repair goes on with the
        feedback (to the model as a message; to the search as "this candidate is wrong, find another")."""
        feedback = (feedback or "").strip()[:MAX_FEEDBACK] or None
        action = "retry" if retry else "reject"
        decision = {"action": action, "by": by, "at": time.time(), "feedback": feedback}
        target = S.QUEUED if retry else S.REJECTED
        record = self.store.transition(task_id, target, by=by, expect={S.AWAITING_APPROVAL.value},
                                       fields={"decision": decision}, verb="reject it", enqueue=self._job(RESUME_JOB))
        self.events.emit(task_id, "decision", {"action": action, "by": by, "feedback": feedback})
        return record

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
    def hand_back(self, task_id: str, *, job: str, why: str, spend: bool = True,
                  wait: bool = False) -> dict[str, Any] | None:
        """The one way a running (or publishing) task goes back to the queue, or fails when it cannot.

        Only while `job` still owns the task (else None: another job has it, or it ended). `spend`: the
        rerun uses one of TASK_INFRA_RETRIES (a dead worker, a killed work horse, an infrastructure fault);
        with none left the task fails with `why`. Not spent for a worker shut down on purpose. `wait`: the
        task waits instead (queued or approved, its decision kept) and the workers' watchdog queues it
        again after TASK_RETRY_DELAY s, doubling up to MAX_WAIT (the checkpoint database is down). The
        move and the new job are one MULTI. Emits requeued or failed. Returns the new record.
        """
        try:
            record = self.store.get(task_id)
        except TaskNotFound:
            return None
        status = record["status"]
        if status not in ACTIVE or record.get("job_id") != job:
            return None
        back = S.QUEUED if status == S.RUNNING else S.APPROVED
        used = int(record.get("infra_retries") or 0)
        try:
            if wait:
                waits = int(record.get("waits") or 0)
                delay = min(self.settings.task_retry_delay * 2 ** waits, MAX_WAIT)
                new = self.store.transition(task_id, back, reason=f"{why}; trying again in {delay:.0f} s", job=job,
                                            expect={status}, fields={"retry_at": time.time() + delay,
                                                                     "waits": waits + 1})
                self.events.emit(task_id, "requeued", {"reason": why, "retry_in": delay})
            elif spend and used >= self.settings.task_infra_retries:
                reason = (f"{why}, {used + 1} time(s); giving up: run it again, and if it keeps happening "
                          "check the workers' memory and logs")
                new = self.store.transition(task_id, S.FAILED, reason=reason, job=job, expect={status})
                self.events.emit(task_id, "failed", {"reason": reason})
            else:
                new = self.store.transition(task_id, back, reason=f"{why}; running it again", job=job,
                                            expect={status}, fields={"infra_retries": used + int(spend),
                                                                     "retry_at": None},
                                            enqueue=self._job())
                self.events.emit(task_id, "requeued", {"reason": why, "retry": used + 1 if spend else None})
        except (IllegalTransition, Superseded, TaskNotFound):
            return None
        return new

    def requeue_waiting(self, task_id: str, *, job: str | None) -> dict[str, Any] | None:
        """A queued or approved task whose job `job` is gone (or which waited out its retry delay) gets a new
        job, atomically; None when the task moved on meanwhile."""
        try:
            return self.store.update(task_id, {"retry_at": None}, job=job, expect={s.value for s in WAITING},
                                     enqueue=self._job())
        except (IllegalTransition, Superseded, TaskNotFound):
            return None

    def _job(self, func: str | None = None) -> Enqueue:
        """What the store calls inside its MULTI to queue the record's job (`func`, or the one its state needs:
        a task never proposed nor decided runs from the start or its checkpoint, any other resumes)."""

        def enqueue(pipe: Pipeline, record: dict[str, Any]) -> None:
            name = func or (RUN_JOB if not record.get("proposed_at") and not record.get("decision") else RESUME_JOB)
            ttl = int(self.settings.task_retention_days * 86400)
            self.queue.enqueue_call(
                name, args=(record["id"],), job_id=record["job_id"], timeout=int(self.settings.job_timeout),
                result_ttl=ttl, failure_ttl=ttl, on_failure=Callback("agent.jobs.on_job_failure"),
                on_stopped=Callback("agent.jobs.on_job_stopped"),
                description=f"{name.rsplit('.', 1)[-1]} {record['id']}", pipeline=pipe)

        return enqueue
