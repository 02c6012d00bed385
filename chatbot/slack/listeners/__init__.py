"""Bolt listeners, one module per kind of request; each has `register(app, deps)`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from chatbot.slack.context import SlackDeps
from chatbot.slack.listeners import actions, commands, events, home, views


def register_all(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach every listener to the app."""
    for module in (commands, actions, views, events, home):
        module.register(app, deps)
