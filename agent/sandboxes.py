"""One live sandbox per task, created on demand (again after a resume) from the host workspace."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.repair.validate import install_runner
from agent.testrun import install_probe
from sandbox import Sandbox, SandboxConfig


class SandboxPool:
    """Maps task ids to running sandboxes; the graph never holds a sandbox in its state."""

    def __init__(self, config: SandboxConfig, factory: Callable[..., Any] | None = None) -> None:
        self.config = config
        self._factory = factory or Sandbox.create
        self._boxes: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, task_id: str, workspace: str | Path) -> Any:
        """The task's sandbox, created with the workspace copied in when it does not exist yet."""
        with self._lock:
            box = self._boxes.get(task_id)
            if box is None:
                box = self._factory(task_id, self.config)
                try:
                    box.put_workspace(Path(workspace))
                    install_runner(box)
                    install_probe(box)
                except BaseException:
                    box.destroy()
                    raise
                self._boxes[task_id] = box
            return box

    def release(self, task_id: str) -> None:
        """Destroy the task's sandbox if any (idempotent)."""
        with self._lock:
            box = self._boxes.pop(task_id, None)
        if box is not None:
            box.destroy()

    def close(self) -> None:
        """Destroy every sandbox."""
        for task_id in list(self._boxes):
            self.release(task_id)
