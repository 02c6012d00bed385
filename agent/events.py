"""Progress events a task emits (the CLI draws them; later the Slack notifier posts them)."""

from __future__ import annotations

import time
from typing import Any, Protocol


class EventSink(Protocol):
    """Receives progress events; must be cheap and must never raise into the workflow."""

    def emit(self, task_id: str, kind: str, data: dict[str, Any]) -> None: ...


class NullSink:
    """Drops every event."""

    def emit(self, task_id: str, kind: str, data: dict[str, Any]) -> None:
        """Ignore the event."""


class ListSink:
    """Keeps events in memory (tests, the CLI's --json)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, task_id: str, kind: str, data: dict[str, Any]) -> None:
        """Record the event with a timestamp."""
        self.events.append({"task_id": task_id, "kind": kind, "at": time.time(), **data})
