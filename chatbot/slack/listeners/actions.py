"""Buttons: Approve, Reject, Reject with feedback (opens a modal), Retry with this (thread feedback), Retry.

Every click is acked at once (see chatbot.slack.listeners.handoff). The outcome reaches the
thread through the notifier (the decision event replaces the buttons for everyone, whichever
replica or face took the decision); a click that changes nothing is answered only to the person
who clicked, with the reason.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from agent.tasks.exceptions import NotAuthorized, TaskNotFound
from agent.tasks.policy import check_participant
from chatbot.slack.blocks import (
    APPROVE,
    REJECT,
    REJECT_FEEDBACK,
    RETRY_TASK,
    RETRY_WITH_FEEDBACK,
    refusal_text,
    render_text,
    user_ref,
)
from chatbot.slack.context import SlackDeps
from chatbot.slack.decisions import decide
from chatbot.slack.listeners import handoff
from chatbot.slack.submit import start_retry
from chatbot.slack.surfaces import render_feedback_modal
from chatbot.slack.text import mrkdwn


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach the button listeners."""

    async def answer(respond: AsyncRespond, text: str) -> None:
        await respond(text=text, blocks=render_text(text), response_type="ephemeral", replace_original=False)

    def who(body: dict[str, Any]) -> tuple[str, str, str, str | None]:
        user = (body.get("user") or {}).get("id", "")
        team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", "")
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
        message_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
        return user, team, channel, message_ts

    async def refused(respond: AsyncRespond, user: str, team: str, channel: str) -> bool:
        """Answer a person this workspace, channel or user list keeps out; True when they were refused."""
        refusal = deps.access.refusal(team=team, channel=channel, user=user)
        if refusal:
            await answer(respond, f":no_entry: {refusal}")
        return bool(refusal)

    async def participant_task(respond: AsyncRespond, task_id: str, user: str, what: str) -> dict[str, Any] | None:
        """The task, when `user` is its requester or an approver; else None after telling them why."""
        try:
            task = await deps.call(deps.store.get, task_id)
            check_participant(task, user, approvers=await deps.access.approvers(), what=what)
        except (TaskNotFound, NotAuthorized) as exc:
            await answer(respond, f":no_entry: {mrkdwn(str(exc), 500)}")
            return None
        return task

    async def on_decision(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        user, team, channel, message_ts = who(body)
        if await refused(respond, user, team, channel):
            return
        why = await decide(deps, str(action.get("value") or ""), user=user,
                           action="approve" if action["action_id"] == APPROVE else "reject", message_ts=message_ts)
        if why:
            await answer(respond, why)

    async def on_reject_feedback(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond,
                                 client: AsyncWebClient) -> None:
        user, team, channel, message_ts = who(body)
        if await refused(respond, user, team, channel):
            return
        task = await participant_task(respond, str(action.get("value") or ""), user, "reject this patch")
        if task is None:
            return
        if task["status"] != "awaiting_approval":
            await answer(respond, refusal_text(task, "reject"))
            return
        await client.views_open(trigger_id=body["trigger_id"],
                                view=render_feedback_modal(task, channel=channel, message_ts=message_ts or ""))

    async def on_retry_with_feedback(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        user, team, channel, _ = who(body)
        if await refused(respond, user, team, channel):
            return
        offer = await deps.offer(str(action.get("value") or ""))
        if offer is None:
            await answer(respond, "This offer has expired; use *Reject with feedback* on the patch instead.")
            return
        # Dated by the reply it offers: a proposal posted after that reply makes the click stale.
        why = await decide(deps, offer["task_id"], user=user, action="retry", feedback=offer["feedback"],
                           message_ts=offer["reply_ts"])
        if why:
            await answer(respond, why)
            return
        done = f":leftwards_arrow_with_hook: Sent back with this feedback by {user_ref(user)}."
        await respond(text=done, blocks=render_text(done), replace_original=True)

    async def on_retry(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond,
                       client: AsyncWebClient) -> None:
        user, team, channel, _ = who(body)
        if await refused(respond, user, team, channel):
            return
        old = await participant_task(respond, str(action.get("value") or ""), user, "retry this task")
        if old is None:
            return

        async def notify(text: str) -> None:
            await answer(respond, text)

        await start_retry(deps, client, notify, old, user=user, team=team)

    for action_id, handler in ((APPROVE, on_decision), (REJECT, on_decision), (REJECT_FEEDBACK, on_reject_feedback),
                               (RETRY_WITH_FEEDBACK, on_retry_with_feedback), (RETRY_TASK, on_retry)):
        app.action(action_id)(handoff(app, deps, handler))
