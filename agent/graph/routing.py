"""Pure routers between nodes; each raises on a state that breaks the graph's invariants."""

from __future__ import annotations

from typing import Any, Literal

from agent.exceptions import WorkflowError


def _running(state: dict[str, Any]) -> bool:
    status = state.get("status")
    if status is None:
        raise WorkflowError("state has no status")
    return status == "running"


def after_reproduce(state: dict[str, Any]) -> Literal["localize", "finalize"]:
    """Localize only when a failure was reproduced."""
    return "localize" if _running(state) else "finalize"


def after_localize(state: dict[str, Any]) -> Literal["repair", "finalize"]:
    """Repair only when something suspicious was found."""
    return "repair" if _running(state) else "finalize"


def after_repair(state: dict[str, Any]) -> Literal["review", "finalize"]:
    """An empty batch ends the search."""
    if state.get("batch"):
        return "review"
    if _running(state):
        raise WorkflowError("repair produced no batch but the task is still running")
    return "finalize"


def after_review(state: dict[str, Any]) -> Literal["test", "repair"]:
    """Nothing survived review: ask for the next batch."""
    return "test" if state.get("reviewed") else "repair"


def after_test(state: dict[str, Any]) -> Literal["repair", "finalize"]:
    """Loop until a candidate is proven or the budget is spent (checked in repair)."""
    return "finalize" if state.get("plausible") or not _running(state) else "repair"
