"""Slack listeners: one module per kind of request, each with `register(app, deps)`.

Every listener acks at once and hands its work to a task of its own (`handoff`): the app runs with
process_before_response=True, so the HTTP response (or the Socket Mode ack) leaves as soon as the
listener returns, without bolt's 10 ms ack polling. This is bolt's lazy-listener idea without the
deep copy of the request it makes per lazy function (half the CPU of an ack under load, see
bench/slack.py), and the tasks are tracked so a stopping server finishes them (SlackDeps.drain).

The work after the ack never fails silently: Redis unreachable (StoreUnavailable) or a Slack call
refused (SlackApiError) is answered to the person in one ephemeral line, and any other error goes to
the app's error handler (`app.error`, bolt's default logs it) and is answered the same way. Listeners
of requests not addressed to the bot (every thread reply, every reaction) only log.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.models.views import View

from agent.tasks.exceptions import StoreUnavailable
from chatbot.slack.api_errors import error_code
from chatbot.slack.blocks import render_text
from chatbot.slack.context import SlackDeps
from chatbot.slack.text import mrkdwn

STORE_DOWN = (":warning: fixbot cannot reach its task store (Redis) right now, so nothing was done: try again in "
              "a minute. (Admins: the bot's log and /healthz say more.)")
FAILED = ":warning: Something went wrong on fixbot's side, so this may not have been done: try again, or tell an admin."
log = logging.getLogger(__name__)


def handoff(app: AsyncApp, deps: SlackDeps, work: Callable[..., Coroutine[Any, Any, None]], *,
            quiet: bool = False) -> Callable[[AsyncArgs], Awaitable[None]]:
    """A listener that acks, then runs `work` (its parameters named as bolt's arguments: body, client...).

    Errors of `work` are answered to the person (one ephemeral line) unless `quiet`; unexpected ones also go
    to the app's error handler.
    """
    names = list(inspect.signature(work).parameters)

    async def listener(args: AsyncArgs) -> None:
        await args.ack()
        deps.spawn(guarded(app, args, work(**{name: getattr(args, name) for name in names}), name=work.__name__,
                           quiet=quiet), name=work.__name__)

    listener.__name__ = f"{work.__name__}_listener"
    return listener


async def guarded(app: AsyncApp, args: AsyncArgs, work: Coroutine[Any, Any, None], *, name: str,
                  quiet: bool = False) -> None:
    """Run a listener's work after its ack: Redis unreachable or a Slack call refused is answered to the person
    in one line (unless `quiet`); any other error goes to the app's error handler and is answered too."""
    try:
        await work
    except StoreUnavailable as exc:
        log.warning("%s: %s", name, exc)
        if not quiet:
            await tell(args, STORE_DOWN)
    except SlackApiError as exc:
        log.warning("%s: Slack refused a call: %s", name, error_code(exc))
        if not quiet:
            await tell(args, f":warning: Slack refused one of my calls ({mrkdwn(error_code(exc), 80)}), so this "
                             "may not have been done: try again in a minute.")
    except Exception as exc:  # noqa: BLE001 - a bug: to the app's error handler, and the person is told
        await app.listener_runner.listener_error_handler.handle(error=exc, request=args.request, response=None)
        if not quiet:
            await tell(args, FAILED)


async def tell(args: AsyncArgs, text: str) -> None:
    """One line to the person behind a request, only them: through the response URL when the request has one,
    else an ephemeral message where they are (a direct message as the last resort); never raises."""
    body = args.body or {}
    event = body.get("event") or {}
    user = event.get("user") or (body.get("user") or {}).get("id") or body.get("user_id")
    try:
        if args.respond is not None and args.respond.response_url:
            await args.respond(text=text, blocks=render_text(text), response_type="ephemeral", replace_original=False)
        elif event.get("type") == "app_home_opened" and user:
            await args.client.views_publish(user_id=user, view=View(type="home", blocks=[SectionBlock(text=text)]))
        elif user:
            channel = (event.get("channel") or (event.get("item") or {}).get("channel")
                       or (body.get("channel") or {}).get("id") or _view_channel(body))
            if channel:
                await args.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=render_text(text),
                                                     thread_ts=event.get("thread_ts"))
            else:
                await args.client.chat_postMessage(channel=user, text=text, blocks=render_text(text))
    except Exception as exc:  # noqa: BLE001 - telling is best effort; the cause is logged already
        log.warning("could not tell %s why their request failed: %s", user, type(exc).__name__)


def _view_channel(body: dict[str, Any]) -> str | None:
    """The channel a modal was opened from (its private_metadata), if it says."""
    try:
        meta = json.loads((body.get("view") or {}).get("private_metadata") or "{}")
    except ValueError:
        return None
    return str(meta.get("channel") or "") or None if isinstance(meta, dict) else None


def register_all(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach every listener to the app."""
    from chatbot.slack.listeners import actions, commands, events, home, views

    for module in (commands, actions, views, events, home):
        module.register(app, deps)
