"""Starting a task from Slack (from /fix, the modal, a Retry button or `@fixbot retry`).

Order: validate (a clear message, nothing posted) → the same request already made (its idempotency
key: a second click on Retry) is answered without posting anything → post the status message (the thread parent,
or a reply in the old thread for a retry) → TaskService.submit with that message as the task's
origin, so the notifier has somewhere to write from the first event on → remember the thread.
A bot that is not in the channel gets `not_in_channel` from chat.postMessage: the user is told
to `/invite @fixbot` and no task is created.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.exceptions import FixbotError, InvalidRequest
from agent.request import DEFAULT_TEST_COMMAND, FixRequest
from agent.tasks.states import TERMINAL
from chatbot.slack.api_errors import NOT_IN_CHANNEL, error_code
from chatbot.slack.blocks import code_span, render_text, repo_name, user_ref
from chatbot.slack.context import SlackDeps
from chatbot.slack.fix_command import FixCommand
from chatbot.slack.text import line, mrkdwn
from chatbot.slack.validation import validate_chat_request

Notify = Callable[[str], Awaitable[Any]]  # shows one ephemeral mrkdwn line to the user who asked
log = logging.getLogger(__name__)


def request_from(command: FixCommand, defaults: dict[str, str]) -> tuple[FixRequest, str | None]:
    """The FixRequest of a parsed /fix (channel defaults fill what was not given) and the engine, if any.

    Raises InvalidRequest when no repository is known.
    """
    repo = command.repo or defaults.get("repo")
    if not repo:
        raise InvalidRequest("which repository? Start with its URL (`/fix https://github.com/acme/shop the "
                             "total is wrong`) or set a channel default: `/fix config repo=<url>`")
    test = command.test or defaults.get("test") or DEFAULT_TEST_COMMAND
    request = FixRequest(repo=repo, issue=command.issue or "", test_command=test,
                         branch=command.branch or defaults.get("branch") or None,
                         setup_command=command.setup or defaults.get("setup") or None)
    return request, command.engine or defaults.get("engine") or None


async def start_fix(deps: SlackDeps, client: AsyncWebClient, notify: Notify, *, request: FixRequest,
                    engine: str | None, team: str, channel: str, user: str, idempotency_key: str,
                    response_url: str | None = None, thread_ts: str | None = None,
                    retry_of: str | None = None, seen_before: bool = True) -> dict[str, Any] | None:
    """Validate, post the status message, submit; returns the task record, or None after telling the user why.

    `seen_before` False skips asking the store for the idempotency key first (a slash command, whose
    redeliveries are already answered once by its trigger id: one Redis call less per /fix).
    """
    try:
        request = await deps.call(validate_chat_request, request, deps.settings)
    except InvalidRequest as exc:
        await notify(f":warning: Cannot start: {mrkdwn(str(exc), 1000)}")
        return None
    existing = await deps.call(deps.store.find_idempotent, idempotency_key) if seen_before else None
    if existing is not None:  # the same request again (a second click on Retry): nothing is posted
        await notify(f"That was already started as `{line(existing['id'], 40)}`.")
        return existing
    repo = code_span(repo_name({"request": request.to_dict()}), 80)
    opening = f":hourglass_flowing_sand: {user_ref(user)} asked me to fix {repo}: {line(request.issue, 300)}"
    try:
        posted = await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=opening,
                                               blocks=render_text(opening), unfurl_links=False)
    except SlackApiError as exc:
        error = error_code(exc)
        if error in NOT_IN_CHANNEL:
            await notify(":wave: I am not in this channel yet. Type `/invite @fixbot` here, then run /fix again.")
        else:
            log.warning("chat.postMessage failed in %s: %s", channel, error)
            await notify(f":warning: Slack refused my message ({mrkdwn(error or 'unknown error', 100)}); "
                         "nothing was started.")
        return None
    ts = str(posted["ts"])
    origin = {"kind": "slack", "team": team, "channel": channel, "user": user, "thread_ts": thread_ts or ts,
              "message_ts": ts, "response_url": response_url}
    try:
        record, created = await deps.call(deps.service.submit, request, origin, engine=engine,
                                          idempotency_key=idempotency_key, retry_of=retry_of)
    except FixbotError as exc:
        text = f":warning: Could not start: {mrkdwn(str(exc), 1000)}"
        await client.chat_update(channel=channel, ts=ts, text=text, blocks=render_text(text))
        return None
    if not created:  # two identical requests racing (both passed the check above): keep the first thread only
        await client.chat_delete(channel=channel, ts=ts)
        await notify(f"That was already started as `{line(record['id'], 40)}`.")
        return record
    await deps.remember_thread(channel, thread_ts or ts, record["id"])
    return record


async def start_retry(deps: SlackDeps, client: AsyncWebClient, notify: Notify, old: dict[str, Any], *,
                      user: str, team: str) -> dict[str, Any] | None:
    """A new task with a finished task's request, reported in the old task's thread (`retry_of` set)."""
    origin = old.get("origin") or {}
    if old.get("status") not in {s.value for s in TERMINAL}:
        await notify(f"Task `{line(old['id'], 40)}` is still {line(old.get('status'), 30)}: "
                     "retry it once it has finished (or cancel it first).")
        return None
    if origin.get("kind") != "slack" or not origin.get("channel"):
        await notify("That task was not started from Slack; retry it where it was started.")
        return None
    return await start_fix(deps, client, notify, request=FixRequest.from_dict(old["request"]),
                           engine=old.get("engine"), team=team, channel=origin["channel"], user=user,
                           thread_ts=origin.get("thread_ts"), idempotency_key=f"retry:{old['id']}:{user}",
                           retry_of=old["id"])
