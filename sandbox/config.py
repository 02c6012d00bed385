"""Limits and image choice for one sandbox, as plain data (filled from agent.settings)."""

from __future__ import annotations

from dataclasses import dataclass, field

from docker.utils import parse_bytes

DEFAULT_IMAGE = "fixbot-sandbox:latest"
LABEL_APP = "fixbot.app"
LABEL_TASK = "fixbot.task"
LABEL_DEADLINE = "fixbot.deadline"
LABEL_OWNER = "fixbot.owner"  # "host:pid" of the process that created it
LABEL_DEPLOYMENT = "fixbot.deployment"  # which deployment's task store knows the task ("" for none)
APP_NAME = "fixbot"


@dataclass(frozen=True)
class SandboxConfig:
    """Every limit a sandbox container runs under. Sizes use Docker's notation ("512m")."""

    image: str = DEFAULT_IMAGE
    timeout: float = 300.0  # default per exec, seconds
    memory: str = "512m"  # memory and memory+swap (no swap)
    cpus: float = 0.5
    pids: int = 256
    tmpfs_size: str = "64m"  # /tmp
    workspace_size: str = "512m"  # the workspace volume (tmpfs-backed, size-capped)
    nofile: int = 1024
    fsize: int = 256 * 1024 * 1024  # largest file a process may write, bytes
    output_cap: int = 64 * 1024  # bytes of stdout+stderr kept per exec (head and tail)
    lifetime: float = 3600.0  # seconds until the reaper may remove the container
    user: str = "1000:1000"
    setup_network: bool = False  # whether the optional setup phase gets a network
    log_max_size: str = "1m"
    extra_env: dict[str, str] = field(default_factory=dict)  # never secrets; tests only
    tools_size: str = "64m"  # the /fixbot tools volume (runner scripts, candidate lists, coverage files)
    deployment: str = ""  # the deployment whose task store knows this sandbox's task (label; reaper)
    guard_grace: float = 10.0  # seconds the host waits past an exec's timeout before killing the container
    workspace_max_entries: int = 100_000  # files and folders a workspace copied in may hold
    home_size: str = "1g"  # the home volume: HOME, caches and what setup installs with pip (~/.local)
    wheelhouse: str | None = None  # host directory of wheels, mounted read-only for pip (--find-links)
    pip_index_url: str | None = None  # the index pip uses when the setup has a network (default: PyPI)



def size_bytes(size: str) -> int:
    """Bytes of a Docker-style size ("512m", "1g", "4096"), by docker's own parser."""
    return int(parse_bytes(size))
