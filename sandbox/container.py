"""Creating one hardened container on a task's volumes: every limit in one place."""

from __future__ import annotations

import os
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import Ulimit

from sandbox.config import (
    APP_NAME,
    LABEL_APP,
    LABEL_DEADLINE,
    LABEL_DEPLOYMENT,
    LABEL_OWNER,
    LABEL_TASK,
    SandboxConfig,
)
from sandbox.exceptions import ContainerStartError, ImageMissing

WORKSPACE = "/workspace"
TOOLS = "/fixbot"
# The sandbox user's home: a volume, so what the setup command installs (`pip install` goes to the user
# site ~/.local, the image's Python being read-only) and what code writes under ~/.cache survive into
# every test run of the task. Never part of a patch: only /workspace is the repository.
HOME = "/home/fixbot"
USER_BASE = f"{HOME}/.local"
WHEELHOUSE = "/wheelhouse"
SYSTEM_WHEELS = "/usr/share/python-wheels"  # pip, setuptools and wheel from the image: offline builds work
# The whole environment of every container: nothing comes from the host's environment, so no secret
# can reach untrusted code. Callers add test-only values through config.extra_env or exec(env=...).
BASE_ENV = {
    "HOME": HOME,
    "TMPDIR": "/tmp",
    "XDG_CACHE_HOME": f"{HOME}/.cache",
    "XDG_CONFIG_HOME": f"{HOME}/.config",
    "XDG_DATA_HOME": f"{HOME}/.local/share",
    "XDG_STATE_HOME": f"{HOME}/.local/state",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUSERBASE": USER_BASE,
    "PATH": f"{USER_BASE}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    # pip installs into the user site (~/.local): Debian's system Python refuses other installs (PEP 668)
    # and the root file system is read-only anyway, so pip falls back to the user site by itself.
    "PIP_BREAK_SYSTEM_PACKAGES": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "PIP_NO_CACHE_DIR": "1",
    # pytest's cache (--lf, --sw) outside the repository; a command that sets PYTEST_ADDOPTS itself
    # keeps it in the repository, which is harmless: patches are made from the host's checkout.
    "PYTEST_ADDOPTS": f"-o cache_dir={HOME}/.cache/pytest",
}


def container_env(config: SandboxConfig, *, network: bool) -> dict[str, str]:
    """The environment of one container: BASE_ENV, pip pointed at the wheels it can reach, config.extra_env.

    Without a network pip never tries an index (it would retry for a minute): it installs from the
    operator's wheelhouse (config.wheelhouse, mounted at WHEELHOUSE) and the image's own wheels only.
    """
    links = ([WHEELHOUSE] if config.wheelhouse else []) + [SYSTEM_WHEELS]
    env = {**BASE_ENV, "PIP_FIND_LINKS": " ".join(links)}
    if not network:
        env["PIP_NO_INDEX"] = "1"
    elif config.pip_index_url:
        env["PIP_INDEX_URL"] = config.pip_index_url
        url = urlsplit(config.pip_index_url)
        if url.scheme == "http" and url.hostname:  # the operator chose a plain-HTTP mirror: pip must trust it
            env["PIP_TRUSTED_HOST"] = url.hostname
    return {**env, **config.extra_env}


IDLE = ["sleep", "infinity"]


def parse_user(user: str) -> tuple[int, int]:
    """The numeric uid and gid of a "uid:gid" (or "uid") user spec; the sandbox never runs as root."""
    uid_s, _, gid_s = user.partition(":")
    try:
        uid, gid = int(uid_s), int(gid_s or uid_s)
    except ValueError:
        raise ContainerStartError(f"sandbox user must be numeric uid:gid, got {user!r}") from None
    if uid == 0 or gid == 0:
        raise ContainerStartError("the sandbox refuses to run as root (uid or gid 0)")
    return uid, gid


def pid_namespace() -> str:
    """The inode of this process's pid namespace ("" when unknown), so pids are compared only within one."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def owner() -> str:
    """This process, as the reaper finds it again: host name, pid namespace and pid."""
    return f"{socket.gethostname()}:{pid_namespace()}:{os.getpid()}"


def labels(task_id: str, config: SandboxConfig) -> dict[str, str]:
    """Labels the reaper reads: ours, which task, who created it, for which deployment, and when it may go."""
    return {LABEL_APP: APP_NAME, LABEL_TASK: task_id, LABEL_DEADLINE: str(int(time.time() + config.lifetime)),
            LABEL_OWNER: owner(), LABEL_DEPLOYMENT: config.deployment}


def create_volume(client: docker.DockerClient, name: str, size: str, task_id: str, config: SandboxConfig) -> Any:
    """A size-capped (tmpfs-backed) volume owned by the sandbox user."""
    uid, gid = parse_user(config.user)
    opts = {"type": "tmpfs", "device": "tmpfs", "o": f"size={size},uid={uid},gid={gid},mode=0755"}
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
    workdir: str = "/tmp",
) -> Any:
    """Start a container with every limit; `volumes` maps volume name → mount path.

    PID 1 is Docker's init (it reaps orphans, so killed leftovers never pile up as zombies against
    the pids limit) and its one child idles; every run is an `exec` into this warm container.
    """
    uid, _ = parse_user(config.user)
    try:
        # create + start, not run(): run() pulls a missing image from a registry, and the image is ours to build.
        container = client.containers.create(
            config.image,
            command or IDLE,
            name=name,
            detach=True,
            init=True,
            user=config.user,
            working_dir=workdir,  # /tmp by default: a missing working dir would be created root-owned
            environment=container_env(config, network=network),
            network_mode="bridge" if network else "none",
            mem_limit=config.memory,  # equal to memswap_limit: no swap
            memswap_limit=config.memory,
            nano_cpus=int(config.cpus * 1e9),
            pids_limit=config.pids,
            read_only=True,
            tmpfs={"/tmp": f"size={config.tmpfs_size},mode=1777,uid={uid}"},
            volumes=mounts(config, volumes),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ulimits=[Ulimit(name="nofile", soft=config.nofile, hard=config.nofile),
                     Ulimit(name="fsize", soft=config.fsize, hard=config.fsize)],
            log_config={"type": "json-file", "config": {"max-size": config.log_max_size, "max-file": "1"}},
            labels=labels(task_id, config),
            stop_signal="SIGKILL",
        )
    except ImageNotFound:
        raise ImageMissing.of(config.image) from None
    except APIError as exc:
        if "No such image" in str(exc):
            raise ImageMissing.of(config.image) from None
        raise ContainerStartError(f"could not create a sandbox container: {exc.explanation or exc}") from None
    try:
        container.start()
    except APIError as exc:
        remove_quietly(container)
        raise ContainerStartError(f"could not start a sandbox container: {exc.explanation or exc}") from None
    return container


def mounts(config: SandboxConfig, volumes: dict[str, str]) -> dict[str, dict[str, str]]:
    """The task's volumes read-write, and the operator's wheelhouse (a host directory) read-only."""
    binds = {vol: {"bind": path, "mode": "rw"} for vol, path in volumes.items()}
    if config.wheelhouse:
        binds[config.wheelhouse] = {"bind": WHEELHOUSE, "mode": "ro"}
    return binds


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


def listed(client: docker.DockerClient, selector: dict[str, Any]) -> list[tuple[str, Any]]:
    """Our containers matching `selector` (Docker list filters), as (name, container) pairs, without an inspect.

    A sparse list reads the engine's /containers/json only. An inspect takes the container's lock, which
    dockerd 20.10 holds for as long as a client leaves an archive download (`get_archive`) unread: the
    sandbox of a paused or stalled worker blocks every inspect of it until that client wakes or dies.
    The containers returned carry only the list's `attrs` (Labels, Names, Mounts, State), not `.name`.
    """
    found = client.containers.list(all=True, filters=selector, sparse=True)
    return [((c.attrs.get("Names") or [c.id])[0].lstrip("/"), c) for c in found]
