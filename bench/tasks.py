"""The durable-task service under load: throughput with 1 and 2 workers, queue wait, event latency,
decision → resume latency and the time to notice a SIGKILLed worker.

Real Redis (REDIS_URL; the benchmark uses its own key prefix and queue, and deletes only those keys),
real `fixbot worker` processes, real Docker with the sandbox image, the examples/ repositories.

Usage: REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python bench/tasks.py [--tasks 8] [--kills 3] [--json]

Worker settings are the defaults (WORKER_HEARTBEAT 5 s, WORKER_LEASE_TTL 20 s), so the detection time
is what a deployment gets.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.request import FixRequest  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from agent.tasks.service import TaskService  # noqa: E402

EXAMPLES = ["calculate_total", "gcd", "in_range", "count_vowels", "mean_value", "first_or_default", "to_base",
            "running_max", "pascal", "flatten", "sieve", "binary_search"]
SLOW = {
    "conftest.py": "",
    "calc.py": "def calculate_total(items):\n    total = 0\n    for x in items:\n        if x > 0:\n"
               "            total += x\n    return total\n",
    "tests/test_calc.py": "import time\n\nfrom calc import calculate_total\n\n\ndef test_slow():\n    time.sleep(4)\n"
                          "    assert calculate_total([1, 2]) == 3\n\n\ndef test_negative():\n"
                          "    assert calculate_total([1, -2, 3]) == 2\n",
}


class Bench:
    """Workers and a service on a private prefix and queue."""

    def __init__(self, tmp: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.tmp = tmp
        self.prefix = f"fxbench-{tag}"
        self.env = {**os.environ, "REDIS_PREFIX": self.prefix, "QUEUE_NAME": f"bench-{tag}",
                    "DEPLOYMENT_ID": f"bench-{tag}", "ALLOW_LOCAL_REPOS": "true", "WORK_DIR": str(tmp / "work"),
                    "CHECKPOINT_DB": str(tmp / "checkpoints.sqlite"), "DOCKER_MAX_CPU": "1",
                    "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
        self.settings = load_settings(redis_url=os.environ.get("REDIS_URL"), redis_prefix=self.prefix,
                                      queue_name=self.env["QUEUE_NAME"], allow_local_repos=True,
                                      work_dir=tmp / "work", checkpoint_db=tmp / "checkpoints.sqlite")
        self.svc = TaskService.from_settings(self.settings)
        self.workers: list[subprocess.Popen] = []

    def start_workers(self, n: int) -> None:
        for _ in range(n):
            log = open(self.tmp / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115
            self.workers.append(subprocess.Popen([sys.executable, "-m", "agent.cli", "worker"], env=self.env,
                                                 stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp,
                                                 start_new_session=True))
        deadline = time.monotonic() + 60
        while self.svc.store.stats()["workers_alive"] < len([w for w in self.workers if w.poll() is None]):
            if time.monotonic() > deadline:
                raise SystemExit("workers did not register within 60 s")
            time.sleep(0.2)

    def stop_workers(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pass
            try:  # the whole session, also what a killed worker's children left
                os.killpg(w.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            w.wait()
        self.workers = []

    def submit(self, repo: Path, issue: str | None = None) -> dict[str, Any]:
        issue = issue or (repo / "ISSUE.md").read_text()
        record, _ = self.svc.submit(FixRequest(repo=str(repo), issue=issue), {"kind": "cli", "user": "bench"})
        return record

    def wait(self, task_id: str, statuses: set[str], timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            record = self.svc.store.get(task_id)
            if record["status"] in statuses:
                return record
            if time.monotonic() > deadline:
                raise SystemExit(f"{task_id} still {record['status']} after {timeout} s")
            time.sleep(0.05)

    def first(self, task_id: str, kind: str) -> dict[str, Any] | None:
        return next((e for e in self.svc.events.replay(task_id) if e["kind"] == kind), None)

    def cleanup(self) -> None:
        self.stop_workers()
        conn = self.svc.store.conn
        for key in conn.scan_iter(match=f"{self.prefix}:*", count=1000):
            conn.delete(key)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def throughput(bench: Bench, workers: int, names: list[str]) -> dict[str, Any]:
    """Submit every example at once to `workers` workers; time until all of them wait for approval."""
    bench.start_workers(workers)
    t0 = time.time()
    tasks = [bench.submit(ROOT / "examples" / name) for name in names]
    records = [bench.wait(t["id"], {"awaiting_approval", "not_fixed", "failed", "no_failure", "timed_out"})
               for t in tasks]
    elapsed = max(r["updated_at"] for r in records) - t0
    waits = [r["started_at"] - r["created_at"] for r in records]
    first_event = []
    for r in records:
        started = bench.first(r["id"], "started")
        progress = bench.first(r["id"], "phase")
        first_event.append(((started or {}).get("at", 0) - r["created_at"], (progress or {}).get("at", 0)
                            - r["created_at"]))
    bench.stop_workers()
    return {"workers": workers, "tasks": len(tasks), "proposed": sum(r["status"] == "awaiting_approval"
                                                                     for r in records),
            "elapsed_s": round(elapsed, 1), "tasks_per_minute": round(len(tasks) / elapsed * 60, 2),
            "queue_wait_p50_s": round(pct(waits, 0.5), 2), "queue_wait_p99_s": round(pct(waits, 0.99), 2),
            "enqueue_to_started_p50_s": round(statistics.median(a for a, _ in first_event), 3),
            "enqueue_to_started_idle_s": round(min(a for a, _ in first_event), 3),
            "enqueue_to_first_progress_p50_s": round(statistics.median(b for _, b in first_event), 3),
            "task_ids": [r["id"] for r in records]}


def resume_latency(bench: Bench, task_ids: list[str]) -> dict[str, Any]:
    """Approve paused tasks one by one on an idle worker: decision → "resumed" event and → published."""
    bench.start_workers(1)
    resumed, published = [], []
    for task_id in task_ids:
        t0 = time.time()
        bench.svc.approve(task_id, by="bench")
        record = bench.wait(task_id, {"published", "failed"})
        event = bench.first(task_id, "resumed")
        if event and record["status"] == "published":
            resumed.append(event["at"] - t0)
            published.append(record["finished_at"] - t0)
    bench.stop_workers()
    return {"decisions": len(resumed), "decision_to_resumed_p50_s": round(statistics.median(resumed), 3),
            "decision_to_resumed_max_s": round(max(resumed), 3),
            "decision_to_published_p50_s": round(statistics.median(published), 2)}


def detection(bench: Bench, kills: int) -> dict[str, Any]:
    """SIGKILL the worker running a task; time until another worker requeues it (the "requeued" event)."""
    times = []
    for n in range(kills):
        repo = bench.tmp / f"slow-{n}"
        for name, text in SLOW.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        bench.start_workers(2)
        task = bench.submit(repo, "negative amounts are added")
        bench.wait(task["id"], {"running"})
        time.sleep(2)
        job_worker = bench.svc.store.conn.hget(f"rq:job:{task['id']}", "worker_name")
        victim = next(w for w in bench.workers if w.poll() is None and _worker_name(bench, w) == job_worker)
        killed = time.time()
        os.kill(victim.pid, signal.SIGKILL)
        deadline = time.monotonic() + 180
        while bench.first(task["id"], "requeued") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        event = bench.first(task["id"], "requeued")
        if event is not None:
            times.append(event["at"] - killed)
        bench.wait(task["id"], {"awaiting_approval", "failed"})
        bench.stop_workers()
    return {"kills": kills, "detected": len(times), "detect_p50_s": round(statistics.median(times), 1),
            "detect_max_s": round(max(times), 1)}


def _worker_name(bench: Bench, proc: subprocess.Popen) -> bytes | None:
    conn = bench.svc.store.conn
    for key in conn.smembers("rq:workers"):
        if conn.hget(key, "pid") == str(proc.pid).encode():
            return key.decode().removeprefix("rq:worker:").encode()
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8, help="examples submitted per throughput run")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLed workers to time")
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds (1 worker, then 2) after a warm-up")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).ping()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis is not reachable: {exc}") from None
    names = EXAMPLES[: args.tasks]
    with tempfile.TemporaryDirectory(prefix="fixbot-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            throughput(bench, 1, names[:1])  # warm-up: imports, image and page caches; not counted
            rounds = [(throughput(bench, 1, names), throughput(bench, 2, names)) for _ in range(args.rounds)]
            resume = resume_latency(bench, rounds[-1][1]["task_ids"][:4])
            dead = detection(bench, args.kills)
        finally:
            bench.cleanup()
    for pair in rounds:
        for run in pair:
            run.pop("task_ids")
    one = min((p[0] for p in rounds), key=lambda r: r["elapsed_s"])  # the least disturbed round of each
    two = min((p[1] for p in rounds), key=lambda r: r["elapsed_s"])
    result = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
              "load_avg": [round(x, 2) for x in os.getloadavg()], "one_worker": one, "two_workers": two,
              "ratio_2_to_1": round(two["tasks_per_minute"] / one["tasks_per_minute"], 2),
              "rounds": [{"one_worker_tpm": a["tasks_per_minute"], "two_workers_tpm": b["tasks_per_minute"],
                          "ratio": round(b["tasks_per_minute"] / a["tasks_per_minute"], 2)} for a, b in rounds],
              "resume": resume, "dead_worker": dead}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "tasks.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


def _table(r: dict[str, Any]) -> str:
    one, two, res, dead = r["one_worker"], r["two_workers"], r["resume"], r["dead_worker"]
    return "\n".join([
        f"date {r['date']} · {r['cpus']} CPUs · load average at the end {r['load_avg']}",
        f"throughput (best round): 1 worker {one['tasks_per_minute']} tasks/min ({one['tasks']} tasks in "
        f"{one['elapsed_s']} s), 2 workers {two['tasks_per_minute']} tasks/min ({two['elapsed_s']} s) · ratio "
        f"{r['ratio_2_to_1']}",
        "rounds (1 worker / 2 workers / ratio): " + "; ".join(
            f"{x['one_worker_tpm']} / {x['two_workers_tpm']} / {x['ratio']}" for x in r["rounds"]),
        f"queue wait p50/p99: 1 worker {one['queue_wait_p50_s']}/{one['queue_wait_p99_s']} s, "
        f"2 workers {two['queue_wait_p50_s']}/{two['queue_wait_p99_s']} s",
        f"enqueue → started event on an idle worker {one['enqueue_to_started_idle_s']} s; p50 under load "
        f"{one['enqueue_to_started_p50_s']} s (1 worker), {two['enqueue_to_started_p50_s']} s (2); "
        f"→ first progress event p50 {two['enqueue_to_first_progress_p50_s']} s (2)",
        f"decision → resumed p50 {res['decision_to_resumed_p50_s']} s (max {res['decision_to_resumed_max_s']}), "
        f"→ published p50 {res['decision_to_published_p50_s']} s",
        f"killed worker noticed: p50 {dead['detect_p50_s']} s, max {dead['detect_max_s']} s "
        f"({dead['detected']}/{dead['kills']})",
    ])


if __name__ == "__main__":
    sys.exit(main())
