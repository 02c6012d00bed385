"""What the graph's nodes need from the outside world, passed to `build_graph`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from agent.events import EventSink, NullSink
from agent.sandboxes import SandboxPool
from agent.settings import Settings


@dataclass
class Deps:
    """Settings, the sandbox pool, the event sink and per-task caches (rebuilt after a resume)."""

    settings: Settings
    sandboxes: SandboxPool
    events: EventSink = field(default_factory=NullSink)
    llm: Any = None
    cache: dict[str, dict[str, Any]] = field(default_factory=dict)

    def task_cache(self, task_id: str) -> dict[str, Any]:
        """In-memory scratch space of one task (never checkpointed)."""
        return self.cache.setdefault(task_id, {})

    def emit(self, task_id: str, kind: str, **data: Any) -> None:
        """Send a progress event; a failing sink never breaks the workflow."""
        try:
            self.events.emit(task_id, kind, data)
        except Exception:  # noqa: BLE001 - progress is best effort by design
            pass


def add_time(state: dict[str, Any], phase: str, started: float) -> dict[str, float]:
    """phase_times with the time since `started` added to `phase`."""
    times = dict(state.get("phase_times") or {})
    times[phase] = round(times.get(phase, 0.0) + time.monotonic() - started, 3)
    return times
