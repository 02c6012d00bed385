"""Errors of the fix workflow; each carries a message fit to show a user."""

from __future__ import annotations


class FixbotError(Exception):
    """Base class: str(error) is a one-line message for the user, never a traceback."""


class ConfigError(FixbotError):
    """A setting is missing or has a bad value."""


class InvalidRequest(FixbotError):
    """A fix request failed validation before any work was done."""


class CloneError(FixbotError):
    """The repository could not be cloned or copied within the limits."""


class WorkflowError(FixbotError):
    """The repair graph hit a state it cannot continue from."""


class CheckpointUnavailable(FixbotError):
    """The checkpoint database (CHECKPOINT_URL) cannot be reached: an outage to wait out, not a bad task."""
