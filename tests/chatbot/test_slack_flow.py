"""The whole flow, for real: two `fixbot serve` processes (HTTP), a `fixbot worker` process, Redis, Docker.

/fix on examples/calculate_total (served by `git daemon` on loopback: Slack takes repositories by URL only)
→ status updates, the reproduction and the proposal with buttons in the
emulator → Approve → the task resumes on the worker and the thread says it was published (with the patch
attached). A second task: Reject with feedback and retry → a new proposal → Reject. Each milestone is
posted once although two replicas consume the event stream, and the status message is edited at most
about once per SLACK_UPDATE_INTERVAL.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.settings import load_settings
from agent.tasks.service import TaskService
from chatbot.slack import blocks as b
from chatbot.slack.surfaces import FEEDBACK_MODAL
from chatbot.workspace import payloads
from chatbot.workspace.gitserver import GitServer
from chatbot.workspace.processes import stop_process_groups
from tests.chatbot.harness import APPROVER, CHANNEL, REQUESTER, SECRET, example_folder, has_buttons, proposal_messages

pytestmark = [pytest.mark.redis, pytest.mark.docker, pytest.mark.slow]
INTERVAL = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Deployment:
    """Processes of one test deployment (own Redis prefix, queue and sandbox labels) and their logs."""

    def __init__(self, tmp: Path, emu: Any, sandbox_image: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.tmp = tmp
        self.git = GitServer(tmp / "remotes")
        self.git.publish(example_folder(), "calculate_total")
        self.repo_url = self.git.start() + "calculate_total.git"
        self.env = {
            **os.environ, "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
            "REDIS_PREFIX": f"fxs-{tag}", "QUEUE_NAME": f"qs-{tag}", "DEPLOYMENT_ID": f"slack-{tag}",
            "ALLOW_LOCAL_REPOS": "true", "SANDBOX_IMAGE": sandbox_image, "WORK_DIR": str(tmp / "work"),
            "CHECKPOINT_DB": str(tmp / "checkpoints.sqlite"), "DOCKER_MAX_CPU": "1", "DOCKER_TIMEOUT": "60",
            "REPAIR_TIME_BUDGET": "60", "WORKER_HEARTBEAT": "1", "WORKER_LEASE_TTL": "5", "OPENAI_API_KEY": "",
            "OPENAI_BASE_URL": "", "SLACK_BOT_TOKEN": emu.bot_token, "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": emu.url, "APPROVERS": APPROVER, "SLACK_UPDATE_INTERVAL": str(INTERVAL),
            "API_HOST": "127.0.0.1", "ALLOWED_REPOS": self.git.url,
        }
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{args[0]}-{len(self.procs)}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli", *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=self.tmp, start_new_session=True)
        self.procs.append(proc)
        return proc

    def service(self) -> TaskService:
        keys = ("REDIS_URL", "REDIS_PREFIX", "QUEUE_NAME", "DEPLOYMENT_ID", "ALLOW_LOCAL_REPOS", "ALLOWED_REPOS")
        return TaskService.from_settings(load_settings(_env_file=None, **{k.lower(): self.env[k] for k in keys}))

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log")))

    def stop(self) -> None:
        self.git.stop()
        stop_process_groups(self.procs)


@pytest.fixture
def deployment(tmp_path: Path, emulator: Any, sandbox_image: str, redis_conn: Any) -> Iterator[Deployment]:
    dep = Deployment(tmp_path, emulator, sandbox_image)
    yield dep
    dep.stop()


async def wait_healthy(http: aiohttp.ClientSession, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{url}/healthz") as resp:
                if resp.status == 200 and (await resp.json())["workers_alive"] >= 1:
                    return
        await _sleep(0.2)
    raise AssertionError(f"{url} not healthy with a worker after {timeout} s")


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def post(http: aiohttp.ClientSession, url: str, body: str, content_type: str) -> int:
    headers = payloads.signed_headers(SECRET, body, content_type=content_type)
    async with http.post(f"{url}/slack/events", data=body.encode(), headers=headers) as resp:
        return resp.status


async def click(http, url, emu, action_id, value, user, message_ts, key):  # noqa: ANN001
    body = payloads.interaction_body(payloads.block_action(action_id, value, user=user, message_ts=message_ts,
                                                           response_url=emu.response_url(key)))
    assert await post(http, url, body, "application/x-www-form-urlencoded") == 200


async def test_fix_to_published_and_reject_with_feedback_with_two_replicas(deployment, emulator):
    emu = emulator
    ports = [free_port(), free_port()]
    deployment.start("worker")
    for port in ports:
        deployment.start("serve", "--port", str(port))
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    service = deployment.service()
    async with aiohttp.ClientSession() as http:
        try:
            for url in urls:
                await wait_healthy(http, url)
            # 1. /fix through replica A
            text = (f"{deployment.repo_url} refunds are ignored: [10, -5, 3] gives 13 instead of 8 "
                    "test: python3 -m pytest -q")
            body = payloads.form_body(payloads.slash_command(text, user=REQUESTER,
                                                             response_url=emu.response_url("fix")))
            assert await post(http, urls[0], body, "application/x-www-form-urlencoded") == 200
            parent = (await emu.wait_for(lambda: emu.messages(CHANNEL), what="the thread parent"))[0]
            thread = parent["ts"]
            proposal = (await emu.wait_for(lambda: proposal_messages(emu, thread), timeout=240,
                                           what="the proposal"))[0]
            assert has_buttons(proposal)
            task_id = next(e["value"] for blk in proposal["blocks"] if blk["type"] == "actions"
                           for e in blk["elements"])
            replies = emu.messages(CHANNEL, thread_ts=thread)
            assert len([m for m in replies if "Reproduced:" in json.dumps(m["blocks"])]) == 1
            assert "test_calc.py" in json.dumps(replies)
            await emu.wait_for(lambda: "awaiting approval" in json.dumps(emu.message(CHANNEL, thread)["blocks"]),
                               what="the status message at the proposal")
            # 2. Approve through replica B; the worker resumes and publishes
            await click(http, urls[1], emu, b.APPROVE, task_id, APPROVER, proposal["ts"], "approve")
            await emu.wait_for(lambda: service.store.get(task_id)["status"] in ("published", "failed"), timeout=120,
                               what="publication")
            record = service.store.get(task_id)
            assert record["status"] == "published", record["reason"]
            await emu.wait_for(lambda: [m for m in emu.messages(CHANNEL, thread_ts=thread)
                                        if "Committed, nothing pushed:" in json.dumps(m["blocks"])], timeout=30,
                               what="the published reply")
            await emu.wait_for(lambda: [f for f in emu.files.values() if f["name"] == f"fixbot-{task_id}.patch"],
                               what="the patch file")
            assert f"Approved by <@{APPROVER}>" in json.dumps(emu.message(CHANNEL, proposal["ts"])["blocks"])
            await emu.wait_for(
                lambda: ":package: committed, nothing pushed" in json.dumps(emu.message(CHANNEL, thread)["blocks"]),
                what="the final status")
            thread_msgs = emu.messages(CHANNEL, thread_ts=thread)
            for marker in ("Reproduced:", ":bulb: *Patch proposed*", "Publishing the patch",
                           "Committed, nothing pushed:"):
                found = [m for m in thread_msgs if m["ts"] != thread and marker in json.dumps(m["blocks"])]
                assert len(found) == 1, (marker, len(found))  # two replicas, each milestone posted once
            edits = sorted(c.at for c in emu.calls_to("chat.update") if c.args.get("ts") == thread and c.ok)
            span = edits[-1] - edits[0] if len(edits) > 1 else 0
            assert len(edits) <= span / INTERVAL + 3, (len(edits), span)

            # 3. A second task: reject with feedback and retry, then reject the new proposal
            body = payloads.form_body(payloads.slash_command(text, user=REQUESTER,
                                                             response_url=emu.response_url("fix2")))
            assert await post(http, urls[1], body, "application/x-www-form-urlencoded") == 200
            thread2 = (await emu.wait_for(lambda: emu.messages(CHANNEL)[1:], what="the second parent"))[0]["ts"]
            first = (await emu.wait_for(lambda: proposal_messages(emu, thread2), timeout=240, what="proposal"))[0]
            task2 = next(e["value"] for blk in first["blocks"] if blk["type"] == "actions" for e in blk["elements"])
            await click(http, urls[0], emu, b.REJECT_FEEDBACK, task2, REQUESTER, first["ts"], "fb")
            modal = (await emu.wait_for(lambda: list(emu.views.values()), what="the modal"))[-1]
            values = {"feedback": {"feedback": {"type": "plain_text_input", "value": "refunds must be subtracted"}},
                      "retry": {"retry": {"type": "checkboxes", "selected_options": [{"value": "retry"}]}}}
            submit = payloads.interaction_body(payloads.view_submission(
                FEEDBACK_MODAL, values, user=REQUESTER, private_metadata=modal["private_metadata"]))
            assert await post(http, urls[0], submit, "application/x-www-form-urlencoded") == 200
            second = (await emu.wait_for(lambda: proposal_messages(emu, thread2)[1:], timeout=240,
                                         what="the second proposal"))[0]
            assert "Sent back by" in json.dumps(emu.message(CHANNEL, first["ts"])["blocks"])
            assert service.store.get(task2)["decision"]["feedback"] == "refunds must be subtracted"
            await click(http, urls[1], emu, b.REJECT, task2, REQUESTER, second["ts"], "reject")
            await emu.wait_for(lambda: service.store.get(task2)["status"] == "rejected", what="rejected")
            await emu.wait_for(lambda: "Rejected by" in json.dumps(emu.message(CHANNEL, second["ts"])["blocks"]),
                               what="the second proposal closed")
        except BaseException:
            print(deployment.logs())
            print("responses:", json.dumps(emu.responses)[-3000:])
            raise
    text_everywhere = json.dumps([c.args for c in emu.calls]) + deployment.logs()
    for secret in (emu.bot_token, SECRET):
        assert secret not in text_everywhere  # never in a message, an upload's metadata or a log line
    assert all(emu.bot_token.encode() not in (f["content"] or b"") for f in emu.files.values())
