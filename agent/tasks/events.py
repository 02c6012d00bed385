"""`TaskEvents`: the graph's EventSink on Redis Streams, a per-task stream and one global stream.

Each event is the stream entry {"kind", "task_id", "at" (epoch seconds), "data" (JSON object)}; readers
get {"id": entry id, "kind", "task_id", "at": float, "data": dict}. Both streams are capped with
MAXLEN ~ (approximate trimming, O(1)); the per-task stream expires with its finished task's record.
The faces' notifiers read the global stream through a consumer group, so several bot replicas each
handle an event once; a reader (`fixbot watch`, SSE) replays a task's stream from the start and then
blocks for new entries. Candidate progress is sampled: at most one event of a sampled kind per task
every SAMPLE_SECONDS in this process (the graph of one task runs in one process).

Kinds and their data (the workflow's own kinds keep the shapes agent/graph/nodes emit):
  queued {engine, position, retry_of} · started {job, rerun} · phase {phase, text} · reproduced {status,
  message, failing, passing} · localized {suspects} · candidates {tried, survivors, total} (sampled) ·
  candidate {engine, description, files} (sampled) · proof {candidate, success} · analysis {text} ·
  review / repro_test (LLM engine) · finished {status, message} (the graph's end or pause) ·
  proposed {task_id, analysis, final_patch {filename, files, diff, explanation}, explanation, risk {level,
  reasons}, test_results [{attempt, success, stdout, candidate}], candidates_tried, attempts, engine, message} ·
  approval_needed {risk, filename} · decision {action: approve|reject|retry, by, feedback} · resumed {action,
  by, job} · published {branch, commit, pr_url} · requeued {reason, retry} (a dead worker or an infrastructure
  fault) · failed {reason} · timed_out {reason} · not_fixed {reason} · no_failure {reason} · cancelled {by, was}.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis
from rq.utils import as_text

from agent.tasks.keys import Keys
from agent.tasks.store import reachable

SAMPLED_KINDS = frozenset({"candidate", "candidates"})
SAMPLE_SECONDS = 0.3
GLOBAL_FACTOR = 50  # the global stream keeps this many times a task stream's length
log = logging.getLogger(__name__)



def decode(entry_id: Any, fields: dict[Any, Any]) -> dict[str, Any]:
    """One stream entry as the event dict readers get."""
    f = {as_text(k): as_text(v) for k, v in fields.items()}
    try:
        data = json.loads(f.get("data") or "{}")
    except json.JSONDecodeError:
        data = {}
    return {"id": as_text(entry_id), "kind": f.get("kind", ""), "task_id": f.get("task_id", ""),
            "at": float(f.get("at") or 0), "data": data}


class TaskEvents:
    """Writes (as an agent.events.EventSink) and reads task events."""

    def __init__(self, conn: redis.Redis, keys: Keys, *, maxlen: int = 2000, global_maxlen: int | None = None) -> None:
        self.conn = conn
        self.keys = keys
        self.maxlen = maxlen
        self.global_maxlen = global_maxlen or maxlen * GLOBAL_FACTOR
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ writing
    def emit(self, task_id: str, kind: str, data: dict[str, Any]) -> None:
        """Append one event to the task's stream and the global stream; never raises (progress is best effort)."""
        if kind in SAMPLED_KINDS and not self._sample(task_id, kind):
            return
        fields: dict[Any, Any] = {"kind": kind, "task_id": task_id, "at": repr(time.time()),
                  "data": json.dumps(data, default=str, ensure_ascii=False)}
        try:
            with self.conn.pipeline(transaction=False) as pipe:
                pipe.xadd(self.keys.events(task_id), fields, maxlen=self.maxlen, approximate=True)
                pipe.xadd(self.keys.all_events(), fields, maxlen=self.global_maxlen, approximate=True)
                pipe.execute()
        except Exception as exc:  # noqa: BLE001 - a lost progress event must never fail the task
            log.warning("could not write event %s of task %s: %s", kind, task_id, exc)

    def _sample(self, task_id: str, kind: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get((task_id, kind), -SAMPLE_SECONDS) < SAMPLE_SECONDS:
                return False
            self._last[(task_id, kind)] = now
            if len(self._last) > 10_000:
                self._last.clear()
            return True

    # ------------------------------------------------------------------ reading one task
    def replay(self, task_id: str, after: str = "0-0", count: int | None = None) -> list[dict[str, Any]]:
        """The task's events after entry id `after` (all of them by default), oldest first."""
        with reachable(self.conn):
            rows: Any = self.conn.xrange(self.keys.events(task_id), min=f"({after}" if after != "0-0" else "-",
                                    count=count)
        return [decode(entry_id, fields) for entry_id, fields in rows]

    def follow(self, task_id: str, after: str = "0-0", *, block_ms: int = 5000,
               count: int = 200) -> list[dict[str, Any]]:
        """New events of the task after `after`, waiting up to block_ms for the first one ([] on timeout)."""
        with reachable(self.conn):
            rows: Any = self.conn.xread({self.keys.events(task_id): after}, count=count, block=block_ms)
        return [decode(entry_id, fields) for _stream, entries in rows or [] for entry_id, fields in entries]

    # ------------------------------------------------------------------ consumer groups on the global stream
    def ensure_group(self, group: str, *, start: str = "$") -> None:
        """Create the consumer group on the global stream (from new events by default); idempotent."""
        with reachable(self.conn):
            try:
                self.conn.xgroup_create(self.keys.all_events(), group, id=start, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def read_group(self, group: str, consumer: str, *, block_ms: int = 5000,
                   count: int = 100) -> list[tuple[str, dict[str, Any]]]:
        """Events delivered to this consumer, never to another one of the group: [(entry_id, event)].

        Unacknowledged entries stay pending; `claim_stale` hands those of a dead consumer to a live one.
        """
        with reachable(self.conn):
            rows: Any = self.conn.xreadgroup(group, consumer, {self.keys.all_events(): ">"}, count=count,
                                             block=block_ms)
        return [(as_text(entry_id), decode(entry_id, fields))
                for _stream, entries in rows or [] for entry_id, fields in entries]

    def claim_stale(self, group: str, consumer: str, *, min_idle_ms: int = 60_000,
                    count: int = 100) -> list[tuple[str, dict[str, Any]]]:
        """Take over entries another consumer read but did not ack for min_idle_ms (it died): XAUTOCLAIM."""
        with reachable(self.conn):
            reply: Any = self.conn.xautoclaim(self.keys.all_events(), group, consumer, min_idle_ms, "0-0", count=count)
        entries = reply[1] if len(reply) > 1 else []
        return [(as_text(entry_id), decode(entry_id, fields)) for entry_id, fields in entries if fields]

    def ack(self, group: str, ids: list[str]) -> int:
        """Acknowledge handled entries; returns how many were pending."""
        if not ids:
            return 0
        with reachable(self.conn):
            return int(self.conn.xack(self.keys.all_events(), group, *ids))
