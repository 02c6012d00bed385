"""What the listeners and the notifier share: the task service, Slack's own Redis keys, links, dedupe.

Redis is the durable layer's synchronous client (agent.tasks); every call goes through
asyncio.to_thread so the event loop (and Slack's acks) never waits on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
from rq.utils import as_text
from slack_sdk.errors import SlackApiError

from agent.settings import Settings
from agent.tasks.events import TaskEvents
from agent.tasks.exceptions import TaskNotFound
from agent.tasks.keys import Keys
from agent.tasks.service import TaskService
from agent.tasks.store import TaskStore, reachable
from chatbot.slack.access import Access
from chatbot.slack.api_errors import error_code
from chatbot.slack.validation import face_settings

T = TypeVar("T")
SEEN_TTL = 24 * 3600  # Slack redelivers within minutes; a day is plenty
log = logging.getLogger(__name__)


class SlackKeys(Keys):
    """The Slack face's own keys, under the same prefix as the task layer's (agent.tasks.keys)."""

    def thread(self, channel: str, ts: str) -> str:
        """String: the latest task of a Slack thread (its parent's ts), for replies, reactions and mentions."""
        return self._k("slack", "thread", channel, ts)

    def messages(self, task_id: str) -> str:
        """Hash: the task's Slack messages besides the status message ("proposal": ts of the open proposal)."""
        return self._k("slack", "messages", task_id)

    def offer(self, offer_id: str) -> str:
        """String: a thread reply offered as feedback (JSON: task_id, feedback, reply_ts, user)."""
        return self._k("slack", "offer", offer_id)

    def cursor(self, task_id: str) -> str:
        """Hash: how far the task's events were posted ("after": last event id done; "entry" and "state": the
        parts done of a milestone that failed half-way)."""
        return self._k("slack", "cursor", task_id)

    def delivery_lock(self, task_id: str) -> str:
        """String: held by the replica posting the task's events now (one at a time, in order)."""
        return self._k("slack", "lock", task_id)

    def throttle(self, task_id: str) -> str:
        """String: set while the task's status message was edited less than SLACK_UPDATE_INTERVAL ago."""
        return self._k("slack", "throttle", task_id)


@dataclass
class SlackDeps:
    """Everything a listener needs, built once per process by `SlackDeps.from_settings`."""

    settings: Settings
    service: TaskService
    keys: SlackKeys
    access: Access
    now: Callable[[], float] = time.time
    workspace_url: str | None = None  # from auth.test, for thread links
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)  # listeners' work after their ack
    progress_mode: str = ""  # "plan" or "classic": the blocks progress is shown with (see with_progress_blocks)

    def __post_init__(self) -> None:
        self.progress_mode = self.progress_mode or self.settings.slack_progress_blocks

    @classmethod
    def from_settings(cls, settings: Settings, access: Access, conn: redis.Redis | None = None) -> SlackDeps:
        """Deps on the configured Redis (or `conn`), prefix and queue; local repositories refused (see
        chatbot.slack.validation), also by the task service this face submits through."""
        settings = face_settings(settings)
        service = TaskService.from_settings(settings, conn=conn)
        return cls(settings, service, SlackKeys(settings.redis_prefix), access)

    @property
    def store(self) -> TaskStore:
        """The task store."""
        return self.service.store

    @property
    def events(self) -> TaskEvents:
        """The task event streams."""
        return self.service.events

    @property
    def conn(self) -> redis.Redis:
        """The Redis client of the task layer."""
        return self.service.store.conn

    @property
    def retention(self) -> int:
        """Seconds Slack's keys of a task live (as long as finished task records)."""
        return int(self.settings.task_retention_days * 86400)

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> None:
        """Run a listener's work after its ack, as a task this process tracks (its errors are logged)."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, timeout: float = 10.0) -> None:
        """Let running listener work finish (on shutdown); what is still running after `timeout` is cancelled."""
        if not self.tasks:
            return
        _done, pending = await asyncio.wait(set(self.tasks), timeout=timeout)
        for task in pending:
            task.cancel()

    async def with_progress_blocks(self, send: Callable[[str], Awaitable[T]]) -> T:
        """`send(mode)` with the blocks progress is shown with here ("plan", or "classic"); the one place that
        decides it for every post of this process (the status message, `@fixbot status`...).

        A workspace that refuses plan blocks (invalid_blocks) gets classic ones from then on, and this post
        is sent again with them.
        """
        mode = self.progress_mode
        try:
            return await send(mode)
        except SlackApiError as exc:
            if mode != "plan" or error_code(exc) != "invalid_blocks":
                raise
        log.warning("Slack refused plan blocks; using classic progress blocks from now on")
        self.progress_mode = "classic"
        return await send("classic")

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking task-layer call in a thread."""
        return await asyncio.to_thread(func, *args, **kwargs)

    async def first_time(self, marker: str) -> bool:
        """True the first time `marker` (an event id, a command's trigger id) is seen; False for Slack's retries."""
        def claim() -> bool:
            with reachable(self.conn):
                return bool(self.conn.set(self.keys.seen_event(marker), "1", nx=True, ex=SEEN_TTL))
        return await self.call(claim)

    async def remember_thread(self, channel: str, ts: str, task_id: str) -> None:
        """Record that the thread started by message `ts` belongs to `task_id` (the latest one wins)."""
        def write() -> None:
            with reachable(self.conn):
                self.conn.set(self.keys.thread(channel, ts), task_id, ex=self.retention)
        await self.call(write)

    async def task_in_thread(self, channel: str, ts: str | None) -> dict[str, Any] | None:
        """The latest task of the thread whose parent is `ts`, or None."""
        if not ts:
            return None

        def read() -> dict[str, Any] | None:
            with reachable(self.conn):
                raw = self.conn.get(self.keys.thread(channel, ts))
            if raw is None:
                return None
            try:
                return self.store.get(raw.decode() if isinstance(raw, bytes) else str(raw))
            except TaskNotFound:
                return None
        return await self.call(read)

    async def message_refs(self, task_id: str) -> dict[str, str]:
        """The task's extra Slack messages (e.g. {"proposal": ts})."""
        def read() -> dict[str, str]:
            with reachable(self.conn):
                raw = self.conn.hgetall(self.keys.messages(task_id))
            return {as_text(k): as_text(v) for k, v in raw.items()}
        return await self.call(read)

    async def set_message_ref(self, task_id: str, name: str, ts: str) -> None:
        """Remember one of the task's messages by name."""
        def write() -> None:
            with reachable(self.conn), self.conn.pipeline() as pipe:
                pipe.hset(self.keys.messages(task_id), name, ts)
                pipe.expire(self.keys.messages(task_id), self.retention)
                pipe.execute()
        await self.call(write)

    async def save_offer(self, task_id: str, feedback: str, *, reply_ts: str, user: str) -> str:
        """Keep a thread reply offered as feedback; returns the short id its "Retry with this" button carries.

        The text stays here, not in the button (a value holds 2,000 characters, counted after JSON escaping).
        """
        offer_id = secrets.token_urlsafe(12)
        data = json.dumps({"task_id": task_id, "feedback": feedback, "reply_ts": reply_ts, "user": user})

        def write() -> None:
            with reachable(self.conn):
                self.conn.set(self.keys.offer(offer_id), data, ex=self.retention)
        await self.call(write)
        return offer_id

    async def offer(self, offer_id: str) -> dict[str, str] | None:
        """An offer saved by `save_offer`, or None (unknown id, or expired)."""
        if not offer_id or len(offer_id) > 64:
            return None

        def read() -> Any:
            with reachable(self.conn):
                return self.conn.get(self.keys.offer(offer_id))
        raw = await self.call(read)
        return json.loads(raw) if raw else None

    async def channel_defaults(self, channel: str) -> dict[str, str]:
        """The channel's /fix defaults (repo, test, branch, setup, engine)."""
        def read() -> dict[str, str]:
            with reachable(self.conn):
                raw = self.conn.hgetall(self.keys.channel_config(channel))
            return {as_text(k): as_text(v) for k, v in raw.items()}
        return await self.call(read)

    async def set_channel_defaults(self, channel: str, values: dict[str, str] | None) -> dict[str, str]:
        """Merge `values` into the channel's defaults (None clears them); an empty value removes that key."""
        def write() -> None:
            key = self.keys.channel_config(channel)
            with reachable(self.conn), self.conn.pipeline() as pipe:
                if values is None:
                    pipe.delete(key)
                else:
                    for name, value in values.items():
                        if value:
                            pipe.hset(key, name, value)
                        else:
                            pipe.hdel(key, name)
                pipe.execute()
        await self.call(write)
        return await self.channel_defaults(channel)

    def link(self, task: dict[str, Any]) -> str | None:
        """A permalink to the task's thread, built the way Slack builds them (no API call); None if unknown."""
        origin = task.get("origin") or {}
        if origin.get("kind") != "slack" or not self.workspace_url or not origin.get("thread_ts"):
            return None
        ts = str(origin["thread_ts"]).replace(".", "")
        return f"{self.workspace_url.rstrip('/')}/archives/{origin['channel']}/p{ts}"

