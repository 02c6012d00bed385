"""Errors of the task layer; str(error) is one line fit to show the person who asked."""

from __future__ import annotations

from agent.exceptions import FixbotError


class TaskError(FixbotError):
    """Base class of task-store and task-service errors."""


class TaskNotFound(TaskError):
    """No task has this id (never existed, or its record expired after the retention)."""


class IllegalTransition(TaskError):
    """The task's status does not allow what was asked (approve a failed task, cancel a published one)."""


class DuplicateDecision(IllegalTransition):
    """The same decision was already taken on this task (a double click, a retried request)."""


class NotAuthorized(TaskError):
    """The person may not take this decision on this task (see agent.tasks.policy)."""


class StoreUnavailable(TaskError):
    """Redis cannot be reached."""


class Superseded(TaskError):
    """This job no longer owns the task (it was handed to another job, or ended): it stops without writing."""


class IdempotencyConflict(TaskError):
    """The idempotency key was already used for a different request."""
