"""Task events → Slack: one status message per task kept current, thread replies at milestones.

The notifier reads the global event stream through a Redis consumer group (SLACK_NOTIFIER_GROUP),
so with N `fixbot serve` replicas each entry reaches one of them; entries a dead replica read but
never acknowledged are claimed by a live one after CLAIM_IDLE. An entry wakes up its task's
delivery (chatbot.slack.delivery): the task's events are posted in order, once, by one replica at a
time, and the entries are acknowledged only once the milestones they announce are in Slack. When
Slack or Redis fails transiently the task is tried again later (backing off up to MAX_BACKOFF), from
the part that failed; entries stay pending meanwhile, so a replica that dies with them loses nothing.

The status message (the task's origin `message_ts`) is re-rendered from the current task record with
chat.update, at most once per SLACK_UPDATE_INTERVAL per task across all replicas (a Redis key with a
millisecond expiry is the shared throttle; an event inside the interval schedules one edit when it
ends, so the last state is always shown); an edit that fails transiently is scheduled again.

It only reads Redis and calls Slack; it never runs agent code. Slack errors are logged without
tokens (slack_sdk redacts the Authorization header); 429s are first retried by the client's
rate-limit handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import Any

import redis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.tasks.exceptions import StoreUnavailable, TaskNotFound
from chatbot.slack.api_errors import error_code, is_transient
from chatbot.slack.blocks import render_status, status_text
from chatbot.slack.context import SlackDeps
from chatbot.slack.delivery import Delivery
from chatbot.slack.milestones import Milestones

CLAIM_IDLE_MS = 60_000
CLAIM_EVERY = 30.0
PRUNE_IDLE_MS = 3600_000  # a consumer (a replica's host-pid) silent for an hour with nothing pending is gone
BUSY_WAIT = 0.2  # another replica is posting the task's events: look again this soon
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 60.0  # seconds before trying a task again after a transient failure
UNHEALTHY_AFTER = 15.0  # seconds of failing steps before /healthz reports the notifier as failing
log = logging.getLogger(__name__)


def consumer_name() -> str:
    """This replica's consumer name in the group: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Notifier:
    """Posts task events to Slack; `run()` until `stopping` is set."""

    def __init__(self, deps: SlackDeps, client: AsyncWebClient, *, consumer: str | None = None) -> None:
        self.deps = deps
        self.client = client
        self.group = deps.settings.slack_notifier_group
        self.consumer = consumer or consumer_name()
        self.interval = deps.settings.slack_update_interval
        self.milestones = Milestones(deps, client)
        self.delivery = Delivery(deps, self.milestones)
        self._held: dict[str, set[str]] = {}  # task id -> entry ids read and not yet acknowledged
        self._next_try: dict[str, float] = {}  # task id -> monotonic time its delivery is due
        self._backoff: dict[str, float] = {}  # task id -> seconds waited after its last transient failure
        self._running: dict[str, asyncio.Task[None]] = {}  # deliveries in progress
        self._to_ack: set[str] = set()  # entries of finished deliveries, acknowledged at the end of the step
        self._due: dict[str, float] = {}  # task id -> monotonic time of the next status edit attempt
        self._edit_backoff: dict[str, float] = {}
        self._last_claim = 0.0
        self.block_ms = 1000  # longest wait for new events (also how long a stop can take)
        self.ready = asyncio.Event()  # set once the consumer group exists
        self.unhealthy_after = UNHEALTHY_AFTER
        self._failing_since: float | None = None
        self._error: str | None = None
        self._last_failure_log = 0.0

    async def run(self, stopping: asyncio.Event) -> None:
        """Read, post, acknowledge, until `stopping` is set; never dies on an error (logs and waits).

        A consumer group that disappeared (Redis restarted without its data) is created again, from the start
        of the stream: what was emitted since is posted, and the per-task cursors keep anything from being
        posted twice.
        """
        start = "$"  # at the first start, only what comes next
        while not stopping.is_set():
            try:
                if not self.ready.is_set():
                    await self.deps.call(self.deps.events.ensure_group, self.group, start=start)
                    self.ready.set()
                await self.step()
                self._succeeded()
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    self._failed(exc)
                    await _sleep_or_stop(stopping, 1.0)
                    continue
                log.warning("the notifier's consumer group %r is gone (Redis restarted without its data?): "
                            "creating it again", self.group)
                self._failed(exc, logged=True)
                self.ready.clear()
                start = "0"
            except Exception as exc:  # noqa: BLE001 - a bug in one event must not stop every later update
                self._failed(exc)
                await _sleep_or_stop(stopping, 1.0)
        if self._running:  # let deliveries in progress finish their current part
            _done, pending = await asyncio.wait(set(self._running.values()), timeout=3)
            for task in pending:
                task.cancel()
        with contextlib.suppress(Exception):  # what is not acknowledged stays pending: nothing is lost
            await self._flush_acks()

    def health(self) -> dict[str, Any]:
        """{"ok": bool, "failing_for": seconds, "error": the last failure} for /healthz: not ok once every step has
        failed for `unhealthy_after` seconds (Redis unreachable, a broken stream...)."""
        if self._failing_since is None:
            return {"ok": True, "failing_for": 0.0, "error": None}
        failing_for = time.monotonic() - self._failing_since
        return {"ok": failing_for < self.unhealthy_after, "failing_for": round(failing_for, 1), "error": self._error}

    def _failed(self, exc: BaseException, *, logged: bool = False) -> None:
        """Count a failed step; logged once when the failures start, then once a minute (not every second)."""
        now = time.monotonic()
        self._error = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if self._failing_since is None:
            self._failing_since = now
        if logged or now - self._last_failure_log < 60:
            return
        self._last_failure_log = now
        if isinstance(exc, StoreUnavailable):
            log.warning("notifier waiting for Redis: %s", exc)
        elif now == self._failing_since:
            log.error("notifier step failed", exc_info=exc)
        else:
            log.error("notifier still failing after %.0f s: %s", now - self._failing_since, self._error)

    def _succeeded(self) -> None:
        if self._failing_since is not None:
            log.warning("notifier working again after %.0f s", time.monotonic() - self._failing_since)
        self._failing_since, self._error, self._last_failure_log = None, None, 0.0

    async def step(self) -> int:
        """One read of the stream (blocking at most until the next due delivery or edit), then what is due."""
        batch = await self.deps.call(self.deps.events.read_group, self.group, self.consumer,
                                     block_ms=self._block_ms(), count=200)
        if time.monotonic() - self._last_claim > CLAIM_EVERY:
            self._last_claim = time.monotonic()
            batch += await self.deps.call(self.deps.events.claim_stale, self.group, self.consumer,
                                          min_idle_ms=CLAIM_IDLE_MS)
            await self.deps.call(self.prune_consumers)
        for entry_id, event in batch:
            task_id = event["task_id"]
            self._held.setdefault(task_id, set()).add(entry_id)
            self._next_try.setdefault(task_id, 0.0)  # now, unless it is backing off
        self._start_due()
        await self.flush_due()
        await self._flush_acks()
        return len(batch)

    async def _flush_acks(self) -> None:
        """Acknowledge the entries whose milestones are posted; on failure they stay pending, and whichever replica
        gets them again finds nothing new after the task's cursor."""
        if self._to_ack:
            ids, self._to_ack = self._to_ack, set()
            try:
                await self.deps.call(self.deps.events.ack, self.group, sorted(ids))
            except StoreUnavailable:
                self._to_ack |= ids
                raise

    def _block_ms(self) -> int:
        waits = [*self._due.values(), *(at for t, at in self._next_try.items() if t not in self._running)]
        if not waits:
            return self.block_ms
        return max(10, min(self.block_ms, int((min(waits) - time.monotonic()) * 1000)))

    def prune_consumers(self) -> int:
        """Forget consumers of stopped replicas (nothing pending, idle for PRUNE_IDLE_MS); returns how many."""
        stream, removed = self.deps.keys.all_events(), 0
        for info in self.deps.conn.xinfo_consumers(stream, self.group):
            name = info["name"].decode() if isinstance(info["name"], bytes) else str(info["name"])
            if name != self.consumer and not int(info["pending"]) and int(info["idle"]) > PRUNE_IDLE_MS:
                removed += int(self.deps.conn.xgroup_delconsumer(stream, self.group, name) == 0)
        return removed

    # ------------------------------------------------------------------ milestones, in order, once
    def _start_due(self) -> None:
        now = time.monotonic()
        for task_id, at in list(self._next_try.items()):
            if at <= now and task_id not in self._running:
                del self._next_try[task_id]
                ids = set(self._held.get(task_id, ()))
                self._running[task_id] = asyncio.create_task(self._deliver(task_id, ids),
                                                             name=f"fixbot-deliver-{task_id}")

    async def _deliver(self, task_id: str, ids: set[str]) -> None:
        try:
            try:
                outcome = await self.delivery.deliver(task_id)
            except Exception:  # noqa: BLE001 - a bug: logged, and the entries acknowledged (never retried forever)
                log.exception("events of task %s not posted", task_id)
                outcome = "done"
            if outcome == "done":
                self._backoff.pop(task_id, None)
                await self._acknowledge(task_id, ids)
                await self.want_status(task_id)
            elif outcome == "busy":
                self._retry(task_id, BUSY_WAIT)
            else:
                self._backoff[task_id] = min(MAX_BACKOFF, max(FIRST_BACKOFF, 2 * self._backoff.get(task_id, 0.0)))
                self._retry(task_id, self._backoff[task_id])
        finally:
            self._running.pop(task_id, None)

    async def _acknowledge(self, task_id: str, ids: set[str]) -> None:
        self._to_ack |= ids  # acknowledged together once per step (one Redis call, not one per task)
        left = self._held.get(task_id, set()) - ids
        if left:  # woken up again while posting: go again (usually nothing new, then acknowledged)
            self._held[task_id] = left
            self._next_try.setdefault(task_id, 0.0)
        else:
            self._held.pop(task_id, None)

    def _retry(self, task_id: str, after: float) -> None:
        self._next_try[task_id] = time.monotonic() + after

    # ------------------------------------------------------------------ the status message
    async def want_status(self, task_id: str) -> None:
        """Edit the status message now if the shared throttle allows, else schedule the edit."""
        if task_id in self._due and self._due[task_id] > time.monotonic():
            return
        try:
            wait_ms = await self.deps.call(self._take_throttle, task_id)
        except StoreUnavailable:
            self._schedule_edit_again(task_id, "Redis unreachable")
            return
        if wait_ms > 0:
            self._due[task_id] = time.monotonic() + wait_ms / 1000
            return
        self._due.pop(task_id, None)
        await self.edit_status(task_id)

    def _take_throttle(self, task_id: str) -> int:
        """0 when this replica may edit now (and holds the throttle); else the milliseconds to wait."""
        key = self.deps.keys.throttle(task_id)
        if self.deps.conn.set(key, self.consumer, nx=True, px=max(1, int(self.interval * 1000))):
            return 0
        return max(1, int(self.deps.conn.pttl(key)))

    async def flush_due(self) -> None:
        """Run the scheduled edits whose time has come."""
        now = time.monotonic()
        for task_id in [t for t, at in self._due.items() if at <= now]:
            self._due.pop(task_id, None)
            await self.want_status(task_id)

    async def edit_status(self, task_id: str) -> None:
        """Re-render the status message from the current record (SlackDeps.with_progress_blocks decides the blocks);
        scheduled again after a transient failure, so the message ends up showing the last state."""
        try:
            task = await self.deps.call(self.deps.store.get, task_id)
        except TaskNotFound:
            return
        except StoreUnavailable:
            self._schedule_edit_again(task_id, "Redis unreachable")
            return
        origin = task.get("origin") or {}
        if not origin.get("message_ts"):
            return
        try:
            await self.deps.with_progress_blocks(lambda mode: self.client.chat_update(
                channel=origin["channel"], ts=origin["message_ts"], text=status_text(task),
                blocks=render_status(task, now=self.deps.now(), mode=mode)))
            self._edit_backoff.pop(task_id, None)
        except Exception as exc:
            if is_transient(exc):
                self._schedule_edit_again(task_id, error_code(exc) if isinstance(exc, SlackApiError) else
                                          type(exc).__name__)
            elif isinstance(exc, SlackApiError):
                log.warning("could not update the status of task %s: %s", task_id, error_code(exc))
            else:
                raise

    def _schedule_edit_again(self, task_id: str, reason: str) -> None:
        wait = min(MAX_BACKOFF, max(FIRST_BACKOFF, 2 * self._edit_backoff.get(task_id, 0.0)))
        self._edit_backoff[task_id] = wait
        self._due[task_id] = time.monotonic() + wait
        log.warning("status of task %s not updated (%s): trying again in %.0f s", task_id, reason, wait)


async def _sleep_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass
