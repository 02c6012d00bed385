"""Events: @mentions (status, list, cancel, retry, help), thread replies offered as feedback, :x: to cancel.

Slack redelivers an event it thinks was lost (X-Slack-Retry-Num; in Socket Mode retry_attempt),
with the same event_id: each is handled once (a SET NX marker per event id, see SlackDeps.first_time).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from agent.tasks.exceptions import NotAuthorized, TaskNotFound
from agent.tasks.policy import check_participant
from agent.tasks.service import MAX_FEEDBACK
from agent.tasks.store import is_task_id
from chatbot.slack.blocks import (
    render_feedback_offer,
    render_help,
    render_task_list,
    render_task_summary,
    render_text,
)
from chatbot.slack.context import SlackDeps
from chatbot.slack.decisions import decide
from chatbot.slack.fix_command import message_text
from chatbot.slack.listeners import handoff
from chatbot.slack.submit import start_retry
from chatbot.slack.text import code_span, line, mrkdwn

MENTION_VERBS = ["status", "list", "cancel", "retry", "help"]  # what `@fixbot <verb>` understands
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
CANCEL_REACTIONS = ("x", "heavy_multiplication_x", "negative_squared_cross_mark")


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach the event listeners."""

    async def on_mention(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        if not await deps.first_time(f"event:{body.get('event_id')}"):
            return
        team, channel, user = body.get("team_id", ""), event.get("channel", ""), event.get("user", "")
        thread_ts = event.get("thread_ts")
        reply_ts = thread_ts or event.get("ts")

        async def say(text: str | None = None, blocks: list[Any] | None = None) -> None:
            await client.chat_postMessage(channel=channel, thread_ts=reply_ts, text=text or "fixbot",
                                          blocks=blocks or render_text(text or ""), unfurl_links=False)

        async def whisper(text: str) -> None:
            await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text,
                                            blocks=render_text(text))

        refusal = deps.access.refusal(team=team, channel=channel, user=user)
        if refusal:
            await whisper(f":no_entry: {refusal}")
            return
        words = _MENTION.sub(" ", event.get("text") or "").split()
        verb = words[0].lower() if words else "help"
        arg = words[1] if len(words) > 1 else None
        now = deps.now()
        if verb in ("status", "list") and not (verb == "status" and (arg or thread_ts)):
            tasks, _ = await deps.call(deps.store.recent, channel=channel, limit=10)
            await say("Recent fixbot tasks", render_task_list(tasks, title="Recent tasks in this channel",
                                                              links={t["id"]: deps.link(t) or "" for t in tasks},
                                                              now=now))
            return
        if verb not in ("status", "cancel", "retry"):
            known = verb == "help" or not words
            near = difflib.get_close_matches(verb, MENTION_VERBS, n=1)
            intro = None if known else f"I don't know {code_span(verb, 40)}" + (
                f" (did you mean `{near[0]}`?)" if near else "")
            await say("How to use fixbot", render_help(intro))
            return
        task = await _find_task(deps, channel, arg, thread_ts)
        if task is None:
            await whisper(f"Which task? {'No task ' + line(arg, 40) + ' in this channel. ' if arg else ''}"
                          f"Mention me in the task's thread, or give its id: `@fixbot {verb} fx-…`")
            return
        if verb == "status":
            await deps.with_progress_blocks(lambda mode: say(f"Task {task['id']}", render_task_summary(
                task, link=deps.link(task), now=now, mode=mode)))
        elif verb == "cancel":
            why = await decide(deps, task["id"], user=user, action="cancel")
            if why:
                await whisper(why)
        else:
            try:
                check_participant(task, user, approvers=await deps.access.approvers(), what="retry this task")
            except NotAuthorized as exc:
                await whisper(f":no_entry: {mrkdwn(str(exc), 500)}")
                return
            await start_retry(deps, client, whisper, task, user=user, team=team)

    async def on_message(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient,
                         context: AsyncBoltContext) -> None:
        thread_ts, text, user = event.get("thread_ts"), event.get("text") or "", event.get("user") or ""
        if (event.get("subtype") or event.get("bot_id") or not thread_ts or thread_ts == event.get("ts") or not user
                or (context.bot_user_id and f"<@{context.bot_user_id}" in text) or not text.strip()):
            return  # only people's plain replies inside a thread; mentions are handled as app_mention
        channel = event.get("channel", "")
        task = await deps.task_in_thread(channel, thread_ts)
        if task is None or task["status"] != "awaiting_approval":
            return
        if not await deps.first_time(f"event:{body.get('event_id')}"):
            return
        if deps.access.refusal(team=body.get("team_id"), channel=channel, user=user):
            return
        try:
            check_participant(task, user, approvers=await deps.access.approvers(), what="give feedback")
        except NotAuthorized:
            return  # a bystander's comment: not offered as feedback
        feedback = message_text(text).strip()[:MAX_FEEDBACK]  # as its author read it: no &lt; or <@U...> markup
        # The reply's ts dates the offer: a proposal posted after it makes the offer stale (see decide()).
        offer_id = await deps.save_offer(task["id"], feedback, reply_ts=str(event.get("ts") or ""), user=user)
        # Only its author sees the offer: people discussing a patch are not interrupted by a bot after each reply.
        await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts,
                                        text="Retry with this feedback?",
                                        blocks=render_feedback_offer(task, feedback, offer_id))

    async def on_reaction(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        item = event.get("item") or {}
        if event.get("reaction") not in CANCEL_REACTIONS or item.get("type") != "message":
            return
        channel, user = item.get("channel", ""), event.get("user", "")
        task = await deps.task_in_thread(channel, item.get("ts"))
        if task is None or not await deps.first_time(f"event:{body.get('event_id')}"):
            return
        if task["status"] not in ("queued", "running", "awaiting_approval", "approved"):
            return  # finished: a reaction is not worth a message
        refusal = deps.access.refusal(team=body.get("team_id"), channel=channel, user=user)
        why = f":no_entry: {refusal}" if refusal else await decide(deps, task["id"], user=user, action="cancel")
        if why:
            await client.chat_postEphemeral(channel=channel, user=user, text=why, blocks=render_text(why))


    app.event("app_mention")(handoff(app, deps, on_mention))
    # Not addressed to the bot (every thread reply, every reaction): failures are logged, never answered.
    app.event("message")(handoff(app, deps, on_message, quiet=True))
    app.event("reaction_added")(handoff(app, deps, on_reaction, quiet=True))

async def _find_task(deps: SlackDeps, channel: str, arg: str | None, thread_ts: str | None) -> dict[str, Any] | None:
    """The task named by id (only if it belongs to this channel), else the task of the current thread."""
    if arg:
        if not is_task_id(arg):
            return None
        try:
            task = await deps.call(deps.store.get, arg)
        except TaskNotFound:
            return None
        return task if (task.get("origin") or {}).get("channel") == channel else None
    return await deps.task_in_thread(channel, thread_ts)
