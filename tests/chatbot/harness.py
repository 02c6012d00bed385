"""Harness of the Slack tests: the real bot served on loopback, talking to the emulator; signed requests.

The bot is the real aiohttp application (chatbot.server.create_app) on an ephemeral loopback port,
talking to the emulator over HTTP and to the real Redis of the test run (database flushed around
each test). Requests are signed with the test signing secret exactly as Slack signs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from agent.settings import Settings, load_settings
from chatbot.server import NOTIFIER_KEY, create_app
from chatbot.slack.access import Access
from chatbot.slack.app import build_bolt_app
from chatbot.slack.context import SlackDeps
from chatbot.workspace import payloads
from chatbot.workspace.emulator import SlackEmulator

SECRET = "test-signing-secret-0123456789"
REQUESTER, APPROVER, OTHER = "U0REQUEST", "U0APPROVE", "U0OTHER"
CHANNEL = "C0GENERAL"
ROOT = Path(__file__).resolve().parents[2]
REPO_URL = "https://github.com/acme/calc"  # on the test allowlist; nothing clones it (no worker runs in these tests)


def bot_settings(emu: SlackEmulator, **over: Any) -> Settings:
    """Settings of a bot talking to `emu`, with its own Redis prefix and queue (REDIS_URL, as tests/conftest.py)."""
    values: dict[str, Any] = dict(
        _env_file=None, redis_url=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        redis_prefix="fixbot-slack-test", queue_name="fixbot-slack-test",
        slack_bot_token=emu.bot_token, slack_signing_secret=SECRET, slack_app_token=emu.app_token,
        # ALLOW_LOCAL_REPOS on, as the README's service section sets it for the CLI: the Slack face must refuse
        # paths anyway (chatbot.slack.validation)
        slack_api_url=emu.url, approvers=APPROVER, allow_local_repos=True, allowed_repos="https://github.com/acme/",
        slack_update_interval=0.2, slack_rate_limit_retries=3)
    values.update(over)
    return load_settings(**values)


@dataclass
class Bot:
    """The served bot and helpers to send it what Slack would."""

    url: str
    settings: Settings
    deps: SlackDeps
    emu: SlackEmulator
    http: aiohttp.ClientSession
    app: Any

    async def post(self, body: str, *, content_type: str = "application/x-www-form-urlencoded",
                   secret: str = SECRET, timestamp: int | None = None, retry_num: int | None = None) -> tuple[int, str]:
        headers = payloads.signed_headers(secret, body, timestamp=timestamp, content_type=content_type,
                                          retry_num=retry_num)
        async with self.http.post(f"{self.url}/slack/events", data=body.encode(), headers=headers) as resp:
            return resp.status, await resp.text()

    async def command(self, text: str, *, user: str = REQUESTER, channel: str = CHANNEL, key: str = "cmd",
                      trigger_id: str | None = None, **kw: Any) -> tuple[int, str]:
        fields = payloads.slash_command(text, user=user, channel=channel, response_url=self.emu.response_url(key),
                                        trigger_id=trigger_id)
        return await self.post(payloads.form_body(fields), **kw)

    async def click(self, action_id: str, value: str, *, user: str, message_ts: str, key: str = "click",
                    channel: str = CHANNEL) -> tuple[int, str]:
        payload = payloads.block_action(action_id, value, user=user, channel=channel, message_ts=message_ts,
                                        response_url=self.emu.response_url(key))
        return await self.post(payloads.interaction_body(payload))

    async def submit_view(self, callback_id: str, values: dict[str, Any], *, user: str,
                          private_metadata: str) -> tuple[int, str]:
        payload = payloads.view_submission(callback_id, values, user=user, private_metadata=private_metadata)
        return await self.post(payloads.interaction_body(payload))

    async def event(self, event: dict[str, Any], *, event_id: str | None = None,
                    retry_num: int | None = None) -> tuple[int, str]:
        body = json.dumps(payloads.event_callback(event, event_id=event_id))
        return await self.post(body, content_type="application/json", retry_num=retry_num)

    def responses(self, key: str) -> list[dict[str, Any]]:
        return [r for r in self.emu.responses if r["key"] == key]

    async def wait_response(self, key: str, *, timeout: float = 10.0) -> dict[str, Any]:
        found = await self.emu.wait_for(lambda: self.responses(key), timeout=timeout, what=f"a response to {key}")
        return found[-1]

    def task_ids(self) -> list[str]:
        tasks, _ = self.deps.store.recent(limit=50)
        return [t["id"] for t in tasks]


async def serve_bot(emu: SlackEmulator, settings: Settings, *, notifier: bool = True,
                    consumer: str | None = None) -> tuple[TestServer, Any]:
    """Build and serve the real application on 127.0.0.1 (an ephemeral port)."""
    deps = SlackDeps.from_settings(settings, Access(settings))
    bolt_app = build_bolt_app(settings, deps)
    app = create_app(settings, bolt_app=bolt_app, deps=deps, notifier=notifier)
    if notifier:
        app[NOTIFIER_KEY].block_ms = 100  # quick stops between tests
        if consumer:
            app[NOTIFIER_KEY].consumer = consumer
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    if notifier:
        await asyncio.wait_for(app[NOTIFIER_KEY].ready.wait(), timeout=10)
    return server, deps


@contextlib.asynccontextmanager
async def served_bot(emu: SlackEmulator, *, notifier: bool = True, consumer: str | None = None,
                     **over: Any) -> AsyncIterator[Bot]:
    """A bot served on loopback with `bot_settings(emu, **over)`, closed on exit."""
    settings = bot_settings(emu, **over)
    server, deps = await serve_bot(emu, settings, notifier=notifier, consumer=consumer)
    try:
        async with aiohttp.ClientSession() as http:
            yield Bot(str(server.make_url("")).rstrip("/"), settings, deps, emu, http, server.app)
    finally:
        await server.close()


def example_folder() -> Path:
    """The bundled example repository's folder (served as a git remote by the tests that run a worker)."""
    return ROOT / "examples" / "calculate_total"


def now() -> float:
    return time.time()


SHORT_DIFF = """--- a/calc.py
+++ b/calc.py
@@ -3,5 +3,4 @@ def calculate_total(items):
     total = 0
     for amount in items:
-        if amount > 0:
-            total += amount
+        total += amount
     return total
"""


def proposal(diff: str = SHORT_DIFF, level: str = "medium") -> dict[str, Any]:
    """A proposal as agent.jobs emits it (the "proposed" event's data)."""
    return {"analysis": "Refunds (negative amounts) are skipped by the `if amount > 0` guard.",
            "final_patch": {"filename": "calc.py", "diff": diff, "explanation": "Count every amount."},
            "explanation": "Count every amount.", "risk": {"level": level, "reasons": ["removes a condition"]},
            "test_results": [{"attempt": 1, "success": True, "stdout": "3 passed"}], "candidates_tried": 12,
            "attempts": 0, "engine": "search", "message": "fixed"}


def play_worker_to_proposal(deps: SlackDeps, task_id: str, data: dict[str, Any] | None = None) -> None:
    """What agent.jobs does up to the proposal (for tests of the Slack side without a worker process):
    running, progress events, the reproduction, the proposal and the pause."""
    data = data or proposal()
    store, events = deps.store, deps.events
    if store.get(task_id)["status"] == "queued":
        store.transition(task_id, "running", expect={"queued"})
    events.emit(task_id, "started", {"job": task_id})
    store.update(task_id, {"progress": {"phase": "reproduce", "text": "Running the tests", "candidates_tried": 0,
                                        "attempts": 0}})
    events.emit(task_id, "phase", {"phase": "reproduce", "text": "Running the tests"})
    events.emit(task_id, "reproduced", {"status": "running", "message": "1 failing test(s) reproduced",
                                        "failing": ["tests/test_calc.py::test_refunds"], "passing": 2})
    store.update(task_id, {"progress": {"phase": "test", "text": "Proving", "candidates_tried": 12, "attempts": 0}})
    events.emit(task_id, "candidates", {"tried": 12, "survivors": 1, "total": 40})
    store.transition(task_id, "awaiting_approval", expect={"running"},
                     fields={"result": {**data, "status": "fixed", "proposal": data}, "risk": data["risk"]})
    events.emit(task_id, "proposed", data)
    events.emit(task_id, "approval_needed", {"risk": data["risk"], "filename": "calc.py"})


async def start_task(bot: Bot, text: str | None = None, *, user: str = REQUESTER) -> tuple[str, str]:
    """/fix on the example repository; returns (task id, thread ts) once the task exists."""
    before = set(bot.task_ids())
    await bot.command(text or f"{REPO_URL} refunds are not subtracted", user=user, key=f"start-{len(before)}")
    new = await bot.emu.wait_for(lambda: [t for t in bot.task_ids() if t not in before], what="a new task")
    task = bot.deps.store.get(new[0])
    for _ in range(200):
        if bot.deps.conn.get(bot.deps.keys.thread(CHANNEL, task["origin"]["thread_ts"])):
            break
        await asyncio.sleep(0.01)
    return task["id"], task["origin"]["thread_ts"]


def proposal_messages(emu: SlackEmulator, thread_ts: str) -> list[dict[str, Any]]:
    """Bot messages in the thread that carry (or carried) the decision buttons (not the status message, whose
    timeline is titled "Patch proposed" too)."""
    return [m for m in emu.messages(CHANNEL, thread_ts=thread_ts)
            if m["blocks"] and ":bulb: *Patch proposed*" in json.dumps(m["blocks"][0], ensure_ascii=False)]


def has_buttons(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" and b.get("block_id") == "decision" for b in message["blocks"])
