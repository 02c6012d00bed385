"""Processes a local trial starts (`fixbot serve`, `fixbot worker`, each in a session of its own) and stops."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable


def stop_process_groups(procs: Iterable[subprocess.Popen], *, grace: float = 30.0) -> None:
    """SIGTERM every still-running process group, wait `grace` seconds for each, then SIGKILL what is left.

    Each process must have been started with `start_new_session=True` (its pid is its group id)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
