"""Reaping around a task's recovery, on the real Docker engine: only what a provably dead process left.

These tests look only at sandboxes labelled with their own task ids (the engine is shared).
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid

import pytest
from docker.errors import NotFound

from agent.request import FixRequest
from sandbox.config import LABEL_APP, LABEL_DEADLINE, LABEL_DEPLOYMENT, LABEL_OWNER, LABEL_TASK
from sandbox.container import listed, pid_namespace
from sandbox.reaper import reap

pytestmark = [pytest.mark.redis, pytest.mark.docker]


def _labels(task_id: str, *, pid: int, deployment: str = "", deadline: float | None = None) -> dict[str, str]:
    return {LABEL_APP: "fixbot", LABEL_TASK: task_id, LABEL_OWNER: f"{socket.gethostname()}:{pid_namespace()}:{pid}",
            LABEL_DEPLOYMENT: deployment, LABEL_DEADLINE: str(int(deadline or time.time() + 3600))}


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_recovery_reaps_first_and_only_the_dead_owners_sandboxes(worker_service, docker_client, sandbox_image,
                                                                 tmp_path, make_repo):
    from agent.worker import recover

    svc = worker_service
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    record, _ = svc.submit(FixRequest(repo=str(repo), issue="x"), {"kind": "cli", "user": "t"})
    tid, job = record["id"], record["job_id"]
    svc.store.transition(tid, "running", expect={"queued"}, job=job)
    alive = subprocess.Popen(["sleep", "120"])  # a live owner: a paused worker, or the rerun's new horse
    made = []
    try:
        dead_box = docker_client.containers.create(sandbox_image, ["sleep", "1"], name=f"fixbot-test-dead-{tid}",
                                                   labels=_labels(tid, pid=_dead_pid(),
                                                                  deployment=svc.settings.deployment))
        live_box = docker_client.containers.create(sandbox_image, ["sleep", "1"], name=f"fixbot-test-live-{tid}",
                                                   labels=_labels(tid, pid=alive.pid,
                                                                  deployment=svc.settings.deployment))
        made = [dead_box, live_box]
        back = recover(svc, tid, job, why="the worker running this task stopped responding")
        assert back is not None and back["status"] == "queued" and back["job_id"] == f"{tid}_1"
        assert svc.queue.job_ids[-1] == f"{tid}_1"
        left = {name for name, _c in listed(docker_client, {"label": f"{LABEL_TASK}={tid}"})}
        assert left == {live_box.name}, "the dead owner's sandbox is gone, the live one's stays"
        assert recover(svc, tid, job, why="again") is None, "the old job holds the task no more"
    finally:
        alive.kill()
        alive.wait()
        for box in made:
            try:
                box.remove(force=True)
            except NotFound:  # the reaper removed it
                pass


def test_a_volume_in_use_does_not_stop_the_reaper(docker_client, sandbox_image):
    task = f"fx-reap{uuid.uuid4().hex[:8]}"
    expired = _labels(task, pid=_dead_pid(), deadline=time.time() - 60)
    busy = docker_client.volumes.create(name=f"fixbot-test-busy-{task}", labels=expired)
    free = docker_client.volumes.create(name=f"fixbot-test-free-{task}", labels=expired)
    user = docker_client.containers.create(sandbox_image, ["sleep", "1"], name=f"test-user-{task}",
                                           volumes={busy.name: {"bind": "/data", "mode": "rw"}})  # not ours: no labels
    try:
        removed = reap(docker_client, task=task)
        assert free.name in removed and busy.name not in removed
        names = {v.name for v in docker_client.volumes.list(filters={"label": f"{LABEL_TASK}={task}"})}
        assert names == {busy.name}, "the volume in use is left for a later pass, the other one went"
    finally:
        user.remove(force=True)
        for volume in (busy, free):
            try:
                volume.remove(force=True)
            except NotFound:  # the reaper removed it
                pass
