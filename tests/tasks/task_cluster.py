"""Real `fixbot worker` processes for the task tests: started by a test, killed and cleaned up after it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from agent.request import FixRequest
from agent.settings import load_settings
from agent.tasks.service import TaskService
from sandbox.container import listed

# Reproducing takes a while here: each run of the suite sleeps, so a worker can be stopped mid-task.
SLOW = {
    "conftest.py": "",
    "calc.py": "def calculate_total(items):\n    total = 0\n    for x in items:\n        if x > 0:\n"
               "            total += x\n    return total\n",
    "tests/test_calc.py": "import time\n\nfrom calc import calculate_total\n\n\ndef test_slow():\n    time.sleep(2)\n"
                          "    assert calculate_total([1, 2]) == 3\n\n\ndef test_negative():\n"
                          "    assert calculate_total([1, -2, 3]) == 2\n",
}


class Cluster:
    """Real `fixbot worker` processes on the test's Redis database, and the service that feeds them."""

    def __init__(self, tmp_path: Path, sandbox_image: str, docker_client: Any, redis_url: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.tmp = tmp_path
        self.docker = docker_client
        self.deployment = f"test-{tag}"
        self.env = {
            **os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": f"fxt-{tag}", "QUEUE_NAME": f"q-{tag}",
            "DEPLOYMENT_ID": self.deployment, "ALLOW_LOCAL_REPOS": "true", "SANDBOX_IMAGE": sandbox_image,
            "WORK_DIR": str(tmp_path / "work"), "CHECKPOINT_DB": str(tmp_path / "checkpoints.sqlite"),
            "DOCKER_MAX_CPU": "1", "DOCKER_TIMEOUT": "60", "REPAIR_TIME_BUDGET": "60", "WORKER_HEARTBEAT": "1",
            "WORKER_LEASE_TTL": "5", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "SANDBOX_LIFETIME": "900",
        }
        self.workers: list[subprocess.Popen] = []
        self._service: TaskService | None = None

    def settings(self) -> Any:
        keys = ("REDIS_URL", "REDIS_PREFIX", "QUEUE_NAME", "DEPLOYMENT_ID", "ALLOW_LOCAL_REPOS", "WORK_DIR",
                "CHECKPOINT_DB", "CHECKPOINT_URL", "TASK_INFRA_RETRIES")
        return load_settings(_env_file=None, **{k.lower(): self.env[k] for k in keys if self.env.get(k)})

    @property
    def service(self) -> TaskService:
        if self._service is None:
            self._service = TaskService.from_settings(self.settings())
        return self._service

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "worker", *args], env={**self.env, **env},
                                stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp, start_new_session=True)
        self.workers.append(proc)
        return proc

    def submit(self, repo: Path | str, issue: str | None = None, **kwargs: Any) -> dict[str, Any]:
        repo = Path(repo)
        issue = issue or (repo / "ISSUE.md").read_text()
        record, _ = self.service.submit(FixRequest(repo=str(repo), issue=issue, **kwargs), {"kind": "cli", "user": "t"})
        return record

    def wait(self, task_id: str, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            record = self.service.store.get(task_id)
            if record["status"] in statuses:
                return record
            if time.monotonic() > deadline:
                raise AssertionError(f"{task_id} still {record['status']} after {timeout} s "
                                     f"(wanted {statuses}); logs: {self.logs()[-3000:]}")
            time.sleep(0.2)

    def kinds(self, task_id: str) -> list[str]:
        return [e["kind"] for e in self.service.events.replay(task_id)]

    def wait_event(self, task_id: str, kind: str, timeout: float) -> dict[str, Any]:
        """The task's first event of `kind`, waiting up to `timeout` s for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.service.events.replay(task_id) if e["kind"] == kind]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no {kind} event for {task_id} within {timeout} s: {self.kinds(task_id)}; "
                             f"logs: {self.logs()[-3000:]}")

    def wait_containers(self, task_id: str, timeout: float = 60) -> list[str]:
        """The task's sandbox containers, once there are some."""
        deadline = time.monotonic() + timeout
        while not self.containers(task_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        found = self.containers(task_id)
        assert found, f"the sandbox of {task_id} was not started"
        return found

    def containers(self, task_id: str) -> list[str]:
        # Sparse (no inspect): the paused-worker test pauses a process that may be reading its sandbox's archive,
        # and dockerd holds that container's lock (so an inspect of it waits) until the read goes on.
        found = listed(self.docker, {"label": [f"fixbot.task={task_id}", f"fixbot.deployment={self.deployment}"]})
        return sorted(name for name, _c in found)

    @staticmethod
    def horses(worker_pid: int) -> list[int]:
        """The work horses a `fixbot worker` process forked (one per running job)."""
        found = []
        for tid in os.listdir(f"/proc/{worker_pid}/task"):
            with open(f"/proc/{worker_pid}/task/{tid}/children") as fh:
                found += [int(p) for p in fh.read().split()]
        return found

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp.glob("worker-*.log")))

    def stop(self) -> None:
        for proc in self.workers:  # the whole session: also what a SIGKILLed worker's children left running
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        selector = {"label": f"fixbot.deployment={self.deployment}"}
        for _name, c in listed(self.docker, selector):
            with contextlib.suppress(Exception):  # the reaper may be removing it at the same moment
                c.remove(force=True)
        for v in self.docker.volumes.list(filters=selector):
            with contextlib.suppress(Exception):
                v.remove(force=True)


class PrivateRedis:
    """A redis-server a test starts on an ephemeral port with AOF in a temp dir (never the shared one), to crash,
    shut down and start again on the same port and data."""

    def __init__(self, data: Path) -> None:
        if shutil.which("redis-server") is None:
            message = "redis-server is not installed (scripts/bootstrap.sh redis installs it)"
            pytest.fail(message) if os.environ.get("CI", "").lower() in ("1", "true", "yes") else pytest.skip(message)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data = data
        self.data.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.data / "redis.log", "a")  # noqa: SIM115 - the server process holds it
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--appendonly", "yes", "--dir", str(self.data), "--save", ""],
                                     stdout=log, stderr=subprocess.STDOUT)
        conn = redis.Redis(port=self.port, socket_connect_timeout=1)
        for _ in range(200):
            try:
                conn.ping()
                return
            except redis.ConnectionError:  # includes BusyLoadingError while the AOF is read
                time.sleep(0.05)
        raise AssertionError("the private redis-server did not start")

    def crash(self) -> None:
        """SIGKILL: no shutdown save; only the append-only file keeps the data."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def shutdown(self) -> None:
        """As `redis-cli shutdown`: the server writes its append-only file and exits."""
        assert self.proc is not None
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(port=self.port, socket_connect_timeout=1).shutdown()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
