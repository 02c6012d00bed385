"""What a failed Slack Web API call means: its error code, and whether trying again later can succeed."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError

from agent.tasks.exceptions import StoreUnavailable

NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")  # the bot cannot post in this channel
# Slack's own trouble (docs.slack.dev, "Web API" errors common to all methods) and rate limits that outlasted
# the client's retries: the same call can succeed later. Anything else (invalid_blocks, msg_too_long,
# message_not_found, not_in_channel...) fails the same way every time.
TRANSIENT_CODES = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                             "request_timeout"})


def error_code(exc: SlackApiError) -> str:
    """Slack's error code of a failed call ("not_in_channel", "ratelimited", ...), or the exception's text."""
    response = exc.response
    code = response.get("error") if response is not None else None
    return str(code or exc)


def is_transient(exc: BaseException) -> bool:
    """Whether the failed call (Slack or Redis) may succeed if tried again later.

    True for HTTP 429 and 5xx answers, Slack's transient error codes, network errors and timeouts, and an
    unreachable task store; False for every answer that says the call itself is wrong.
    """
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200) if exc.response is not None else 200
        return status == 429 or status >= 500 or error_code(exc) in TRANSIENT_CODES
    return isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError | StoreUnavailable)
