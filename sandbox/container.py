"""Creating one hardened container on a task's volumes: every limit in one place."""

from __future__ import annotations

import time
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import Ulimit

from sandbox.config import APP_NAME, LABEL_APP, LABEL_DEADLINE, LABEL_TASK, SandboxConfig
from sandbox.exceptions import ContainerStartError, ImageMissing

WORKSPACE = "/workspace"
TOOLS = "/fixbot"
TOOLS_SIZE = "64m"
BASE_ENV = {
    "HOME": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONPATH": "/workspace:/workspace/src",
}


def labels(task_id: str, config: SandboxConfig) -> dict[str, str]:
    """Labels the reaper reads: ours, which task, and when it may be removed."""
    return {LABEL_APP: APP_NAME, LABEL_TASK: task_id, LABEL_DEADLINE: str(int(time.time() + config.lifetime))}


def create_volume(client: docker.DockerClient, name: str, size: str, task_id: str, config: SandboxConfig) -> Any:
    """A size-capped (tmpfs-backed) volume owned by the sandbox user."""
    uid, _, gid = config.user.partition(":")
    opts = {"type": "tmpfs", "device": "tmpfs", "o": f"size={size},uid={uid},gid={gid or uid},mode=0755"}
    return client.volumes.create(name=name, driver="local", driver_opts=opts, labels=labels(task_id, config))


def start_container(
    client: docker.DockerClient,
    name: str,
    task_id: str,
    config: SandboxConfig,
    volumes: dict[str, str],
    *,
    network: bool = False,
    command: list[str] | None = None,
) -> Any:
    """Start a container with every limit; `volumes` maps volume name → mount path."""
    uid, _, _ = config.user.partition(":")
    try:
        return client.containers.run(
            config.image,
            command or ["sleep", "infinity"],
            name=name,
            detach=True,
            init=False,  # PID 1 is our reaper (see sandbox.py), which `kill -9 -1` cannot touch
            user=config.user,
            working_dir="/tmp",  # not /workspace: the engine would create that mount point root-owned
            environment={**BASE_ENV, **config.extra_env},
            network_mode="bridge" if network else "none",
            mem_limit=config.memory,
            memswap_limit=config.memory,
            nano_cpus=int(config.cpus * 1e9),
            pids_limit=config.pids,
            read_only=True,
            tmpfs={"/tmp": f"size={config.tmpfs_size},mode=1777,uid={uid}"},
            volumes={vol: {"bind": path, "mode": "rw"} for vol, path in volumes.items()},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ulimits=[Ulimit(name="nofile", soft=config.nofile, hard=config.nofile),
                     Ulimit(name="fsize", soft=config.fsize, hard=config.fsize)],
            log_config={"type": "json-file", "config": {"max-size": config.log_max_size, "max-file": "1"}},
            labels=labels(task_id, config),
            stop_signal="SIGKILL",
        )
    except ImageNotFound:
        raise ImageMissing(
            f"the sandbox image {config.image!r} is missing; build it with `fixbot sandbox build-image`"
        ) from None
    except APIError as exc:
        if "No such image" in str(exc):
            raise ImageMissing(
                f"the sandbox image {config.image!r} is missing; build it with `fixbot sandbox build-image`"
            ) from None
        raise ContainerStartError(f"could not start a sandbox container: {exc.explanation or exc}") from None


def remove_quietly(obj: Any) -> None:
    """Remove a container (forced) or a volume, ignoring ones already gone."""
    try:
        if hasattr(obj, "kill"):
            obj.remove(force=True, v=False)
        else:
            obj.remove(force=True)
    except NotFound:
        pass
    except APIError as exc:
        if "No such" not in str(exc) and "is already in progress" not in str(exc):
            raise
