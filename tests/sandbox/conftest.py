"""Sandbox fixtures: small limits, short timeouts, and label-based teardown of everything created."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from sandbox import Sandbox, SandboxConfig
from sandbox.config import APP_NAME, LABEL_APP, LABEL_TASK
from sandbox.container import listed

PREFIX = f"test-sbx-{uuid.uuid4().hex[:6]}"  # every task id of this session starts with it


def task_id(name: str) -> str:
    """A task id this session owns (teardown removes whatever carries it)."""
    return f"{PREFIX}-{name}-{uuid.uuid4().hex[:4]}"


def ours(client: Any) -> tuple[list[Any], list[Any]]:
    """Containers and volumes created by this test session (other sessions' are left alone)."""
    selector = {"label": f"{LABEL_APP}={APP_NAME}"}
    containers = [c for _name, c in listed(client, selector)
                  if (c.attrs.get("Labels") or {}).get(LABEL_TASK, "").startswith(PREFIX)]
    volumes = [v for v in client.volumes.list(filters=selector)
               if (v.attrs.get("Labels") or {}).get(LABEL_TASK, "").startswith(PREFIX)]
    return containers, volumes


@pytest.fixture(scope="session", autouse=True)
def _remove_leftovers() -> Iterator[None]:
    """After the session, remove any container or volume a test (or a killed helper process) left."""
    yield
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:  # noqa: BLE001 - no engine, nothing to clean
        return
    containers, volumes = ours(client)
    for c in containers:
        c.remove(force=True)
    for v in volumes:
        v.remove(force=True)


@pytest.fixture
def new_task_id() -> Callable[[str], str]:
    """Makes task ids this session owns (label-based teardown removes what carries them)."""
    return task_id


@pytest.fixture(scope="session")
def cfg(sandbox_image: str) -> SandboxConfig:
    """Small limits and short timeouts for tests (1 CPU so timings are not dominated by the quota)."""
    return SandboxConfig(image=sandbox_image, timeout=20, memory="192m", cpus=1.0, pids=64, tmpfs_size="16m",
                         workspace_size="32m", tools_size="8m", output_cap=8192, lifetime=900, guard_grace=2)


@pytest.fixture
def make_box(cfg: SandboxConfig, docker_client: Any) -> Iterator[Callable[..., Sandbox]]:
    """Factory of fresh sandboxes (keyword overrides go to the config); destroyed after the test."""
    boxes: list[Sandbox] = []

    def make(name: str = "box", **overrides: Any) -> Sandbox:
        box = Sandbox.create(task_id(name), replace(cfg, **overrides), client=docker_client)
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.destroy()


@pytest.fixture(scope="module")
def box(cfg: SandboxConfig, docker_client: Any) -> Iterator[Sandbox]:
    """One warm sandbox shared by a module's tests (as the repair engine shares one per task)."""
    sb = Sandbox.create(task_id("shared"), cfg, client=docker_client)
    yield sb
    sb.destroy()
