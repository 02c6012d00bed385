"""Posting one task's events to Slack in order, once, and resuming after a failure: `Delivery.deliver(task_id)`.

The notifiers' consumer group spreads the global event stream over the replicas, so two events of
one task can reach two replicas. An entry of the global stream is therefore only a wake-up ("task T
has news"); what is posted comes from the task's own stream (agent.tasks.events), read after the
task's cursor (a Redis hash: the last event whose milestone was posted, and the parts done of one
that failed half-way), by the one replica holding the task's delivery lock (redis-py's Lock, a token
checked on release). Whichever replica wakes up, events are posted in the order they were emitted,
and an event is posted once even when two replicas race or one dies half-way. Most wake-ups are
progress (phase, candidates) that post nothing: those only move the cursor past them, with a
compare-and-set and without the lock.

A transient failure (a 429 that outlasted the client's retries, Slack's 5xx, a network error, Redis
unreachable) leaves the cursor where it was: `deliver` answers "retry" and the caller tries again
later, from the part that failed. Any other failure is logged and that part is skipped, so one bad
message never blocks the task's later updates.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from redis.exceptions import LockError
from redis.lock import Lock
from slack_sdk.errors import SlackApiError

from agent.tasks.exceptions import TaskNotFound
from agent.tasks.store import reachable
from chatbot.slack.api_errors import error_code, is_transient
from chatbot.slack.context import SlackDeps
from chatbot.slack.milestones import Milestones, posts

LOCK_TTL = 120.0  # seconds; renewed after every part, so only a dead replica's lock runs out
Outcome = Literal["done", "busy", "retry"]
log = logging.getLogger(__name__)


class Delivery:
    """Ordered, resumable posting of task events (see the module's docstring)."""

    def __init__(self, deps: SlackDeps, milestones: Milestones) -> None:
        self.deps = deps
        self.milestones = milestones
        self._skip_script = deps.conn.register_script(_SKIP)

    async def deliver(self, task_id: str) -> Outcome:
        """Post every event of the task after its cursor: "done", "busy" (another replica is posting this task's
        events now: ask again shortly) or "retry" (a transient failure: ask again later)."""
        try:  # most wake-ups are progress (phase, candidates): nothing to post, so no lock and no write
            cursor, events = await self.deps.call(self._pending, task_id)
        except Exception as exc:
            if is_transient(exc):
                return "retry"
            raise
        if not any(posts(event) for event in events):
            if events:  # move the cursor past them, unless a delivery moved it meanwhile (then it is that one's)
                await self.deps.call(self._skip, task_id, cursor["after"], events[-1]["id"])
            return "done"
        lock = Lock(self.deps.conn, self.deps.keys.delivery_lock(task_id), timeout=LOCK_TTL, blocking=False,
                    thread_local=False)
        try:
            if not await self.deps.call(self._locked, lock.acquire):
                return "busy"
        except Exception as exc:
            if is_transient(exc):
                return "retry"
            raise
        try:
            return await self._run(task_id, lock)
        except LockError:  # held past LOCK_TTL and taken over: the other replica goes on from the cursor
            return "retry"
        except Exception as exc:
            if is_transient(exc):
                log.warning("events of task %s wait: %s", task_id, _reason(exc))
                return "retry"
            raise
        finally:
            try:
                await self.deps.call(self._locked, lock.release)
            except Exception:  # noqa: BLE001 - expired, or Redis gone: the lock times out by itself
                pass

    def _locked(self, operation: Any) -> Any:
        with reachable(self.deps.conn):
            return operation()

    async def _run(self, task_id: str, lock: Lock) -> Outcome:
        cursor, events, task = await self.deps.call(self._load, task_id)
        if not events:
            return "done"
        if task is None or (task.get("origin") or {}).get("kind") != "slack":
            await self.deps.call(self._write_cursor, task_id, events[-1]["id"], None, None)
            return "done"
        after = cursor["after"]
        for event in events:
            state: dict[str, Any] = dict(cursor["state"]) if cursor["entry"] == event["id"] else {}
            done = set(state.get("done") or [])
            parts = self.milestones.parts(task, event)
            for i, (name, part) in enumerate(parts):
                if name in done:
                    continue
                try:
                    await part(state)
                except Exception as exc:
                    if is_transient(exc):
                        log.warning("%s of task %s not posted yet (%s): will try again", event["kind"], task_id,
                                    _reason(exc))
                        await self.deps.call(self._write_cursor, task_id, after, event["id"], state)
                        return "retry"
                    if isinstance(exc, SlackApiError):
                        log.warning("could not post %s of task %s: %s", event["kind"], task_id, error_code(exc))
                    else:
                        log.exception("posting %s of task %s failed", event["kind"], task_id)
                done.add(name)
                state["done"] = sorted(done)
                if i + 1 < len(parts):  # resume after this part if a later one fails
                    await self.deps.call(self._write_cursor, task_id, after, event["id"], state)
                await self.deps.call(self._locked, lock.reacquire)
            after = event["id"]
            if parts:
                await self.deps.call(self._write_cursor, task_id, after, None, None)
        if after != cursor["after"]:
            await self.deps.call(self._write_cursor, task_id, after, None, None)
        return "done"

    def _pending(self, task_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The task's cursor and its events after it (one thread hop from the event loop)."""
        cursor = self._read_cursor(task_id)
        return cursor, self.deps.events.replay(task_id, cursor["after"])

    def _load(self, task_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
        """The cursor, the events after it and the task's record (None when it expired)."""
        cursor, events = self._pending(task_id)
        try:
            return cursor, events, self.deps.store.get(task_id) if events else None
        except TaskNotFound:
            return cursor, events, None

    def _skip(self, task_id: str, seen: str, after: str) -> None:
        """Move the cursor from `seen` to `after` past events that post nothing, only if it is still at `seen` with
        no milestone half-way (a compare-and-set: never moves it back under a delivery that went further)."""
        with reachable(self.deps.conn):
            self._skip_script(keys=[self.deps.keys.cursor(task_id)], args=[seen, after, self.deps.retention])

    def _read_cursor(self, task_id: str) -> dict[str, Any]:
        with reachable(self.deps.conn):
            raw = self.deps.conn.hgetall(self.deps.keys.cursor(task_id))
        values = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in raw.items()}
        return {"after": values.get("after") or "0-0", "entry": values.get("entry") or "",
                "state": json.loads(values["state"]) if values.get("state") else {}}

    def _write_cursor(self, task_id: str, after: str, entry: str | None, state: dict[str, Any] | None) -> None:
        key = self.deps.keys.cursor(task_id)
        with reachable(self.deps.conn), self.deps.conn.pipeline() as pipe:
            pipe.hset(key, "after", after)
            if entry:
                pipe.hset(key, mapping={"entry": entry, "state": json.dumps(state or {})})
            else:
                pipe.hdel(key, "entry", "state")
            pipe.expire(key, self.deps.retention)
            pipe.execute()


_SKIP = """
local after = redis.call('HGET', KEYS[1], 'after') or '0-0'
if after ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'entry') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'after', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def _reason(exc: BaseException) -> str:
    return error_code(exc) if isinstance(exc, SlackApiError) else (str(exc) or type(exc).__name__)
