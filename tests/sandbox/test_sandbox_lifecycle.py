"""Lifecycle on a real engine: destroy, the reaper, a killed owner process, Docker being down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox import DockerUnavailable, Sandbox
from sandbox.client import docker_client
from sandbox.config import LABEL_TASK
from sandbox.container import listed, pid_namespace
from sandbox.reaper import owner_dead, reap

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]


def leftovers(client: Any, task: str) -> list[str]:
    volumes = client.volumes.list(filters={"label": f"{LABEL_TASK}={task}"})
    return [name for name, _c in listed(client, {"label": f"{LABEL_TASK}={task}"})] + [v.name for v in volumes]


def started(script: str, ready: str) -> subprocess.Popen:
    """A Python process running `script`, once it printed the line `ready`."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    if proc.stdout is None or proc.stdout.readline().strip() != ready:
        proc.kill()
        raise AssertionError(f"the helper process did not print {ready!r}")
    return proc


def test_destroy_removes_everything_and_is_idempotent(make_box: Callable[..., Sandbox], docker_client: Any) -> None:
    box = make_box("destroy")
    assert len(leftovers(docker_client, box.task_id)) == 5  # work + holder containers, three volumes
    box.destroy()
    box.destroy()
    assert leftovers(docker_client, box.task_id) == []


def test_reaper_removes_sandboxes_past_their_deadline(make_box: Callable[..., Sandbox], docker_client: Any) -> None:
    expired = make_box("expired", lifetime=-60)
    alive = make_box("alive")
    removed = reap(docker_client)
    assert set(leftovers(docker_client, expired.task_id)) == set()
    assert {expired.container.name, expired.holder.name} <= set(removed)
    assert len(leftovers(docker_client, alive.task_id)) == 5, "live sandboxes are left alone"
    expired.destroy()  # idempotent even after the reaper took everything


def test_reaper_removes_what_a_sigkilled_process_left(sandbox_image: str, docker_client: Any,
                                                     new_task_id: Callable[[str], str]) -> None:
    task = new_task_id("orphan")
    proc = started(f"""
        import sys, time
        from sandbox import Sandbox, SandboxConfig
        box = Sandbox.create({task!r}, SandboxConfig(image={sandbox_image!r}, lifetime=3600))
        print("ready", flush=True)
        time.sleep(120)
    """, "ready")
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert len(leftovers(docker_client, task)) == 5
        removed = reap(docker_client)  # as `fixbot sandbox reap` does: the owner pid on this host is dead
        assert len(removed) >= 4
        assert leftovers(docker_client, task) == []
    finally:
        proc.kill()


def test_reaper_removes_sandboxes_whose_task_is_gone(make_box: Callable[..., Sandbox], docker_client: Any) -> None:
    gone, kept = make_box("gone"), make_box("kept")  # both owned by this live process, both within deadline
    reap(docker_client, task_exists=lambda t: t != gone.task_id)
    assert leftovers(docker_client, gone.task_id) == []
    assert len(leftovers(docker_client, kept.task_id)) == 5


def test_the_reaper_is_not_held_up_by_a_paused_process_reading_a_sandbox(make_box: Callable[..., Sandbox]) -> None:
    """dockerd holds a container's lock while a client leaves its archive download unread, so an inspect of that
    container waits for the client: the reaper lists without one (a client with a 5 s timeout proves it)."""
    box = make_box("stalled", workspace_size="64m")
    assert box.exec("head -c 40000000 /dev/zero > big").exit_code == 0
    reader = started(f"""
        import docker, time
        stream, _stat = docker.from_env().api.get_archive({box.container.id!r}, "/workspace/big")
        for i, chunk in enumerate(stream):
            if i == 0:
                print("reading", flush=True)
            time.sleep(0.05)
    """, "reading")
    impatient = docker_client(timeout=5)
    try:
        os.kill(reader.pid, signal.SIGSTOP)
        with pytest.raises(requests.exceptions.ReadTimeout):  # the premise: an inspect waits for the reader
            impatient.containers.get(box.container.id)
        assert reap(impatient, task=box.task_id) == [], "nothing of a live owner's sandbox is removed"
        assert len(leftovers(impatient, box.task_id)) == 5
    finally:
        os.kill(reader.pid, signal.SIGCONT)
        reader.kill()
        reader.wait(timeout=10)
        impatient.close()


HOST, NS = socket.gethostname(), pid_namespace()


@pytest.mark.parametrize(("label", "dead"), [
    ("", False), ("garbage", False), (f"other-host:{NS}:4194400", False), (f"{HOST}:{NS}:{os.getpid()}", False),
    (f"{HOST}:{NS}:1", False),  # PID 1 exists (and may not be ours to signal: still alive)
    (f"{HOST}:{NS}:4194400", True),  # above the largest pid_max (2**22): no such process
    (f"{HOST}:1:4194400", False),  # another pid namespace with our host name (a container on the host network)
    (f"{HOST}:4194400", False),  # an old label without the namespace: unknown, so alive
])
def test_owner_dead_only_for_a_missing_pid_on_this_host(label: str, dead: bool) -> None:
    assert owner_dead(label) is dead


def test_docker_unavailable_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    with pytest.raises(DockerUnavailable) as err:
        docker_client(timeout=3)
    message = str(err.value)
    assert "Docker engine" in message and "dockerd" in message and "\n" not in message
