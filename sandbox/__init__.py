"""Running untrusted code in hardened Docker containers. The only package that imports docker.

`Sandbox`, `run_once` and `ExecResult` load the docker SDK on first use (PEP 562), so a process that
only reads the configuration or catches sandbox errors (the Slack bot, the task store) never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.config import SandboxConfig
from sandbox.exceptions import (
    ContainerStartError,
    DockerUnavailable,
    ImageMissing,
    SandboxError,
    SandboxTimeout,
    TreeTooLarge,
    UnreadableTree,
    UnsafeArchive,
)

if TYPE_CHECKING:
    from sandbox.oneshot import run_once
    from sandbox.result import ExecResult
    from sandbox.sandbox import Sandbox

_LAZY = {"Sandbox": "sandbox.sandbox", "run_once": "sandbox.oneshot", "ExecResult": "sandbox.result"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")


__all__ = [
    "ContainerStartError",
    "DockerUnavailable",
    "ExecResult",
    "ImageMissing",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxTimeout",
    "TreeTooLarge",
    "UnreadableTree",
    "UnsafeArchive",
    "run_once",
]
