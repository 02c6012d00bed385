"""`run_once`: a fresh sandbox for one command (the CLI's `fixbot sandbox run`), removed whatever happens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.result import ExecResult
from sandbox.sandbox import Sandbox, without_sigint


def run_once(command: Sequence[str] | str, config: SandboxConfig, *, workspace: Path | None = None,
             timeout: float | None = None, task_id: str | None = None, client: Any = None) -> ExecResult:
    """A fresh sandbox for one command, removed afterwards whatever happens (Ctrl-C included)."""
    box = Sandbox.create(task_id or f"run-{uuid.uuid4().hex[:8]}", config, client=client)
    try:
        if workspace is not None:
            box.put_workspace(workspace)
        return box.exec(command, timeout=timeout)
    finally:
        without_sigint(box.destroy)
