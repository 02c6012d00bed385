"""Task events → Slack: one status message per task kept current, thread replies at milestones.

The notifier reads the global event stream through a Redis consumer group (SLACK_NOTIFIER_GROUP),
so with N `fixbot serve` replicas each event is handled by one of them; entries a dead replica read
but never acknowledged are claimed by a live one after CLAIM_IDLE. What it posts:

- status message (the task's origin `message_ts`): re-rendered from the current task record with
  chat.update, at most once per SLACK_UPDATE_INTERVAL per task across all replicas (a Redis key with
  a millisecond expiry is the shared throttle; an event arriving inside the interval schedules one
  edit when it ends, so the last state is always shown);
- thread replies: bug reproduced (failing tests, first lines of the failure), the proposal (diff
  inline, or uploaded with files_upload_v2 when long; Approve / Reject buttons), decisions (the
  proposal's buttons are replaced by the outcome), the end (published, or why not and what next).

It only reads Redis and calls Slack; it never runs agent code. Slack errors are logged (never a
token: slack_sdk redacts the Authorization header) and the event is acknowledged anyway, so a bad
message cannot block the stream; 429s are retried by the client's rate-limit handler.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections import defaultdict
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from agent.tasks.exceptions import StoreUnavailable, TaskNotFound
from chatbot.slack.blocks import (
    RETRY_TASK,
    diff_filename,
    diff_is_short,
    patch_filename,
    proposal_of,
    render_button,
    render_decision_area,
    render_decision_reply,
    render_outcome,
    render_proposal,
    render_reproduced,
    render_status,
    status_text,
)
from chatbot.slack.context import SlackDeps

OUTCOMES = ("published", "failed", "timed_out", "not_fixed", "no_failure", "cancelled")
CLAIM_IDLE_MS = 60_000
CLAIM_EVERY = 30.0
PRUNE_IDLE_MS = 3600_000  # a consumer (a replica's host-pid) silent for an hour with nothing pending is gone
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
        self.mode = deps.settings.slack_progress_blocks
        self._due: dict[str, float] = {}  # task id -> monotonic time of the next status edit attempt
        self._last_claim = 0.0
        self.block_ms = 1000  # longest wait for new events (also how long a stop can take)
        self.ready = asyncio.Event()  # set once the consumer group exists

    async def run(self, stopping: asyncio.Event) -> None:
        """Read, post, acknowledge, until `stopping` is set; never dies on an error (logs and waits)."""
        while not stopping.is_set():
            try:
                if not self.ready.is_set():
                    await self.deps.call(self.deps.events.ensure_group, self.group)
                    self.ready.set()
                await self.step()
            except StoreUnavailable as exc:
                log.warning("notifier waiting for Redis: %s", exc)
                await _sleep_or_stop(stopping, 1.0)
            except Exception:  # noqa: BLE001 - a bug in one event must not stop every later update
                log.exception("notifier step failed")
                await _sleep_or_stop(stopping, 1.0)

    async def step(self) -> int:
        """One read of the stream (blocking at most until the next scheduled edit), then the due edits."""
        block_ms = self.block_ms
        if self._due:
            block_ms = max(10, min(block_ms, int((min(self._due.values()) - time.monotonic()) * 1000)))
        batch = await self.deps.call(self.deps.events.read_group, self.group, self.consumer, block_ms=block_ms,
                                     count=200)
        if time.monotonic() - self._last_claim > CLAIM_EVERY:
            self._last_claim = time.monotonic()
            batch += await self.deps.call(self.deps.events.claim_stale, self.group, self.consumer,
                                          min_idle_ms=CLAIM_IDLE_MS)
            await self.deps.call(self.prune_consumers)
        if batch:
            await self.handle(batch)
        await self.flush_due()
        return len(batch)

    def prune_consumers(self) -> int:
        """Forget consumers of stopped replicas (nothing pending, idle for PRUNE_IDLE_MS); returns how many."""
        stream, removed = self.deps.keys.all_events(), 0
        for info in self.deps.conn.xinfo_consumers(stream, self.group):
            name = info["name"].decode() if isinstance(info["name"], bytes) else str(info["name"])
            if name != self.consumer and not int(info["pending"]) and int(info["idle"]) > PRUNE_IDLE_MS:
                removed += int(self.deps.conn.xgroup_delconsumer(stream, self.group, name) == 0)
        return removed

    async def handle(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        """Handle a batch: tasks concurrently, each task's events in order; then acknowledge them all."""
        by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for _entry_id, event in batch:
            by_task[event["task_id"]].append(event)
        results = await asyncio.gather(*(self._handle_task(task_id, events) for task_id, events in by_task.items()),
                                       return_exceptions=True)
        for task_id, result in zip(by_task, results, strict=True):
            if isinstance(result, Exception):  # acknowledged anyway: one bad event must not come back forever
                log.error("events of task %s not posted", task_id, exc_info=result)
        await self.deps.call(self.deps.events.ack, self.group, [entry_id for entry_id, _ in batch])

    async def _handle_task(self, task_id: str, events: list[dict[str, Any]]) -> None:
        try:
            task = await self.deps.call(self.deps.store.get, task_id)
        except TaskNotFound:
            return
        if (task.get("origin") or {}).get("kind") != "slack":
            return
        for event in events:
            try:
                await self._milestone(task, event)
            except SlackApiError as exc:
                log.warning("could not post %s of task %s: %s", event["kind"], task_id, _error(exc))
        await self.want_status(task_id)

    # ------------------------------------------------------------------ the status message
    async def want_status(self, task_id: str) -> None:
        """Edit the status message now if the shared throttle allows, else schedule the edit."""
        if task_id in self._due and self._due[task_id] > time.monotonic():
            return
        wait_ms = await self.deps.call(self._take_throttle, task_id)
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
        """Re-render the status message from the current record (plan blocks, or classic if Slack refuses)."""
        try:
            task = await self.deps.call(self.deps.store.get, task_id)
        except TaskNotFound:
            return
        origin = task.get("origin") or {}
        if not origin.get("message_ts"):
            return
        for attempt in range(2):
            try:
                await self.client.chat_update(channel=origin["channel"], ts=origin["message_ts"],
                                              text=status_text(task), blocks=render_status(task, now=self.deps.now(),
                                                                                           mode=self.mode))
                return
            except SlackApiError as exc:
                if _error(exc) == "invalid_blocks" and self.mode == "plan" and attempt == 0:
                    log.warning("Slack refused plan blocks; using classic progress blocks from now on")
                    self.mode = "classic"
                    continue
                log.warning("could not update the status of task %s: %s", task_id, _error(exc))
                return

    # ------------------------------------------------------------------ milestones
    async def _milestone(self, task: dict[str, Any], event: dict[str, Any]) -> None:
        kind, data = event["kind"], event.get("data") or {}
        if kind == "reproduced" and data.get("failing"):
            await self.reply(task, render_reproduced(task, data), "Bug reproduced")
        elif kind == "proposed":
            await self.post_proposal(task, data)
        elif kind == "decision":
            await self.reply(task, render_decision_reply(task, data), "Decision")
            await self.close_proposal(task)
        elif kind in OUTCOMES:
            if kind == "cancelled":
                await self.close_proposal(task)
            blocks = render_outcome(task)
            if kind != "published":
                blocks.append(render_button("Retry", RETRY_TASK, task["id"]))
            await self.reply(task, blocks, f"Task {task['status']}")
            publication = task.get("publication") or {}
            if kind == "published" and publication.get("patch") and not publication.get("pr_url"):
                await self.upload(task, patch_filename(task), str(publication["patch"]), "The approved patch")

    async def reply(self, task: dict[str, Any], blocks: list[Block], text: str) -> str:
        """Post in the task's thread; returns the reply's ts."""
        origin = task["origin"]
        reply = await self.client.chat_postMessage(channel=origin["channel"], thread_ts=origin["thread_ts"],
                                                   text=text, blocks=blocks, unfurl_links=False)
        return str(reply["ts"])

    async def upload(self, task: dict[str, Any], filename: str, content: str, title: str) -> None:
        """Attach a file to the task's thread (files_upload_v2: get an upload URL, send, complete)."""
        origin = task["origin"]
        await self.client.files_upload_v2(channel=origin["channel"], thread_ts=origin["thread_ts"],
                                          filename=filename, title=title, content=content.encode("utf-8"))

    async def post_proposal(self, task: dict[str, Any], proposal: dict[str, Any]) -> None:
        """The patch with its buttons; a long diff is uploaded first. The blocks are kept to close it later."""
        task = {**task, "proposal": proposal or task.get("proposal")}
        diff = proposal_of(task)["diff"]
        inline = diff_is_short(diff, self.deps.settings.slack_diff_inline_lines)
        if diff and not inline:
            await self.upload(task, diff_filename(task), diff, "Proposed patch")
        blocks = render_proposal(task, inline_diff=inline)
        ts = await self.reply(task, blocks, "Patch proposed: approve or reject")
        await self.deps.set_message_ref(task["id"], "proposal", ts)
        await self.deps.set_message_ref(task["id"], "proposal_blocks", json.dumps([b.to_dict() for b in blocks]))

    async def close_proposal(self, task: dict[str, Any]) -> None:
        """Replace the open proposal's buttons by what happened (approved by, rejected by, sent back, cancelled)."""
        refs = await self.deps.message_refs(task["id"])
        if not refs.get("proposal") or not refs.get("proposal_blocks"):
            return
        kept = [b for b in json.loads(refs["proposal_blocks"]) if b.get("block_id") != "decision"]
        blocks = kept + [b.to_dict() for b in render_decision_area(task)]
        await self.client.chat_update(channel=task["origin"]["channel"], ts=refs["proposal"],
                                      text="Patch proposal (decided)", blocks=blocks)


def _error(exc: SlackApiError) -> str:
    return str((exc.response.get("error") if exc.response is not None else None) or exc)


async def _sleep_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass
