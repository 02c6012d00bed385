"""Running untrusted code in hardened Docker containers. The only package that imports docker."""

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
from sandbox.oneshot import run_once
from sandbox.result import ExecResult
from sandbox.sandbox import Sandbox

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
