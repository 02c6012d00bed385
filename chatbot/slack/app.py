"""The Bolt app: `build_bolt_app(settings, deps)`, with its Web API client configured for fixbot.

Request verification (the signature and Slack's 5-minute replay window, slack_sdk's
SignatureVerifier) is on for every HTTP request and cannot be turned off here; Socket Mode
requests arrive over the app's own authenticated WebSocket instead. The app is given the bot token
only (never a client as well: Bolt then reads SLACK_BOT_TOKEN from the environment and warns that
it is unused), and its client is then pointed at SLACK_API_URL and retries 429 answers after
Retry-After (AsyncRateLimitErrorRetryHandler, which slack_sdk does not install by default). Its
HTTP session is opened and closed with the server (chatbot.server).
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

WEB_API_TIMEOUT = 30  # seconds per Web API call
log = logging.getLogger("chatbot.slack")


def bot_token(settings: Settings) -> str:
    """SLACK_BOT_TOKEN, or SlackSetupError saying where to find it."""
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        raise SlackSetupError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) of the app")
    return settings.slack_bot_token.get_secret_value()


def configure_web_client(client: AsyncWebClient, settings: Settings) -> AsyncWebClient:
    """Point `client` at SLACK_API_URL, with fixbot's timeout and SLACK_RATE_LIMIT_RETRIES retries after a 429."""
    client.base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    client.timeout = WEB_API_TIMEOUT
    if not any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=settings.slack_rate_limit_retries))
    return client


def build_bolt_app(settings: Settings, deps: SlackDeps, *, socket_mode: bool = False) -> AsyncApp:
    """The Slack app with every listener; HTTP mode needs SLACK_SIGNING_SECRET (Socket Mode does not).

    Its client (`app.client`) is the one every part of the bot uses (listeners, notifier, Socket Mode).
    """
    token = bot_token(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret and not socket_mode:
        raise SlackSetupError("SLACK_SIGNING_SECRET is not set: copy the Signing Secret of the app "
                              "(Basic Information > App Credentials), or use `fixbot serve --socket-mode`")
    app = AsyncApp(token=token, signing_secret=secret or None, request_verification_enabled=True,
                   process_before_response=True, logger=log, name="fixbot")
    configure_web_client(app.client, settings)
    deps.access.client = app.client
    register_all(app, deps)
    return app
