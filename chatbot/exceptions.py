"""Errors of the Slack and HTTP faces; each carries a message fit to show the user who caused it."""

from __future__ import annotations

from agent.exceptions import FixbotError, InvalidRequest


class ChatbotError(FixbotError):
    """Base class of the faces' errors: str(error) is one line for the user."""


class CommandSyntaxError(ChatbotError):
    """The text of /fix (or of an @mention) could not be read; the message says what to write."""


class InvalidField(ChatbotError, InvalidRequest):
    """One field of a fix request (`field`: repo, issue, test, branch or setup) failed validation."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(ChatbotError):
    """This workspace, channel or user may not use fixbot (SLACK_ALLOWED_*)."""


class ServeError(ChatbotError):
    """`fixbot serve` cannot listen on its address and port (taken by another process, or not this host's)."""


class SlackSetupError(ChatbotError):
    """Slack settings needed to start are missing or inconsistent (token, signing secret, app token)."""
