"""Logging for `fixbot serve`: one line per record on stderr, configured secrets never printed.

slack_sdk already writes "(redacted)" for the Authorization header; this filter is the backstop
for anything else that might carry a token (an exception text, a URL, a payload echoed back).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from agent.settings import Settings

REDACTED = "[redacted]"
_BOLT_BAD_SIGNATURE = "Invalid request signature detected"  # slack_bolt's RequestVerification middleware


class RedactSecrets(logging.Filter):
    """Replaces every configured secret (tokens, signing secret, API keys) in a record's text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and exception text) without the secrets; never drops a record."""
        message = record.getMessage()
        if message.startswith(_BOLT_BAD_SIGNATURE) and ", body: " in message:
            # Bolt logs the whole body of a request whose signature failed: for a genuine but stale request that
            # is Slack's verification token and a live response_url. Keep the line, drop the body.
            message = message.split(", body: ", 1)[0] + ", body: [not logged])"
            record.msg, record.args = message, None
        text = record.exc_text or ""
        if record.exc_info and not text:
            text = logging.Formatter().formatException(record.exc_info)
        if any(s in message or s in text for s in self.secrets):
            for secret in self.secrets:
                message, text = message.replace(secret, REDACTED), text.replace(secret, REDACTED)
            record.msg, record.args = message, None
            record.exc_info, record.exc_text = None, text or None
        return True


def secrets_of(settings: Settings) -> list[str]:
    """The secret values configured in `settings`."""
    values = [settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
              settings.openai_api_key, getattr(settings, "checkpoint_url", None)]
    return [v.get_secret_value() for v in values if v is not None]


def setup_logging(settings: Settings, level: int = logging.INFO) -> RedactSecrets:
    """Send the root logger to stderr through the redaction filter; returns the filter."""
    redact = RedactSecrets(secrets_of(settings))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redact)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return redact
