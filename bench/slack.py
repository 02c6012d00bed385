"""The Slack face under load: ack latency, /fix → first message in the thread, Web API calls per task.

A real `fixbot serve` process (HTTP) talks to the Web API emulator (`python -m chatbot.workspace`, its
own process, so neither shares a CPU-bound event loop with this load generator) on loopback, and to
the real Redis at REDIS_URL under a throw-away key prefix and queue (deleted at the end; nothing
else is touched).

1. Ack latency: N concurrent, correctly signed `/fix` requests (distinct trigger ids), measured from
   sending the request to the HTTP response (the ack); p50 / p99. Then the same requests sent one at a
   time (no contention).
2. /fix → first message: from sending the request to the emulator recording the bot's chat.postMessage
   of that task's thread parent.
3. Web API calls per task: a task whose events arrive at a high rate (EVENTS phase events over
   --seconds, the shape of the search engine's progress), counting the chat.update calls that reach
   Slack (coalescing: about one per SLACK_UPDATE_INTERVAL); with --worker, also whole tasks on a real
   worker and Docker (examples/calculate_total, served by `git daemon` on loopback: /fix → proposal → Approve →
   published), all calls by method.

Usage: .venv/bin/python bench/slack.py [--concurrency 50] [--sequential 20] [--events 300 --seconds 5]
                                       [--worker] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.settings import load_settings  # noqa: E402
from agent.tasks.service import TaskService  # noqa: E402
from chatbot.slack import blocks as b  # noqa: E402
from chatbot.workspace import payloads  # noqa: E402
from chatbot.workspace.gitserver import GitServer  # noqa: E402
from chatbot.workspace.processes import stop_process_groups  # noqa: E402

SECRET = "bench-signing-secret-0123456789"
REQUESTER, APPROVER = "U0REQUEST", "U0APPROVE"
EXAMPLE = ROOT / "examples" / "calculate_total"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulator:
    """The emulator process and its call log (read over HTTP, GET /_emulator/calls)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "chatbot.workspace", "--user", REQUESTER,
                                      "--user", APPROVER], stdout=subprocess.PIPE, cwd=ROOT, start_new_session=True)
        info = json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.url, self.base, self.bot_token = info["url"], info["base"], info["bot_token"]
        self.calls: list[dict[str, Any]] = []

    def response_url(self, key: str) -> str:
        return f"{self.base}/respond/{key}"

    async def refresh(self, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        async with http.get(f"{self.base}/_emulator/calls", params={"since": str(len(self.calls))}) as resp:
            self.calls += (await resp.json())["calls"]
        return self.calls

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == method]

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


class Stack:
    """The emulator here, `fixbot serve` (and optionally `fixbot worker`) as child processes."""

    def __init__(self, tmp: Path, emu: Emulator, interval: float) -> None:
        tag = uuid.uuid4().hex[:8]
        self.prefix, self.queue = f"fxbench-{tag}", f"qbench-{tag}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        # Slack takes repositories by URL only: the example is served by `git daemon` on loopback.
        self.git = GitServer(tmp / "remotes")
        self.git.publish(EXAMPLE, "calculate_total")
        self.repo = self.git.start() + "calculate_total.git"
        self.env = {**os.environ, "REDIS_PREFIX": self.prefix, "QUEUE_NAME": self.queue, "ALLOWED_REPOS": self.git.url,
                    "DEPLOYMENT_ID": f"bench-{tag}", "SLACK_BOT_TOKEN": emu.bot_token,
                    "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": emu.url, "APPROVERS": APPROVER,
                    "SLACK_UPDATE_INTERVAL": str(interval), "API_HOST": "127.0.0.1",
                    "WORK_DIR": str(tmp / "work"), "CHECKPOINT_DB": str(tmp / "checkpoints.sqlite"),
                    "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "WORKER_HEARTBEAT": "1", "WORKER_LEASE_TTL": "5"}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> None:
        log = open(self.tmp / f"{args[0]}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs.append(subprocess.Popen([sys.executable, "-m", "agent.cli", *args], env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, cwd=self.tmp, start_new_session=True))

    def service(self) -> TaskService:
        return TaskService.from_settings(load_settings(redis_url=self.env.get("REDIS_URL"), redis_prefix=self.prefix,
                                                       queue_name=self.queue, allowed_repos=self.git.url))

    def stop_worker(self) -> None:
        """Stop the worker (SIGTERM: it finishes its task) and wait for it."""
        for proc in self.procs:
            if proc.args[3:4] == ["worker"] and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)

    def stop(self) -> None:
        self.git.stop()
        stop_process_groups(self.procs)
        conn = redis.Redis.from_url(self.env.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
        for pattern in (f"{self.prefix}:*", f"rq:*{self.queue}*"):
            for key in conn.scan_iter(match=pattern, count=1000):
                conn.delete(key)


async def wait_ready(http: aiohttp.ClientSession, url: str, *, worker: bool) -> None:
    for _ in range(600):
        try:
            async with http.get(f"{url}/healthz") as resp:
                if resp.status == 200 and (not worker or (await resp.json())["workers_alive"]):
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"fixbot serve did not become healthy at {url}")


async def signed_fix(http: aiohttp.ClientSession, stack: Stack, emu: Emulator, text: str) -> float:
    """Send one signed /fix; returns the seconds until the ack (the HTTP response)."""
    body = payloads.form_body(payloads.slash_command(text, user=REQUESTER, response_url=emu.response_url("b")))
    headers = payloads.signed_headers(SECRET, body)
    started = time.perf_counter()
    async with http.post(f"{stack.url}/slack/events", data=body.encode(), headers=headers) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return time.perf_counter() - started


def first_message_at(emu: Emulator, marker: str) -> float | None:
    for call in emu.calls_to("chat.postMessage"):
        if call["ok"] and marker in str(call["args"].get("text")):
            return float(call["at"])
    return None


async def ack_and_first_message(http, stack, emu, n: int, concurrent: bool) -> dict[str, Any]:  # noqa: ANN001
    tag = uuid.uuid4().hex[:6]
    texts = [f"{stack.repo} bench {tag} issue {i:03d} total is wrong" for i in range(n)]
    sent: dict[str, float] = {}

    async def one(text: str) -> float:
        sent[text] = time.time()
        return await signed_fix(http, stack, emu, text)

    if concurrent:
        acks = await asyncio.gather(*(one(t) for t in texts))
    else:
        acks = [await one(t) for t in texts]
    firsts: list[float] = []
    deadline = time.monotonic() + 60
    for text in texts:
        marker = text.split(stack.repo, 1)[1].strip()[:40]
        while (at := first_message_at(emu, marker)) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await emu.refresh(http)
        if at is not None:
            firsts.append(at - sent[text])
    ms = [a * 1000 for a in acks]
    return {"requests": n, "ack_p50_ms": round(percentile(ms, 50), 1), "ack_p99_ms": round(percentile(ms, 99), 1),
            "ack_max_ms": round(max(ms), 1), "first_message_p50_ms": round(percentile(firsts, 50) * 1000, 1),
            "first_message_p99_ms": round(percentile(firsts, 99) * 1000, 1), "first_messages_seen": len(firsts)}


async def coalescing(stack: Stack, emu: Emulator, http: aiohttp.ClientSession, events: int,
                     seconds: float) -> dict[str, Any]:
    service = stack.service()
    marker = f"coalesce {uuid.uuid4().hex[:6]}"
    await signed_fix(http, stack, emu, f"{stack.repo} {marker} total is wrong")
    while first_message_at(emu, marker) is None:
        await asyncio.sleep(0.05)
        await emu.refresh(http)
    task_id = None
    while task_id is None:
        tasks, _ = service.store.recent(limit=200)
        task_id = next((t["id"] for t in tasks if marker in t["request"]["issue"]), None)
        await asyncio.sleep(0.01)
    ts = service.store.get(task_id)["origin"]["message_ts"]
    await asyncio.sleep(1.0)
    await emu.refresh(http)
    before = len([c for c in emu.calls_to("chat.update") if c["args"].get("ts") == ts])
    started = time.monotonic()
    for i in range(events):
        service.store.update(task_id, {"progress": {"phase": "repair", "text": f"candidate {i}",
                                                    "candidates_tried": i + 1, "attempts": 0}})
        service.events.emit(task_id, "phase", {"phase": "repair", "text": f"candidate {i}"})
        await asyncio.sleep(max(0.0, started + (i + 1) * seconds / events - time.monotonic()))
    await asyncio.sleep(3 * float(stack.env["SLACK_UPDATE_INTERVAL"]))
    await emu.refresh(http)
    edits = [c for c in emu.calls_to("chat.update") if c["args"].get("ts") == ts and c["ok"]][before:]
    shown = json.dumps(edits[-1]["args"].get("blocks")) if edits else ""
    return {"events": events, "seconds": seconds, "status_edits": len(edits),
            "edits_per_second": round(len(edits) / seconds, 2), "last_state_shown": f"{events} candidates" in shown}


async def whole_tasks(stack: Stack, emu: Emulator, http: aiohttp.ClientSession, count: int) -> dict[str, Any]:
    service = stack.service()
    per_task: list[dict[str, int]] = []
    events: list[int] = []
    for _ in range(count):
        first_call = len(await emu.refresh(http))
        marker = f"whole {uuid.uuid4().hex[:6]}"
        await signed_fix(http, stack, emu, f"{stack.repo} {marker} refunds are ignored test: python3 -m pytest -q")
        task = None
        for _ in range(3000):
            tasks, _c = service.store.recent(limit=200)
            task = next((t for t in tasks if marker in t["request"]["issue"]), None)
            if task and task["status"] == "awaiting_approval" and service.store.conn.hget(
                    f"{stack.prefix}:slack:messages:{task['id']}", "proposal"):
                break
            await asyncio.sleep(0.1)
        assert task is not None and task["status"] == "awaiting_approval", task
        proposal_ts = service.store.conn.hget(f"{stack.prefix}:slack:messages:{task['id']}", "proposal").decode()
        body = payloads.interaction_body(payloads.block_action(b.APPROVE, task["id"], user=APPROVER,
                                                               message_ts=proposal_ts))
        async with http.post(f"{stack.url}/slack/events", data=body.encode(),
                             headers=payloads.signed_headers(SECRET, body)) as resp:
            assert resp.status == 200
        for _ in range(1200):
            if service.store.get(task["id"])["status"] in ("published", "failed"):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3 * float(stack.env["SLACK_UPDATE_INTERVAL"]))
        await emu.refresh(http)
        counts = collections.Counter(c["method"] for c in emu.calls[first_call:] if c["method"] != "auth.test")
        per_task.append(dict(counts))
        events.append(len(service.events.replay(task["id"])))
    totals = [sum(c.values()) for c in per_task]
    return {"tasks": count, "calls_per_task_median": statistics.median(totals),
            "events_per_task_median": statistics.median(events), "by_method": per_task}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    emu = Emulator()
    with tempfile.TemporaryDirectory(prefix="fixbot-bench-") as tmp:
        stack = Stack(Path(tmp), emu, args.interval)
        stack.start("serve", "--port", str(stack.port))
        if args.worker:
            stack.start("worker")
        results: dict[str, Any] = {}
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                await wait_ready(http, stack.url, worker=args.worker)
                await signed_fix(http, stack, emu, "help")  # warm-up: auth.test, connection pools (no task)
                if args.worker:  # first, while the queue is empty; then the worker goes (the load tasks stay queued)
                    results["whole_tasks"] = await whole_tasks(stack, emu, http, args.tasks)
                    stack.stop_worker()
                await asyncio.sleep(0.5)
                results["concurrent"] = await ack_and_first_message(http, stack, emu, args.concurrency, True)
                await asyncio.sleep(1.0)
                results["sequential"] = await ack_and_first_message(http, stack, emu, args.sequential, False)
                results["coalescing"] = await coalescing(stack, emu, http, args.events, args.seconds)
        finally:
            stack.stop()
            emu.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=1.0, help="SLACK_UPDATE_INTERVAL of the bot")
    parser.add_argument("--worker", action="store_true", help="also run whole tasks on a worker (needs Docker)")
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    results["date"] = datetime.date.today().isoformat()
    results["cpus"] = os.cpu_count()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    c, s, k = results["concurrent"], results["sequential"], results["coalescing"]
    print(f"ack, {c['requests']} concurrent: p50 {c['ack_p50_ms']} ms, p99 {c['ack_p99_ms']} ms "
          f"(max {c['ack_max_ms']})")
    print(f"ack, {s['requests']} one at a time: p50 {s['ack_p50_ms']} ms, p99 {s['ack_p99_ms']} ms")
    print(f"/fix -> first message, concurrent: p50 {c['first_message_p50_ms']} ms, p99 {c['first_message_p99_ms']} ms")
    print(f"/fix -> first message, one at a time: p50 {s['first_message_p50_ms']} ms, "
          f"p99 {s['first_message_p99_ms']} ms")
    print(f"status edits: {k['events']} events in {k['seconds']:g} s -> {k['status_edits']} chat.update "
          f"({k['edits_per_second']}/s), last state shown: {k['last_state_shown']}")
    if "whole_tasks" in results:
        w = results["whole_tasks"]
        print(f"whole tasks (/fix -> proposal -> approve -> published): median {w['calls_per_task_median']} "
              f"Web API calls for {w['events_per_task_median']} events per task; by method: {w['by_method']}")


if __name__ == "__main__":
    main()
