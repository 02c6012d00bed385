"""The Bolt app: `build_web_client(settings)` and `build_bolt_app(settings, deps)`.

Request verification (the signature and Slack's 5-minute replay window, slack_sdk's
SignatureVerifier) is on for every HTTP request and cannot be turned off here; Socket Mode
requests arrive over the app's own authenticated WebSocket instead. The Web API client points at
SLACK_API_URL and retries 429 answers after Retry-After (AsyncRateLimitErrorRetryHandler, which
slack_sdk does not install by default).
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from agent.settings import Settings
from chatbot.exceptions import SlackSetupError
from chatbot.slack.context import SlackDeps
from chatbot.slack.listeners import register_all

log = logging.getLogger("chatbot.slack")


def build_web_client(settings: Settings) -> AsyncWebClient:
    """The Slack Web API client: bot token, SLACK_API_URL, rate-limit retries after Retry-After."""
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        raise SlackSetupError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) of the app")
    base = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base, timeout=30)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=settings.slack_rate_limit_retries))
    return client


def build_bolt_app(settings: Settings, deps: SlackDeps, *, client: AsyncWebClient | None = None,
                   socket_mode: bool = False) -> AsyncApp:
    """The Slack app with every listener; HTTP mode needs SLACK_SIGNING_SECRET (Socket Mode does not)."""
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret and not socket_mode:
        raise SlackSetupError("SLACK_SIGNING_SECRET is not set: copy the Signing Secret of the app "
                              "(Basic Information > App Credentials), or use `fixbot serve --socket-mode`")
    client = client or build_web_client(settings)
    deps.access.client = client
    app = AsyncApp(client=client, signing_secret=secret or None, request_verification_enabled=True,
                   process_before_response=True, logger=log, name="fixbot")
    register_all(app, deps)
    return app
