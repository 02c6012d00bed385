"""`TaskStore`: one JSON record per task in Redis, a checked state machine, indexes for the faces.

Layout (key names from agent.tasks.keys): the record is a JSON string at `task(id)`; sorted sets
index it by creation time (`recent`, `by_channel`, `by_requester`) and by status (`by_status`,
scored by the time the task entered it). Every write is atomic: WATCH on the record (and on the
idempotency key at creation), check, then record, indexes and the rq job that goes with the change in
one MULTI; a concurrent writer makes the loser retry and then fail the check, so two bot replicas
racing on one click cannot both win, and a status never changes without its job being queued.

Ownership (fencing): the record's `job_id` names the one rq job that may work on the task. A job passes
its own id as `job=` to every write; once the task was handed to another job (a rerun after its worker
stopped answering) the write raises Superseded and changes nothing.

Retention: a record (and its event stream) gets an expiry when the task reaches a terminal status, and
the task joins the `ended` index the workers read to delete its LangGraph thread; nothing else expires
on its own. Index entries of expired records are dropped when a reader meets them.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.client import Pipeline
from rq.utils import as_text

from agent.tasks.exceptions import (
    DuplicateDecision,
    IdempotencyConflict,
    IllegalTransition,
    StoreUnavailable,
    Superseded,
    TaskNotFound,
)
from agent.tasks.keys import Keys
from agent.tasks.states import TERMINAL, TaskStatus, can_transition

Enqueue = Callable[[Pipeline, dict[str, Any]], None]  # adds an rq job for the record to the MULTI

IDEMPOTENCY_TTL = 24 * 3600
_STATUS_VERBS = {
    "running": "start it", "queued": "queue it again", "awaiting_approval": "propose a patch for it",
    "approved": "approve it", "publishing": "publish it", "published": "mark it published",
    "rejected": "reject it", "cancelled": "cancel it", "failed": "mark it failed", "timed_out": "time it out",
    "not_fixed": "end it as not fixed", "no_failure": "end it as no failure",
}
_DECISIONS = {"approved", "rejected", "cancelled"}
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# The job that owns a task and its status, without sending the whole record over the wire.
_OWNER = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local record = cjson.decode(raw)
local job = record['job_id']
if type(job) ~= 'string' then job = '' end
return {job, record['status']}
"""


def new_task_id() -> str:
    """A short unique id, safe in paths, labels, Redis keys and branch names: "fx-" and 12 hex digits."""
    return "fx-" + uuid.uuid4().hex[:12]


def is_task_id(task_id: Any) -> bool:
    """Whether `task_id` is safe in paths, container names, branch names and Redis keys (1-64 of [A-Za-z0-9_-],
    not starting with - or _). The one check of task ids, for the store and the workflow alike."""
    return isinstance(task_id, str) and _TASK_ID.fullmatch(task_id) is not None


def job_id_for(task_id: str, count: int) -> str:
    """The id of the task's `count`-th rq job (0-based): the task id for the first, "<task id>_<count>" after."""
    return task_id if count == 0 else f"{task_id}_{count}"


def clock(at: float | None) -> str:
    """An epoch time as people read it in a one-line message: "12:03 UTC"."""
    return time.strftime("%H:%M UTC", time.gmtime(at)) if at else "an unknown time"


@contextmanager
def reachable(conn: Any) -> Iterator[None]:
    """Turn Redis connection failures into StoreUnavailable (one line, says what to do)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        kwargs = conn.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        raise StoreUnavailable(f"cannot reach Redis at {where} ({str(exc).splitlines()[0][:120]}): start it "
                               "or set REDIS_URL") from None


class TaskStore:
    """Task records in Redis. Every status change goes through `transition` (see agent.tasks.states)."""

    def __init__(self, conn: redis.Redis, keys: Keys, *, retention: float = 30 * 86400,
                 queue_name: str = "fixbot") -> None:
        self.conn = conn
        self.keys = keys
        self.retention = int(retention)
        self.queue_name = queue_name
        self._owner = conn.register_script(_OWNER)

    # ------------------------------------------------------------------ records
    def create(self, request: dict[str, Any], origin: dict[str, Any], *, engine: str,
               idempotency_key: str | None = None, retry_of: str | None = None,
               enqueue: Enqueue | None = None) -> tuple[dict[str, Any], bool]:
        """A new queued task (and True), or the task created for the same idempotency key within 24 h (and False).

        `request` is FixRequest.to_dict() (already validated); `origin` is the face's own JSON-able dict
        ({"kind": "slack"|"api"|"cli", ...}); `enqueue` adds the task's first job in the same MULTI, so a
        record never exists without its job. Raises IdempotencyConflict when the key was used for another
        request or engine, StoreUnavailable.
        """
        now = time.time()
        task_id = new_task_id()
        record = {
            "id": task_id, "status": TaskStatus.QUEUED.value, "reason": None, "request": request, "engine": engine,
            "origin": dict(origin), "created_at": now, "started_at": None, "finished_at": None, "decided_at": None,
            "proposed_at": None, "updated_at": now, "result": None,
            "progress": {"phase": "queued", "text": "Waiting for a worker", "candidates_tried": 0, "attempts": 0},
            "attempts": 0, "tokens": {"prompt": 0, "completion": 0, "total": 0}, "risk": None, "decision": None,
            "publication": None, "retry_of": retry_of, "idempotency_key": idempotency_key, "job_id": None,
            "jobs": 0, "infra_retries": 0, "cancelled_by": None, "retry_at": None, "waits": 0,
        }
        if enqueue is not None:
            record.update(job_id=job_id_for(task_id, 0), jobs=1)
        index = [self.keys.recent(), self.keys.by_status(TaskStatus.QUEUED)]
        if origin.get("channel"):
            index.append(self.keys.by_channel(str(origin["channel"])))
        if origin.get("user"):
            index.append(self.keys.by_requester(str(origin["user"])))
        idem_key = self.keys.idempotency(_digest(idempotency_key)) if idempotency_key else None
        with reachable(self.conn), self.conn.pipeline() as pipe:
            while True:
                try:
                    if idem_key is not None:
                        pipe.watch(idem_key)
                        found = pipe.get(idem_key)
                        if found is not None:
                            try:
                                existing = self.get(as_text(found))
                            except TaskNotFound:  # the key outlived its task (deleted by hand): take it over
                                existing = None
                            if existing is not None:
                                pipe.reset()
                                if existing["request"] != request or existing["engine"] != engine:
                                    raise IdempotencyConflict(
                                        f"the idempotency key was already used for another request (task "
                                        f"{existing['id']}): use a new key for a new request")
                                return existing, False
                    pipe.multi()
                    if idem_key is not None:
                        pipe.set(idem_key, task_id, ex=IDEMPOTENCY_TTL)
                    pipe.set(self.keys.task(task_id), json.dumps(record))
                    for key in index:
                        pipe.zadd(key, {task_id: now})
                    if enqueue is not None:
                        enqueue(pipe, record)
                    pipe.execute()
                    return record, True
                except redis.WatchError:
                    continue

    def find_idempotent(self, idempotency_key: str) -> dict[str, Any] | None:
        """The task created for `idempotency_key` within the last 24 h, or None (a face asks before it posts)."""
        with reachable(self.conn):
            found = self.conn.get(self.keys.idempotency(_digest(idempotency_key)))
        if found is None:
            return None
        try:
            return self.get(as_text(found))
        except TaskNotFound:
            return None

    def get(self, task_id: str) -> dict[str, Any]:
        """The record; raises TaskNotFound (also for ids that are not ours) or StoreUnavailable."""
        with reachable(self.conn):
            raw = self.conn.get(self.keys.task(task_id)) if is_task_id(task_id) else None
        if raw is None:
            raise TaskNotFound(f"no task {task_id!r} (unknown id, or its record expired)")
        return json.loads(raw)

    def owner(self, task_id: str) -> tuple[str | None, str]:
        """(the job that owns the task, its status), read atomically and cheaply; TaskNotFound, StoreUnavailable."""
        with reachable(self.conn):
            found: Any = self._owner(keys=[self.keys.task(task_id)]) if is_task_id(task_id) else None
        if not found:
            raise TaskNotFound(f"no task {task_id!r} (unknown id, or its record expired)")
        return as_text(found[0]) or None, as_text(found[1])

    def get_many(self, task_ids: list[str]) -> list[dict[str, Any] | None]:
        """Records in the same order; None where a record is missing."""
        if not task_ids:
            return []
        with reachable(self.conn):
            raws = self.conn.mget([self.keys.task(t) for t in task_ids])
        return [json.loads(raw) if raw is not None else None for raw in raws]

    def transition(self, task_id: str, to: str, *, by: str | None = None, reason: str | None = None,
                   fields: dict[str, Any] | None = None, expect: set[str] | None = None, job: str | None = None,
                   verb: str | None = None, enqueue: Enqueue | None = None) -> dict[str, Any]:
        """Move the task to status `to` atomically and return the new record.

        Checks that `job` (when given) still owns the task, the transition table, and that the current
        status is in `expect` (when given); writes the status, `reason`, timestamps (started_at, proposed_at,
        decided_at, finished_at, updated_at) and `fields`; with `enqueue`, gives the task a new job id and
        queues that job in the same MULTI. `verb` names what was asked in a refusal ("reject it"; by default
        it follows from `to`). Raises Superseded, IllegalTransition (DuplicateDecision when the same
        decision was already taken), TaskNotFound or StoreUnavailable.
        """
        target = TaskStatus(to)

        def change(record: dict[str, Any], now: float) -> dict[str, Any]:
            current = record["status"]
            if not can_transition(current, target) or (expect is not None and current not in expect):
                raise _illegal(record, target, verb)
            new = {**record, **(fields or {}), "status": target.value}
            if reason is not None or target in TERMINAL or target == TaskStatus.RUNNING:
                new["reason"] = reason
            if target == TaskStatus.RUNNING and not record.get("started_at"):
                new["started_at"] = now
            if target == TaskStatus.AWAITING_APPROVAL:
                new["proposed_at"] = now
            if target.value in _DECISIONS or (fields and "decision" in fields):
                new["decided_at"] = now
            if target == TaskStatus.CANCELLED:
                new["cancelled_by"] = by
            if target in TERMINAL:
                new["finished_at"] = now
            return new

        return self._write(task_id, change, job=job, enqueue=enqueue)

    def update(self, task_id: str, fields: dict[str, Any], *, job: str | None = None,
               expect: set[str] | None = None, enqueue: Enqueue | None = None) -> dict[str, Any]:
        """Write non-status fields (progress, result, counters) atomically; returns the new record.

        `job`, `expect` and `enqueue` as for `transition` (a waiting task whose job was lost gets a new one
        this way). Raises Superseded, IllegalTransition (status not in `expect`), TaskNotFound, StoreUnavailable.
        """
        if "status" in fields:
            raise ValueError("status changes go through transition()")

        def change(record: dict[str, Any], now: float) -> dict[str, Any]:
            if expect is not None and record["status"] not in expect:
                raise IllegalTransition(f"task {task_id} is {record['status']}")
            return {**record, **fields}

        return self._write(task_id, change, job=job, enqueue=enqueue)

    def _write(self, task_id: str, change: Callable[[dict[str, Any], float], dict[str, Any]], *,
               job: str | None, enqueue: Enqueue | None) -> dict[str, Any]:
        """WATCH the record, check the owner, apply `change`, then write record, indexes and job in one MULTI."""
        key = self.keys.task(task_id)
        with reachable(self.conn), self.conn.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        raise TaskNotFound(f"no task {task_id!r} (unknown id, or its record expired)")
                    record = json.loads(raw)
                    if job is not None and record.get("job_id") != job:
                        raise Superseded(f"task {task_id} is now worked on by job {record.get('job_id')}, "
                                         f"not {job}")
                    now = time.time()
                    new = {**change(record, now), "updated_at": now}
                    if enqueue is not None:
                        count = int(record.get("jobs") or 0)
                        new.update(job_id=job_id_for(task_id, count), jobs=count + 1)
                    current, target = record["status"], new["status"]
                    pipe.multi()
                    if target == current:
                        pipe.set(key, json.dumps(new), keepttl=True)
                    elif TaskStatus(target) in TERMINAL:
                        pipe.set(key, json.dumps(new), ex=self.retention)
                        pipe.expire(self.keys.events(task_id), self.retention)
                        pipe.zremrangebyscore(self.keys.by_status(target), 0, now - self.retention)
                        pipe.zadd(self.keys.ended(), {task_id: now})
                    else:
                        pipe.set(key, json.dumps(new))
                    if target != current:
                        pipe.zrem(self.keys.by_status(current), task_id)
                        pipe.zadd(self.keys.by_status(target), {task_id: now})
                    if enqueue is not None:
                        enqueue(pipe, new)
                    pipe.execute()
                    return new
                except redis.WatchError:
                    continue

    # ------------------------------------------------------------------ reading for the faces
    def recent(self, *, channel: str | None = None, requester: str | None = None, status: str | None = None,
               cursor: str | None = None, limit: int = 20) -> tuple[list[dict[str, Any]], str | None]:
        """Tasks newest first (by creation; by entry into the status when `status` is given), filtered.

        Returns the page and the cursor of the next page (None at the end). A cursor is opaque.
        """
        if status is not None:
            index = self.keys.by_status(TaskStatus(status))
        elif channel is not None:
            index = self.keys.by_channel(channel)
        elif requester is not None:
            index = self.keys.by_requester(requester)
        else:
            index = self.keys.recent()
        limit = max(1, min(int(limit), 200))
        upper = "+inf" if not cursor else f"({float(cursor)!r}"
        page: list[dict[str, Any]] = []
        last = 0.0  # score of the last record on the page: the next page starts below it
        with reachable(self.conn):
            while True:
                rows: Any = self.conn.zrevrangebyscore(index, upper, "-inf", start=0, num=limit + 1, withscores=True)
                if not rows:
                    return page, None
                ids = [as_text(member) for member, _ in rows]
                for task_id, (_, score), record in zip(ids, rows, self.get_many(ids), strict=True):
                    if record is None:
                        self.conn.zrem(index, task_id)
                        continue
                    if (channel is not None and record["origin"].get("channel") != channel) or (
                            requester is not None and record["origin"].get("user") != requester):
                        continue
                    if len(page) == limit:
                        return page, repr(last)
                    page.append(record)
                    last = float(score)
                upper = f"({rows[-1][1]!r}"

    def ids_in(self, status: str) -> list[str]:
        """Every task id now in `status` (for the workers' watchdog)."""
        with reachable(self.conn):
            return [as_text(m) for m in self.conn.zrange(self.keys.by_status(TaskStatus(status)), 0, -1)]

    def ended(self, before: float, limit: int = 100) -> list[str]:
        """Ids of tasks that reached a terminal status before `before` (epoch s) and whose checkpoint thread
        may still exist, oldest first (see `forget_ended`)."""
        with reachable(self.conn):
            return [as_text(m) for m in self.conn.zrangebyscore(self.keys.ended(), "-inf", before, start=0,
                                                                 num=limit)]

    def forget_ended(self, task_ids: list[str]) -> None:
        """Drop ids from the `ended` index once their checkpoint threads are deleted."""
        if task_ids:
            with reachable(self.conn):
                self.conn.zrem(self.keys.ended(), *task_ids)

    def workers_alive(self) -> int:
        """Workers serving this store's queue whose heartbeat key is still alive (rq's Worker.all drops the ones
        whose key expired; Worker.count would still count a SIGKILLed worker in the registry set)."""
        from rq import Queue, Worker

        with reachable(self.conn):
            return len(Worker.all(queue=Queue(self.queue_name, connection=self.conn)))

    def stats(self, window: float = 7 * 86400) -> dict[str, Any]:
        """Figures for dashboards over tasks created in the last `window` seconds.

        {"window": s, "tasks": n, "by_status": {status: n}, "success_rate": proposals / finished runs | None,
         "median_time_to_fix": s from creation to the proposal | None, "median_attempts": n | None,
         "tokens": total tokens spent, "queue_depth": jobs waiting, "workers_alive": n}
        """
        from rq import Queue

        since = time.time() - window
        with reachable(self.conn):
            ids = [as_text(m) for m in self.conn.zrangebyscore(self.keys.recent(), since, "+inf")]
            records = [r for r in self.get_many(ids) if r is not None]
            queue = Queue(self.queue_name, connection=self.conn)
            depth, workers = queue.count, self.workers_alive()
        by_status: dict[str, int] = {s.value: 0 for s in TaskStatus}
        for r in records:
            by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        proposed = [r for r in records if r.get("proposed_at")]
        ended = [r for r in records if r.get("proposed_at") or r["status"] in TERMINAL]
        fix_times = [r["proposed_at"] - r["created_at"] for r in proposed]
        attempts = [int(r.get("attempts") or 0) for r in proposed]
        return {
            "window": window, "tasks": len(records), "by_status": by_status,
            "success_rate": round(len(proposed) / len(ended), 3) if ended else None,
            "median_time_to_fix": round(statistics.median(fix_times), 1) if fix_times else None,
            "median_attempts": statistics.median(attempts) if attempts else None,
            "tokens": sum(int((r.get("tokens") or {}).get("total") or 0) for r in records),
            "queue_depth": depth, "workers_alive": workers,
        }


def _digest(key: str) -> str:
    """Idempotency keys come from clients: bounded and safe as a Redis key part."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _illegal(record: dict[str, Any], target: TaskStatus, verb: str | None = None) -> IllegalTransition:
    """The refusal, saying what the task is now, since when or by whom, and what was asked.

    "already approved" only while the task is approved (or being published after it), "already rejected"
    only while it is rejected: a task approved by one person and then cancelled by another is "cancelled
    (by the other)", whatever was decided before.
    """
    current, task_id = record["status"], record["id"]
    verb = verb or _STATUS_VERBS.get(target.value, f"move it to {target.value}")
    decision = record.get("decision") or {}
    decided = {"approve": ("approved", "publishing", "published"), "reject": ("rejected",)}
    if decision.get("by") and current in decided.get(str(decision.get("action")), ()):
        who = f" (by {decision['by']} at {clock(decision.get('at'))})"
    elif current == "cancelled" and record.get("cancelled_by"):
        who = f" (by {record['cancelled_by']} at {clock(record.get('finished_at'))})"
    elif current in {s.value for s in TERMINAL}:
        who = f" (since {clock(record.get('finished_at'))})"
    else:
        who = ""
    if current == target.value:
        return DuplicateDecision(f"task {task_id} is already {current}{who}: cannot {verb} again")
    if target == TaskStatus.APPROVED and current in ("publishing", "published") and decision.get("action") == "approve":
        return DuplicateDecision(f"task {task_id} is already approved{who} and {current}: cannot {verb} again")
    return IllegalTransition(f"task {task_id} is {current}{who}: cannot {verb}")
