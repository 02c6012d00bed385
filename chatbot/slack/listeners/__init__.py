"""Bolt listeners, one module per kind of request; each has `register(app, deps)`.

Every listener acks at once and hands its work to a task of its own (`handoff`): the app runs with
process_before_response=True, so the HTTP response (or the Socket Mode ack) leaves as soon as the
listener returns, without bolt's 10 ms ack polling. This is bolt's lazy-listener idea without the
deep copy of the request it makes per lazy function (half the CPU of an ack under load, see
bench/slack.py), and the tasks are tracked so a stopping server finishes them (SlackDeps.drain).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs

from chatbot.slack.context import SlackDeps


def handoff(deps: SlackDeps, work: Callable[..., Coroutine[Any, Any, None]]) -> Callable[[AsyncArgs], Awaitable[None]]:
    """A listener that acks, then runs `work` (its parameters named as bolt's arguments: body, client...)."""
    names = list(inspect.signature(work).parameters)

    async def listener(args: AsyncArgs) -> None:
        await args.ack()
        deps.spawn(work(**{name: getattr(args, name) for name in names}), name=work.__name__)

    listener.__name__ = f"{work.__name__}_listener"
    return listener


def register_all(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach every listener to the app."""
    from chatbot.slack.listeners import actions, commands, events, home, views

    for module in (commands, actions, views, events, home):
        module.register(app, deps)

