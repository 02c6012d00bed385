"""`run_once`: a fresh sandbox for one command (the CLI's `fixbot sandbox run`), removed whatever happens."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.result import ExecResult
from sandbox.sandbox import Sandbox


def run_once(command: Sequence[str] | str, config: SandboxConfig, *, workspace: Path | None = None,
             timeout: float | None = None, task_id: str | None = None, client: Any = None) -> ExecResult:
    """A fresh sandbox for one command, removed afterwards whatever happens (Ctrl-C included)."""
    box = Sandbox.create(task_id or f"run-{uuid.uuid4().hex[:8]}", config, client=client)
    try:
        if workspace is not None:
            box.put_workspace(workspace)
        return box.exec(command, timeout=timeout)
    finally:
        _without_sigint(box.destroy)


def _without_sigint(fn: Callable[[], None]) -> None:
    """Run fn with Ctrl-C deferred (main thread only), so a second Ctrl-C cannot leak a half-removed sandbox."""
    if threading.current_thread() is not threading.main_thread():
        fn()
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: pending.append(signum))
    try:
        fn()
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt

