"""Errors of the LLM client; str(error) is one line fit to show a user (never a key, never a traceback)."""

from __future__ import annotations

from agent.exceptions import FixbotError


class LLMError(FixbotError):
    """The language model could not give a usable answer."""


class LLMUnavailable(LLMError):
    """The LLM endpoint cannot be reached or keeps failing after every retry."""


class BudgetExhausted(LLMError):
    """The task's token budget is spent; no further model call is made."""


class PromptError(LLMError):
    """A prompt template is missing or was rendered with a missing or unknown variable."""
