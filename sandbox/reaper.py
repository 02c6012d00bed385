"""Removing what killed runs left behind: our containers and volumes past their deadline, whose task is gone,
or whose creating process on this host is dead (a SIGKILLed CLI run or worker).

Many processes share one engine (workers of several deployments, CLI runs, test sessions), so a
sandbox is removed only when its owner is provably dead, its deadline passed, or the caller's own
task store says its task is over: `finished(task_id)` is asked only about sandboxes labelled with
the caller's `deployment`; sandboxes of another deployment (or of none) are never judged by it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from docker.errors import APIError

from sandbox.client import docker_client
from sandbox.config import APP_NAME, LABEL_APP, LABEL_DEADLINE, LABEL_DEPLOYMENT, LABEL_OWNER, LABEL_TASK
from sandbox.container import listed, pid_namespace, remove_quietly

log = logging.getLogger(__name__)


def _expired(labels: dict[str, str], now: float, task_exists: Callable[[str], bool] | None,
             finished: Callable[[str], bool] | None = None, deployment: str = "") -> bool:
    try:
        deadline = float(labels.get(LABEL_DEADLINE, "0"))
    except ValueError:
        deadline = 0.0
    if deadline <= now or owner_dead(labels.get(LABEL_OWNER, "")):
        return True
    task = labels.get(LABEL_TASK, "")
    if finished is not None and deployment and labels.get(LABEL_DEPLOYMENT) == deployment and finished(task):
        return True
    return task_exists is not None and not task_exists(task)


def owner_dead(label: str) -> bool:
    """True only when the owner ran on this host, in this pid namespace, and its pid is gone.

    Anything else (another host, a container sharing the host name but not its pids, a label we
    cannot read) counts as alive: a wrong "dead" would remove a live task's sandbox.
    """
    parts = label.rsplit(":", 2)
    if len(parts) != 3:
        return False
    host, namespace, pid = parts
    if host != socket.gethostname() or not namespace or namespace != pid_namespace():
        return False
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def reap(client: Any = None, *, task_exists: Callable[[str], bool] | None = None,
         finished: Callable[[str], bool] | None = None, deployment: str = "", now: float | None = None,
         task: str | None = None) -> list[str]:
    """Remove our containers, then our volumes, whose deadline passed, whose creator died or whose task is gone.

    `task_exists(task_id)` False removes (only for callers that own every sandbox they may see);
    `finished(task_id)` True removes sandboxes labelled with `deployment` (a worker's own store's
    finished, cancelled or waiting tasks); `task` looks only at that task's sandboxes (the same rules apply).
    Returns the names removed. The worker calls this at start and
    when it finds a dead worker's task, so a SIGKILLed worker leaks nothing; `fixbot sandbox reap` finds
    what a killed CLI run left by its dead owner pid. One object the engine refuses to remove (a volume
    still in use by some container, 409) is skipped and left for a later pass; the others still go.
    """
    client = client or docker_client()
    now = time.time() if now is None else now
    removed: list[str] = []
    selector = {"label": [f"{LABEL_APP}={APP_NAME}", *([f"{LABEL_TASK}={task}"] if task else [])]}
    # Sparse lists (sandbox.container.listed): an inspect blocks while a paused worker leaves its sandbox's
    # archive download unread, and a reaper blocked there delays every recovery behind it by DOCKER_TIMEOUT.
    for name, container in listed(client, selector):
        labels = container.attrs.get("Labels") or {}
        if _expired(labels, now, task_exists, finished, deployment) and _remove(container):
            removed.append(name)
    in_use = {m.get("Name") for _name, c in listed(client, selector)
              for m in c.attrs.get("Mounts") or [] if m.get("Type") == "volume"}
    for volume in client.volumes.list(filters=selector):
        labels = volume.attrs.get("Labels") or {}
        if volume.name in in_use:
            continue
        if _expired(labels, now, task_exists, finished, deployment) and _remove(volume):
            removed.append(volume.name)
    return removed


def _remove(obj: Any) -> bool:
    """Remove one container or volume; False (logged, left for a later pass) when the engine refuses."""
    try:
        remove_quietly(obj)
    except APIError as exc:
        log.warning("could not remove %s yet: %s", getattr(obj, "name", obj), exc.explanation or exc)
        return False
    return True
