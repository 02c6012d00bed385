"""The task's status and the one table of allowed transitions (every face goes through the store).

queued → running → awaiting_approval → approved → publishing → published; a run ends early as
not_fixed, no_failure, failed (with a reason) or timed_out; people reject or cancel. Retry with
feedback: awaiting_approval → queued (a resume job is enqueued) → running → ... A crashed worker's
task goes running → queued once (retried) or → failed.
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """Where a task is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    REJECTED = "rejected"
    NOT_FIXED = "not_fixed"
    NO_FAILURE = "no_failure"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


S = TaskStatus

TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED, S.FAILED}),
    S.RUNNING: frozenset({S.AWAITING_APPROVAL, S.NOT_FIXED, S.NO_FAILURE, S.FAILED, S.CANCELLED, S.TIMED_OUT,
                          S.QUEUED}),
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.QUEUED, S.CANCELLED}),
    S.APPROVED: frozenset({S.PUBLISHING, S.FAILED, S.CANCELLED}),
    S.PUBLISHING: frozenset({S.PUBLISHED, S.FAILED, S.APPROVED}),
    S.PUBLISHED: frozenset(),
    S.REJECTED: frozenset(),
    S.NOT_FIXED: frozenset(),
    S.NO_FAILURE: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.TIMED_OUT: frozenset(),
}

TERMINAL: frozenset[TaskStatus] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
ACTIVE: frozenset[TaskStatus] = frozenset({S.RUNNING, S.PUBLISHING})  # a worker holds the task now
WAITING: frozenset[TaskStatus] = frozenset({S.QUEUED, S.APPROVED})  # a job is in the queue for it


def can_transition(current: str, to: str) -> bool:
    """Whether the table allows `current` → `to` (unknown names are never allowed)."""
    try:
        return TaskStatus(to) in TRANSITIONS[TaskStatus(current)]
    except ValueError:
        return False
