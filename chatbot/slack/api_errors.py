"""What a failed Slack Web API call means: its error code, and whether trying again later can succeed."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")  # the bot cannot post in this channel


def error_code(exc: SlackApiError) -> str:
    """Slack's error code of a failed call ("not_in_channel", "ratelimited", ...), or the exception's text."""
    response = exc.response
    code = response.get("error") if response is not None else None
    return str(code or exc)
